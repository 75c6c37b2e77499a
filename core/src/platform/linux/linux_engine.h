// The Linux engine: epoll over the ICMP sockets, a timerfd for the next deadline, an eventfd
// for wake(), and rtnetlink for address changes. See engine.h for the contract.
#pragma once

#include <memory>

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
  LinuxEngine(const MonitorOptions& options, std::shared_ptr<const Clock> clock);

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
  bool armTimer(Duration timeout);

  std::shared_ptr<const Clock> clock_;
  UniqueFd epoll_, timer_, wake_;
  NetlinkWatcher netlink_;
  std::unique_ptr<SocketTransport> transport_;
  bool timer_broken_ = false;  // timerfd_settime failed once: epoll_wait's own timeout is used
  bool wait_failing_ = false;
};

}  // namespace reachmon::core::lnx
