// The Linux engine: epoll over the probe sockets, an eventfd for wake(), and rtnetlink for
// address changes. Waits end at the next deadline by epoll_pwait2()'s nanosecond timeout, or,
// on kernels before 5.11, by a timerfd armed only when the deadline moves. While the loop is
// busy (waits of kQuietWait or less, which covers every burst window) replies do not end a
// wait: they stay queued, stamped with the kernel's receive time, and are read with recvmmsg()
// when the wait ends, so a wake-up serves many probes. See engine.h for the contract and
// docs/design.md ("Batching").
#pragma once

#include <sys/epoll.h>

#include <memory>
#include <span>

#include "../../engine.h"
#include "netlink_watcher.h"
#include "reachmon/core/monitor.h"
#include "socket_transport.h"
#include "unique_fd.h"

namespace reachmon::core::lnx {

class LinuxEngine final : public Engine {
 public:
  // Opens the sockets and the loop's descriptors. Throws std::runtime_error with a message an
  // operator can act on when probing is impossible.
  // How waits are timed: kAuto uses epoll_pwait2 where the kernel has it; kTimerfd always
  // uses the timerfd (what kernels before 5.11 get; tests choose it to cover that path).
  enum class Timing { kAuto, kTimerfd };
  // Waits up to this long are quiet when replies carry kernel timestamps: replies do not end
  // them. Longer waits (an idle loop) end at the first reply.
  static constexpr Duration kQuietWait{25'000'000};

  LinuxEngine(const MonitorOptions& options, std::shared_ptr<const Clock> clock,
              Timing timing = Timing::kAuto);

  Transport& transport() override { return *transport_; }
  std::vector<InterfaceInfo> interfaces() override;
  bool watchesInterfaces() const override { return netlink_.fd() >= 0; }
  void sourcesChanged(std::span<const IpAddress> in_use) override {
    transport_->closeUnused(in_use);
  }
  Events wait(Duration timeout, ReplySink& sink) override;
  void wake() override;
  void finish(ReplySink&) override {}  // nothing outlives a socket's close
  std::string name() const override;
  std::string rttTimestamps() const override;

 private:
  // Waits on `epoll_fd` for at most `timeout` (zero: only polls); returns epoll_wait()'s count.
  int waitOn(int epoll_fd, Duration timeout, std::span<epoll_event> ready);
  bool armTimer(Duration timeout);
  void handle(std::span<const epoll_event> ready, ReplySink& sink, Events& events);

  std::shared_ptr<const Clock> clock_;
  // all_ watches every descriptor: the probe sockets, the timer, wake_ and netlink. quiet_
  // watches all but the probe sockets.
  UniqueFd all_, quiet_, timer_, wake_;
  NetlinkWatcher netlink_;
  std::unique_ptr<SocketTransport> transport_;
  bool pwait2_;                // epoll_pwait2() times waits
  std::int64_t armed_ns_ = 0;  // CLOCK_MONOTONIC deadline the timerfd is armed for, 0: none
  bool timer_broken_ = false;  // timerfd_settime failed once: epoll_wait's own timeout is used
  bool wait_failing_ = false;
};

}  // namespace reachmon::core::lnx
