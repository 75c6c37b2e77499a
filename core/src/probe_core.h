// The portable heart of the probe thread: schedule, send, match replies, time out, count.
// Owned and called by exactly one thread (ProbeLoop's); no locks, no allocation per probe in
// steady state (apply() and setInterfaces() allocate, they run on configuration changes).
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "reachmon/core/clock.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/path.h"
#include "reachmon/core/snapshot.h"
#include "reachmon/core/stats.h"
#include "transport.h"

namespace reachmon::core {

class ProbeCore final : public ReplySink {
 public:
  // How many recent probes per path are remembered to recognise late and duplicate replies.
  static constexpr std::size_t kHistory = 8;

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
  // Times out expired probes, then sends what is due (respecting the minimum send gap).
  void runDue();

  // ReplySink: validates and counts what the engine received.
  void onReply(const EchoReply& reply) override;
  void onError(Family family, const IcmpErrorReport& report) override;

 private:
  enum class ProbeState : std::uint8_t { kFree, kPending, kReplied, kTimedOut, kError };
  struct Probe {
    std::uint16_t sequence = 0;
    ProbeState state = ProbeState::kFree;
    std::uint64_t nonce = 0;
    TimePoint sent{};
    std::int64_t sent_realtime_ns = 0;
  };
  struct Slot {
    std::shared_ptr<const PathSpec> spec;
    std::shared_ptr<PathStats> stats;
    std::uint32_t source = 0;  // index into sources_
    // Bumped when the slot is freed: the timeouts and sequence numbers of the path that held
    // it become stale.
    std::uint32_t generation = 0;
    // Bumped when the path is rescheduled (or freed): its older send entries become stale.
    std::uint32_t schedule_version = 0;
    bool active = false;
    TimePoint next_send{};
    std::array<Probe, kHistory> history{};
    std::uint8_t history_pos = 0;
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
    std::uint32_t slot;
    std::uint32_t generation;
    std::uint16_t sequence;
    bool operator>(const TimeoutEntry& o) const { return when > o.when; }
  };
  struct SequenceOwner {
    std::uint32_t slot = UINT32_MAX;
    std::uint32_t generation = 0;
  };
  // Echo sequence numbers are allocated per address family: the kernel's ICMP socket of each
  // family (and Windows' ICMP handle) is shared by every path of that family.
  struct FamilySequences {
    std::vector<SequenceOwner> owners = std::vector<SequenceOwner>(65536);
    std::uint16_t next = 0;
  };

  void sendProbe(std::uint32_t slot_index, TimePoint scheduled, TimePoint now);
  void finishTimeouts(TimePoint now);
  Probe* findProbe(Family family, std::uint16_t sequence, std::uint32_t& slot_out);
  bool answers(const EchoReply& reply, const Slot& slot, const Probe& probe) const;
  void countReply(const EchoReply& reply, Slot& slot, Probe& probe);
  std::uint32_t allocateSlot();
  void freeSlot(std::uint32_t index);
  void schedule(std::uint32_t slot, TimePoint when);
  void publish();

  const Clock& clock_;
  Transport& transport_;
  MonitorStats& monitor_stats_;
  SnapshotBox& snapshots_;
  std::mt19937_64 rng_;  // per-probe nonces
  Duration min_send_gap_{50'000};
  TimePoint last_send_{std::numeric_limits<std::int64_t>::min() / 2};

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::vector<Source> sources_;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<SendEntry> sends_;        // min-heap by time
  std::vector<TimeoutEntry> timeouts_;  // min-heap by deadline
  std::array<FamilySequences, 2> sequences_;
  std::vector<std::uint8_t> payload_;
};

}  // namespace reachmon::core
