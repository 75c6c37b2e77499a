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
  if (!next) return;
  core_.apply(std::move(next->first), next->second);
  tellSourceAddresses();
}

void ProbeLoop::tellSourceAddresses() {
  // Runs on path-set and interface changes only: the allocation is not per probe.
  std::vector<IpAddress> in_use;
  for (const SourceView& s : snapshots_.get()->sources)
    if (s.address && std::find(in_use.begin(), in_use.end(), *s.address) == in_use.end())
      in_use.push_back(*s.address);
  if (in_use == source_addresses_) return;
  source_addresses_ = std::move(in_use);
  engine_->sourcesChanged(source_addresses_);
}

void ProbeLoop::turn(Duration max_wait) {
  takeMailbox();
  // A coarse timer (Windows) wakes the loop once per tick: the burst may cover two ticks.
  const Duration burst = std::max(core_.burstWindow(), 2 * engine_->timerResolution());
  const TimePoint ran = clock_->now();
  // Sends due within half a window go now: a send leaves at most half a window early or late.
  // Not with a coarse timer (Windows): its ticks already gather the sends of a tick, and
  // sending early would add to the tick's lateness instead of centring it.
  const Duration lookahead =
      engine_->timerResolution() > Duration{0} ? Duration{0} : core_.burstWindow() / 2;
  if (core_.runDue(burst, lookahead) > 0) last_batch_ = ran;
  const TimePoint now = clock_->now();
  if ((relist_at_ && now >= *relist_at_) ||
      (!engine_->watchesInterfaces() && now >= next_rescan_)) {
    core_.setInterfaces(engine_->interfaces());
    tellSourceAddresses();
    relist_at_.reset();
    next_rescan_ = now + kRescanInterval;
  }
  // Sends and timeouts that come due close together are taken together: the loop runs at most
  // once per burst window while it sends, so one wake-up sends several probes in one batch.
  // Counted from the latest run that sent, so wake-ups for replies never postpone a send.
  TimePoint next = std::max(core_.nextWake(), last_batch_ + core_.burstWindow());
  if (relist_at_) next = std::min(next, *relist_at_);
  Duration timeout = std::clamp(next - now, Duration{0}, max_wait);
  // A send that is due and waits only for the minimum gap (microseconds) would wait a whole
  // tick of a coarse timer, and every send after it too: poll instead, so a wake-up sends all
  // that is due, paced by the gap.
  if (timeout < engine_->timerResolution() && core_.paced()) timeout = Duration{0};
  if (engine_->wait(timeout, core_).interfaces_changed && !relist_at_)
    relist_at_ = clock_->now() + kInterfaceSettle;
}

void ProbeLoop::run() {
  while (!stopping_.load(std::memory_order_acquire)) turn(kMaxSleep);
  engine_->finish(core_);
}

}  // namespace reachmon::core
