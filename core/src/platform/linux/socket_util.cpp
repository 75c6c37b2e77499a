#include "socket_util.h"

// glibc's netinet/in.h (via socket_util.h) must come before the kernel's headers, which
// otherwise define in6_pktinfo and friends in their own way.
#include <linux/errqueue.h>
#include <spdlog/spdlog.h>
#include <time.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "reachmon/core/os_text.h"
#include "sockaddr.h"

namespace reachmon::core::lnx {
bool setOption(int fd, int level, int name, int value, const char* socket, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return true;
  spdlog::warn("{}: cannot enable {}: {}", socket, what, osErrorText(errno));
  return false;
}

bool requestControl(int fd, Family family, bool recverr, const char* socket) {
  const bool timestamps = setOption(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, socket,
                                    "kernel receive timestamps (SO_TIMESTAMPNS)");
  // Replies wait in the queue between wake-ups: 4 MiB, beyond net.core.rmem_max when the
  // process may (CAP_NET_ADMIN), else as much of it as rmem_max allows.
  const int rcvbuf = 4 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setOption(fd, SOL_SOCKET, SO_RCVBUF, rcvbuf, socket, "a 4 MiB receive buffer (SO_RCVBUF)");
  if (family == Family::kIpv4) {
    setOption(fd, IPPROTO_IP, IP_PKTINFO, 1, socket, "reply destinations (IP_PKTINFO)");
    setOption(fd, IPPROTO_IP, IP_RECVTTL, 1, socket, "reply TTLs (IP_RECVTTL)");
    if (recverr) setOption(fd, IPPROTO_IP, IP_RECVERR, 1, socket, "ICMP errors (IP_RECVERR)");
  } else {
    setOption(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, socket,
              "reply destinations (IPV6_RECVPKTINFO)");
    setOption(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, socket,
              "reply hop limits (IPV6_RECVHOPLIMIT)");
    if (recverr)
      setOption(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, socket, "ICMPv6 errors (IPV6_RECVERR)");
  }
  return timestamps;
}

std::int64_t realtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

RecvMsg::RecvMsg(void* data, std::size_t len) : iov{data, len} {
  msg.msg_name = &name;
  msg.msg_namelen = sizeof name;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
}

ReceivedControl readControl(msghdr& msg) {
  ReceivedControl out;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      out.realtime_rx_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      out.to = fromIn4(info.ipi_addr);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      out.to = fromIn6(info.ipi6_addr);
    } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
               (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
      std::memcpy(&out.ttl, CMSG_DATA(c), sizeof(int));
    }
  }
  return out;
}

std::optional<QueuedError> readQueuedError(msghdr& msg) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    const bool is_err = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                        (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR);
    if (!is_err || c->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;
    sock_extended_err err;
    std::memcpy(&err, CMSG_DATA(c), sizeof err);
    if (err.ee_origin != SO_EE_ORIGIN_ICMP && err.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
    QueuedError out{err.ee_type, err.ee_code, std::nullopt};
    // SO_EE_OFFENDER: the ICMP message's sender, right after the extended error.
    const std::size_t after = sizeof err;
    const std::size_t data_len = c->cmsg_len - CMSG_LEN(0);
    if (data_len >= after + sizeof(sa_family_t)) {
      sockaddr_storage offender{};
      std::memcpy(&offender, CMSG_DATA(c) + after, std::min(data_len - after, sizeof offender));
      IpAddress address;
      if (fromSockaddr(reinterpret_cast<const sockaddr*>(&offender), address)) {
        address.scope_id = 0;
        out.offender = address;
      }
    }
    return out;
  }
  return std::nullopt;
}

}  // namespace reachmon::core::lnx
