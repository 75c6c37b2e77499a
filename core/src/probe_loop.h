// The probe thread, on every platform: it owns the clock, the statistics, the snapshots, the
// ProbeCore, the mailbox through which new path sets arrive, and the thread itself. The OS part
// is an Engine. One turn of the loop: take a new path set if one was posted, run what is due
// (timeouts, then sends), then let the engine wait until the next deadline or an event,
// delivering replies straight into the ProbeCore.
#pragma once

#include <atomic>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "engine.h"
#include "probe_core.h"
#include "reachmon/core/monitor.h"

namespace reachmon::core {

class ProbeLoop final : public Monitor {
 public:
  // The longest wait: keeps the heartbeat behind /-/healthy fresh while idle.
  static constexpr Duration kMaxSleep{500'000'000};
  // How often interfaces are re-listed when the engine cannot watch them.
  static constexpr Duration kRescanInterval{30'000'000'000LL};
  // After a reported interface change, how long further changes are gathered before the one
  // re-listing (an address change comes as a burst of notifications).
  static constexpr Duration kInterfaceSettle{100'000'000};

  // `clock` is shared with the engine, which reads it on the probe thread.
  ProbeLoop(std::shared_ptr<const Clock> clock, std::unique_ptr<Engine> engine, std::uint64_t seed);
  ~ProbeLoop() override;
  ProbeLoop(const ProbeLoop&) = delete;
  ProbeLoop& operator=(const ProbeLoop&) = delete;

  // apply() may be called from any thread once start() has returned; before that, only by the
  // owner (it applies the set at once).
  void start() override;
  void stop() override;
  void apply(PathSet set, Duration min_send_gap) override;
  std::shared_ptr<const Snapshot> snapshot() const override { return snapshots_.get(); }
  const MonitorStats& stats() const override { return stats_; }
  TimePoint now() const override { return clock_->now(); }
  std::string engineName() const override { return engine_->name(); }
  std::string rttTimestamps() const override { return engine_->rttTimestamps(); }

  // One turn of the probe thread, waiting at most `max_wait`. The thread started by start()
  // calls it in a loop; tests call it on their own thread instead, without start(), to drive
  // the loop step by step with a fake clock (the thread that calls it is the probe thread).
  void turn(Duration max_wait);
  // What the probe thread does after its last turn; tests that drive turn() call it themselves.
  void finish() { engine_->finish(core_); }

 private:
  void run();
  void takeMailbox();
  // Tells the engine the sources' addresses when they differ from what it was last told.
  void tellSourceAddresses();

  std::shared_ptr<const Clock> clock_;
  MonitorStats stats_;
  SnapshotBox snapshots_;
  std::unique_ptr<Engine> engine_;
  ProbeCore core_;  // sends through engine_'s transport: declared after it
  TimePoint next_rescan_{};
  TimePoint last_batch_{std::numeric_limits<std::int64_t>::min() / 2};  // latest run that sent
  std::optional<TimePoint> relist_at_;       // a reported change waits to be re-listed
  std::vector<IpAddress> source_addresses_;  // as last told to engine_->sourcesChanged()
  std::thread thread_;
  std::atomic<bool> running_{false};  // between start() and stop(): apply() posts, not applies
  std::atomic<bool> stopping_{false};
  std::mutex mailbox_mutex_;
  std::optional<std::pair<PathSet, Duration>> mailbox_;  // guarded by mailbox_mutex_
};

}  // namespace reachmon::core
