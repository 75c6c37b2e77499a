#include "netlink_watcher.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>

namespace reachmon::core::posix {

NetlinkWatcher::NetlinkWatcher() {
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR;
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
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

}  // namespace reachmon::core::posix
