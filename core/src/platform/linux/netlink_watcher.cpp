#include "netlink_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <cerrno>

#include "reachmon/core/os_text.h"

namespace reachmon::core::lnx {

NetlinkWatcher::NetlinkWatcher() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (!fd || ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    spdlog::warn(
        "no address change notifications (rtnetlink: {}); re-listing interfaces "
        "every 30 s instead",
        osErrorText(errno));
    return;
  }
  fd_ = std::move(fd);
}

bool NetlinkWatcher::drain() {
  bool any = false;
  char buf[8192];
  while (fd_) {
    const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) {
      any = true;
    } else {
      // ENOBUFS: notifications were lost, so something changed that we did not see.
      if (n < 0 && errno == ENOBUFS) any = true;
      break;
    }
  }
  return any;
}

}  // namespace reachmon::core::lnx
