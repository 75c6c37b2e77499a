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
namespace {

// Appends one control message to `msg`; `c` is the next free header, advanced past it.
void addControl(msghdr& msg, cmsghdr*& c, int level, int type, const void* data, std::size_t len) {
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  std::memcpy(CMSG_DATA(c), data, len);
  c = CMSG_NXTHDR(&msg, c);
}

bool setDontFragment(int fd, bool df, int& pmtu_mode) {
  // IPv4 has no per-packet form of DF: the socket's path-MTU mode decides it.
  const int pmtu = df ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
  if (pmtu == pmtu_mode) return true;
  if (::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) != 0) return false;
  pmtu_mode = pmtu;
  return true;
}

// The errors an ICMP message about an earlier datagram leaves pending on the socket
// (icmp_err_convert); the next send reports it instead of sending.
bool isPendingIcmpError(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EMSGSIZE:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool setOption(int fd, int level, int name, int value, const char* socket, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return true;
  spdlog::warn("{}: cannot enable {}: {}", socket, what, osErrorText(errno));
  return false;
}

bool requestControl(int fd, Family family, bool recverr, const char* socket) {
  const bool timestamps = setOption(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, socket,
                                    "kernel receive timestamps (SO_TIMESTAMPNS)");
  setOption(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20, socket, "a 4 MiB receive buffer (SO_RCVBUF)");
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

SendResult sendProbe(int fd, const EchoRequest& r, std::span<const std::uint8_t> data,
                     std::uint16_t port, int& pmtu_mode) {
  sockaddr_storage dst;
  const socklen_t dst_len = toSockaddr(r.target, dst);
  if (r.target.family == Family::kIpv4)
    reinterpret_cast<sockaddr_in*>(&dst)->sin_port = htons(port);
  else
    reinterpret_cast<sockaddr_in6*>(&dst)->sin6_port = htons(port);
  iovec iov{const_cast<std::uint8_t*>(data.data()), data.size()};
  alignas(cmsghdr)
      std::uint8_t control[CMSG_SPACE(sizeof(in6_pktinfo)) + 3 * CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_name = &dst;
  msg.msg_namelen = dst_len;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  std::size_t used = 0;
  const int ttl = r.options.ttl, tos = r.options.tos, df = r.options.dont_fragment ? 1 : 0;
  if (r.target.family == Family::kIpv4) {
    if (!setDontFragment(fd, df != 0, pmtu_mode)) return {SendStatus::kFailed, errno, 0};
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, r.source.bytes.data(), 4);
    addControl(msg, c, IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
    addControl(msg, c, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    addControl(msg, c, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    used = CMSG_SPACE(sizeof info) + 2 * CMSG_SPACE(sizeof(int));
  } else {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, r.source.bytes.data(), 16);
    info.ipi6_ifindex = r.source.scope_id;
    addControl(msg, c, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof info);
    addControl(msg, c, IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl, sizeof ttl);
    addControl(msg, c, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    addControl(msg, c, IPPROTO_IPV6, IPV6_DONTFRAG, &df, sizeof df);
    used = CMSG_SPACE(sizeof info) + 3 * CMSG_SPACE(sizeof(int));
  }
  msg.msg_controllen = used;

  SendResult result;
  result.realtime_ns = realtimeNs();
  ssize_t sent = ::sendmsg(fd, &msg, MSG_DONTWAIT);
  // With IP_RECVERR, an ICMP error about an earlier datagram (another path's, often) is also
  // left pending on the socket, and the next send returns it without sending. Returning it
  // cleared it, and the error itself waits in the error queue for drain(): send again.
  if (sent < 0 && isPendingIcmpError(errno)) {
    result.realtime_ns = realtimeNs();
    sent = ::sendmsg(fd, &msg, MSG_DONTWAIT);
  }
  if (sent < 0) {
    result.os_error = errno;
    // The kernel refuses a source address that no interface carries (or that is still tentative).
    result.status = (errno == EINVAL || errno == EADDRNOTAVAIL) ? SendStatus::kSourceUnavailable
                                                                : SendStatus::kFailed;
  }
  return result;
}

}  // namespace reachmon::core::lnx
