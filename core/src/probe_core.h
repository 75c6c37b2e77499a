// The portable heart of the probe thread: schedule, send, match replies, time out, count.
// Owned and called by exactly one thread (ProbeLoop's); no locks, no allocation per probe in
// steady state (apply() and setInterfaces() allocate, they run on configuration changes).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "reachmon/core/clock.h"
#include "reachmon/core/history.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/path.h"
#include "reachmon/core/snapshot.h"
#include "reachmon/core/stats.h"
#include "transport.h"

namespace reachmon::core {

class ProbeCore final : public ReplySink {
 public:
  // Echo sequence numbers per address family: the ICMP socket of each family (Windows: its
  // ICMP handle) and so its echo identifier are shared by every path of that family.
  static constexpr std::size_t kSequences = 65536;

  // Sends through `transport`, counts into `monitor_stats` and the paths' own stats, and
  // publishes the path list into `snapshots`; all must outlive the core.
  ProbeCore(const Clock& clock, Transport& transport, MonitorStats& monitor_stats,
            SnapshotBox& snapshots, std::uint64_t seed);

  // Replaces the path set. Paths whose (source, target) names survive keep their counters and
  // their place in the schedule; new paths start spread evenly over their interval.
  void apply(PathSet set, Duration min_send_gap);
  // New view of the host's interfaces: source addresses are picked again.
  void setInterfaces(std::vector<InterfaceInfo> interfaces);

  // When runDue() next has work; TimePoint::max() when idle.
  TimePoint nextWake() const;
  // True when a send is due and waits only for the minimum send gap.
  bool paced() const;
  // Times out expired probes, then sends what is due, as one batch (Transport::flush). The
  // minimum send gap bounds the rate: one probe per gap on average, with credit for at most
  // `burst_window` and one gap unused, so a burst never exceeds burst_window / gap + 1 probes.
  // Returns how many probes it sent.
  // Sends due within `lookahead` from now go too (early by at most that).
  std::size_t runDue(Duration burst_window = kMinBurstWindow, Duration lookahead = Duration{0});
  // The burst window of the current path set: the shortest time ProbeLoop leaves between two
  // runs of runDue() that send, so that a wake-up sends several probes; ProbeLoop passes half
  // of it as the lookahead, so a send leaves at most half a window early or late. The time in
  // which about kBurstTarget sends come due (from the paths' intervals), within
  // [kMinBurstWindow, kMaxBurstWindow], and at most a quarter of the shortest interval
  // (docs/design.md, "Batching").
  Duration burstWindow() const { return burst_window_; }
  static constexpr Duration kMinBurstWindow{1'000'000};
  static constexpr Duration kMaxBurstWindow{20'000'000};
  static constexpr std::int64_t kBurstTarget = 10;
  // Probes of `family` waiting for their outcome (for tests and diagnostics).
  std::size_t inFlight(Family family) const;
  // Entries in the send schedule, stale ones included (tests: they must not pile up).
  std::size_t scheduledSends() const { return sends_.size(); }

  // ReplySink: validates and counts what the engine received.
  void onReply(const EchoReply& reply) override;
  void onError(Family family, const IcmpErrorReport& report) override;

 private:
  static constexpr std::uint32_t kNoSlot = UINT32_MAX;
  enum class ProbeState : std::uint8_t { kFree, kPending, kReplied, kTimedOut, kError };
  // A probe in flight, or a finished one until its sequence number is used again: the
  // sequence numbers of a family are handed out in turn, skipping those in flight, so late and
  // duplicate replies are recognised for as long as possible. A pending probe's number is never
  // reused, however long its timeout.
  struct Probe {
    std::uint32_t slot = kNoSlot;
    std::uint32_t generation = 0;  // the slot's generation when sent
    std::uint32_t serial = 0;      // tells this probe from earlier users of the number
    ProbeState state = ProbeState::kFree;
    bool corrupted = false;          // a reply with other data than sent came for it
    std::uint16_t payload_size = 0;  // as sent
    std::uint64_t nonce = 0;
    TimePoint sent{};
    std::int64_t sent_realtime_ns = 0;
  };
  struct FamilyProbes {
    std::vector<Probe> probes;  // kSequences entries from the family's first send on
    std::uint16_t next = 0;
    std::uint32_t serial = 0;
    std::size_t pending = 0;
    bool exhausted = false;  // every number in flight, and that was logged
  };
  struct Slot {
    std::shared_ptr<const PathSpec> spec;
    std::shared_ptr<PathStats> stats;
    std::shared_ptr<PathHistory> history;  // nullptr while history is off
    std::uint32_t source = 0;              // index into sources_
    // Bumped when the slot is freed: the probes of the path that held it become stale.
    std::uint32_t generation = 0;
    // Bumped when the path is rescheduled (or freed): its older send entries become stale.
    std::uint32_t schedule_version = 0;
    bool active = false;
    TimePoint next_send{};
  };
  struct Source {
    SourceSpec spec;
    std::optional<IpAddress> address;
  };
  struct SendEntry {
    TimePoint when;
    std::uint32_t slot;
    std::uint32_t schedule_version;
    bool operator>(const SendEntry& o) const { return when > o.when; }
  };
  struct TimeoutEntry {
    TimePoint when;
    std::uint32_t serial;
    std::uint16_t sequence;
    std::uint8_t family;  // index into families_
    bool operator>(const TimeoutEntry& o) const { return when > o.when; }
  };

  // A request the transport queued: its probe is pending until flushSends() knows its outcome.
  struct QueuedSend {
    std::uint32_t serial;
    std::uint16_t sequence;
    std::uint8_t family;
  };

  void sendProbe(std::uint32_t slot_index, TimePoint scheduled, TimePoint now);
  // Sends what the transport queued and settles each queued probe: sent, or failed.
  void flushSends();
  void countSent(Slot& slot);
  void failProbe(Slot& slot, ErrorReason reason, int os_error);
  // Tells the path's history that a probe ended at `when`, answered in `rtt` or lost.
  static void remember(Slot& slot, TimePoint when, std::optional<Duration> rtt) {
    if (slot.history) slot.history->record(when, rtt);
  }
  void finishTimeouts(TimePoint now);
  std::optional<std::uint16_t> takeSequence(FamilyProbes& family);
  // The live probe of `kind` with this number and the slot it belongs to, or nullptr.
  Probe* findProbe(Family family, std::uint16_t sequence, ProbeKind kind, Slot*& slot_out);
  // The UDP probe an ICMP error is about, when every detail of the error agrees with it.
  Probe* findUdpProbe(Family family, const IcmpErrorReport& report, Slot*& slot_out);
  bool fromPathPeers(const EchoReply& reply, const Slot& slot) const;
  // The payload `probe` was sent with.
  std::span<const std::uint8_t> sentData(const Slot& slot, const Probe& probe) const;
  // True when `data` is the start (or all) of what `probe`, numbered `sequence`, sent.
  bool sentPrefix(std::span<const std::uint8_t> data, const Slot& slot, const Probe& probe,
                  std::uint16_t sequence) const;
  // An answer to `probe` (an echo reply, or a UDP probe's port unreachable from its target):
  // a reply with its RTT, or late, or a duplicate.
  void countAnswer(Slot& slot, Probe& probe, Family family, TimePoint received,
                   std::int64_t realtime_rx_ns, int ttl);
  void countError(Slot& slot, Probe& probe, Family family, ErrorReason reason);
  void onUdpError(Family family, const IcmpErrorReport& report);
  void endProbe(FamilyProbes& family, Probe& probe, ProbeState state);
  std::uint32_t allocateSlot();
  void freeSlot(std::uint32_t index);
  void schedule(std::uint32_t slot, TimePoint when);
  void dropStaleSends();  // rebuilds the send heap without superseded entries, when they pile up
  void publish();

  const Clock& clock_;
  Transport& transport_;
  MonitorStats& monitor_stats_;
  SnapshotBox& snapshots_;
  std::mt19937_64 rng_;  // per-probe nonces
  Duration min_send_gap_{50'000};
  Duration burst_window_{kMinBurstWindow};
  // Sends may leave one per min_send_gap_ after this time (runDue()).
  TimePoint send_credit_{std::numeric_limits<std::int64_t>::min() / 2};

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Source> sources_;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<SendEntry> sends_;        // min-heap by time
  std::vector<TimeoutEntry> timeouts_;  // min-heap by deadline
  std::array<FamilyProbes, 2> families_;
  std::vector<std::uint8_t> payload_;      // ICMP: magic, the latest nonce, the fixed filler
  std::vector<std::uint8_t> udp_payload_;  // UDP: magic, nonce, sequence, the fixed filler
  std::array<QueuedSend, kMaxSendBatch> queued_{};
  std::size_t queued_count_ = 0;
  std::array<SendResult, kMaxSendBatch> send_results_{};
};

}  // namespace reachmon::core
