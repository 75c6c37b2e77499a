#include "probe_loop.h"

#include <algorithm>

namespace reachmon::core {

ProbeLoop::ProbeLoop(std::shared_ptr<const Clock> clock, std::unique_ptr<Engine> engine,
                     std::uint64_t seed)
    : clock_(std::move(clock)),
      engine_(std::move(engine)),
      core_(*clock_, engine_->transport(), stats_, snapshots_, seed) {
  core_.setInterfaces(engine_->interfaces());
  next_rescan_ = clock_->now() + kRescanInterval;
}

ProbeLoop::~ProbeLoop() { stop(); }

void ProbeLoop::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  running_ = true;
  thread_ = std::thread([this] { run(); });
}

void ProbeLoop::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  engine_->wake();
  thread_.join();
  running_ = false;
}

void ProbeLoop::apply(PathSet set, Duration min_send_gap) {
  {
    std::lock_guard lock(mailbox_mutex_);
    mailbox_ = std::make_pair(std::move(set), min_send_gap);
  }
  if (running_.load(std::memory_order_acquire)) {
    engine_->wake();
  } else {
    takeMailbox();  // not running: apply at once, so that the first snapshot is complete
  }
}

void ProbeLoop::takeMailbox() {
  std::optional<std::pair<PathSet, Duration>> next;
  {
    std::lock_guard lock(mailbox_mutex_);
    next.swap(mailbox_);
  }
  if (next) core_.apply(std::move(next->first), next->second);
}

void ProbeLoop::turn(Duration max_wait) {
  takeMailbox();
  core_.runDue();
  const TimePoint now = clock_->now();
  if (!engine_->watchesInterfaces() && now >= next_rescan_) {
    core_.setInterfaces(engine_->interfaces());
    next_rescan_ = now + kRescanInterval;
  }
  const Duration timeout = std::clamp(core_.nextWake() - now, Duration{0}, max_wait);
  if (engine_->wait(timeout, core_).interfaces_changed) core_.setInterfaces(engine_->interfaces());
}

void ProbeLoop::run() {
  while (!stopping_.load(std::memory_order_acquire)) turn(kMaxSleep);
  engine_->finish(core_);
}

}  // namespace reachmon::core
