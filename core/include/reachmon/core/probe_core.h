// The portable heart of the probe thread: schedule, send, match replies, time out, count.
// Owned and called by exactly one thread (the engine's probe loop); no locks, no allocation per
// probe in steady state (apply() and setInterfaces() allocate, they run on configuration changes).
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
#include "reachmon/core/transport.h"

namespace reachmon::core {

class ProbeCore {
 public:
  // How many recent probes per path are remembered to recognise late and duplicate replies.
  static constexpr std::size_t kHistory = 8;

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
  void onReply(const EchoReply& reply);
  void onError(Family family, const IcmpErrorReport& report);

  std::size_t pathCount() const { return active_paths_; }

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
    std::uint32_t life = 0;    // bumped when the slot is freed: stale timeouts/sequences
    std::uint32_t epoch = 0;   // bumped when rescheduled: stale send entries
    bool active = false;
    TimePoint next_send{};
    std::array<Probe, kHistory> history{};
    std::uint8_t history_pos = 0;
  };
  struct Source {
    SourceSpec spec;
    std::optional<IpAddress> address;
  };
  struct TimerEntry {
    TimePoint when;
    std::uint32_t slot;
    std::uint32_t epoch;     // Slot::epoch for sends, Slot::life for timeouts
    std::uint16_t sequence;  // timeouts only
    bool operator>(const TimerEntry& o) const { return when > o.when; }
  };
  struct SeqOwner {
    std::uint32_t slot = UINT32_MAX;
    std::uint32_t life = 0;
  };
  struct Family_ {
    std::vector<SeqOwner> owners = std::vector<SeqOwner>(65536);
    std::uint16_t next_sequence = 0;
  };

  void sendProbe(std::uint32_t slot_index, TimePoint scheduled, TimePoint now);
  void finishTimeouts(TimePoint now);
  Probe* findProbe(Family family, std::uint16_t sequence, std::uint32_t& slot_out);
  std::uint32_t allocateSlot();
  void schedule(std::uint32_t slot, TimePoint when);
  void publish();
  std::uint64_t nextNonce();

  const Clock& clock_;
  Transport& transport_;
  MonitorStats& monitor_stats_;
  SnapshotBox& snapshots_;
  std::mt19937_64 rng_;
  Duration min_send_gap_{50'000};
  TimePoint last_send_{std::numeric_limits<std::int64_t>::min() / 2};

  std::vector<Slot> slots_;
  std::vector<std::uint32_t> free_slots_;
  std::size_t active_paths_ = 0;
  std::vector<Source> sources_;
  std::vector<InterfaceInfo> interfaces_;
  std::vector<TimerEntry> sends_;     // min-heap by time
  std::vector<TimerEntry> timeouts_;  // min-heap by deadline
  std::array<Family_, 2> families_;
  std::vector<std::uint8_t> payload_;
};

}  // namespace reachmon::core
