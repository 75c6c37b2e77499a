#include "icmp_socket.h"

// glibc's netinet/in.h must come before the kernel's headers, which otherwise define
// in6_pktinfo and friends in their own way.
// clang-format off
#include <netinet/in.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
// clang-format on
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "reachmon/core/os_text.h"
#include "sockaddr.h"

namespace reachmon::core::lnx {
namespace {

using icmp::SocketKind;

constexpr std::uint8_t kEchoReply4 = 0, kEchoReply6 = 129;

// Sets an option the engine works without (it only loses precision or detail); a failure is
// logged, never fatal.
bool setOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) == 0) return true;
  spdlog::warn("ICMP socket: cannot enable {}: {}", what, osErrorText(errno));
  return false;
}

std::string pingGroupRange() {
  std::ifstream in("/proc/sys/net/ipv4/ping_group_range");
  std::string lo, hi;
  in >> lo >> hi;
  return lo.empty() ? "unknown" : lo + " " + hi;
}

std::int64_t realtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string openError(Family family, int dgram_errno, int raw_errno, bool allow_raw) {
  const std::string fam(familyName(family));
  if (dgram_errno == EAFNOSUPPORT) return fam + " is not available on this host";
  std::string msg =
      "cannot open an " + fam + " ICMP socket: ping socket: " + osErrorText(dgram_errno);
  if (dgram_errno == EACCES) {
    msg += " (group " + std::to_string(getgid()) + " is outside net.ipv4.ping_group_range \"" +
           pingGroupRange() +
           "\"; allow it with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")";
  }
  if (allow_raw)
    msg += "; raw socket: " + osErrorText(raw_errno) +
           (raw_errno == EPERM ? " (needs CAP_NET_RAW)" : "");
  return msg;
}

int openFd(Family family, SocketKind kind) {
  const bool v4 = family == Family::kIpv4;
  const int type = kind == SocketKind::kDatagram ? SOCK_DGRAM : SOCK_RAW;
  return ::socket(v4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6));
}

// Asks for what replies need (timestamps, destination address, TTL, errors) and, on raw
// sockets, filters out every ICMP type but echo replies and errors. True when replies carry
// kernel receive timestamps.
bool configure(int fd, Family family, SocketKind kind) {
  const bool timestamps =
      setOption(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "kernel receive timestamps (SO_TIMESTAMPNS)");
  setOption(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20, "a 4 MiB receive buffer (SO_RCVBUF)");
  if (family == Family::kIpv4) {
    setOption(fd, IPPROTO_IP, IP_PKTINFO, 1, "reply destinations (IP_PKTINFO)");
    setOption(fd, IPPROTO_IP, IP_RECVTTL, 1, "reply TTLs (IP_RECVTTL)");
    if (kind == SocketKind::kDatagram)
      setOption(fd, IPPROTO_IP, IP_RECVERR, 1, "ICMP errors (IP_RECVERR)");
    if (kind == SocketKind::kRaw) {
      icmp_filter filter{};
      filter.data = ~((1U << kEchoReply4) | (1U << ICMP_DEST_UNREACH) | (1U << ICMP_TIME_EXCEEDED) |
                      (1U << ICMP_PARAMETERPROB));
      if (::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0)
        spdlog::warn("raw ICMP socket: no ICMP_FILTER: {}", osErrorText(errno));
    }
    return timestamps;
  }
  setOption(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "reply destinations (IPV6_RECVPKTINFO)");
  setOption(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "reply hop limits (IPV6_RECVHOPLIMIT)");
  if (kind == SocketKind::kDatagram)
    setOption(fd, IPPROTO_IPV6, IPV6_RECVERR, 1, "ICMPv6 errors (IPV6_RECVERR)");
  if (kind == SocketKind::kRaw) {
    icmp6_filter filter;
    ICMP6_FILTER_SETBLOCKALL(&filter);
    for (int t : {int{kEchoReply6}, ICMP6_DST_UNREACH, ICMP6_PACKET_TOO_BIG, ICMP6_TIME_EXCEEDED,
                  ICMP6_PARAM_PROB})
      ICMP6_FILTER_SETPASS(t, &filter);
    if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
      spdlog::warn("raw ICMPv6 socket: no ICMP6_FILTER: {}", osErrorText(errno));
  }
  return timestamps;
}

// recvmsg() arguments for one datagram: its address, data and control buffers.
struct RecvMsg {
  sockaddr_storage name{};
  iovec iov{};
  alignas(cmsghdr) std::uint8_t control[512];
  msghdr msg{};
  RecvMsg(void* data, std::size_t len) : iov{data, len} {
    msg.msg_name = &name;
    msg.msg_namelen = sizeof name;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
  }
  RecvMsg(const RecvMsg&) = delete;
  RecvMsg& operator=(const RecvMsg&) = delete;
  const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&name); }
};

// Appends one control message to `msg`; `c` is the next free header, advanced past it.
void addControl(msghdr& msg, cmsghdr*& c, int level, int type, const void* data, std::size_t len) {
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  std::memcpy(CMSG_DATA(c), data, len);
  c = CMSG_NXTHDR(&msg, c);
}

// Fills in what the control messages of a received reply say about it.
void readControl(msghdr& msg, EchoReply& reply) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      reply.realtime_rx_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
    } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      reply.to = fromIn4(info.ipi_addr);
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      reply.to = fromIn6(info.ipi6_addr);
    } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
               (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
      std::memcpy(&reply.ttl, CMSG_DATA(c), sizeof(int));
    }
  }
}

}  // namespace

std::optional<IcmpSocket> IcmpSocket::open(Family family, bool allow_raw, std::string& error) {
  Kind kind = Kind::kDatagram;
  int fd = openFd(family, kind);
  const int dgram_errno = errno;
  int raw_errno = 0;
  if (fd < 0 && allow_raw && dgram_errno != EAFNOSUPPORT) {
    kind = Kind::kRaw;
    fd = openFd(family, kind);
    raw_errno = errno;
  }
  if (fd < 0) {
    error = openError(family, dgram_errno, raw_errno, allow_raw);
    return std::nullopt;
  }
  const bool timestamps = configure(fd, family, kind);
  const auto ident = static_cast<std::uint16_t>(std::random_device{}());
  return IcmpSocket(UniqueFd(fd), family, kind, ident, timestamps);
}

std::optional<IcmpSocket> IcmpSocket::openBound(const IpAddress& source, int& os_error) {
  UniqueFd fd(openFd(source.family, Kind::kDatagram));
  if (!fd) {
    os_error = errno;
    return std::nullopt;
  }
  sockaddr_storage addr;
  const socklen_t len = toSockaddr(source, addr);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    os_error = errno;
    return std::nullopt;
  }
  const bool timestamps = configure(fd.get(), source.family, Kind::kDatagram);
  return IcmpSocket(std::move(fd), source.family, Kind::kDatagram, 0, timestamps);
}

IcmpSocket::IcmpSocket(UniqueFd fd, Family family, Kind kind, std::uint16_t ident,
                       bool kernel_timestamps)
    : fd_(std::move(fd)),
      family_(family),
      kind_(kind),
      ident_(ident),
      kernel_timestamps_(kernel_timestamps),
      buffer_(65536 + 128) {}

bool IcmpSocket::setDontFragment(bool df) {
  // IPv4 has no per-packet form of DF: the socket's path-MTU mode decides it.
  const int pmtu = df ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
  if (pmtu == current_pmtu_) return true;
  if (::setsockopt(fd_.get(), IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) != 0) return false;
  current_pmtu_ = pmtu;
  return true;
}

SendResult IcmpSocket::send(const EchoRequest& r) {
  const bool v4 = family_ == Family::kIpv4;
  // Ping sockets fill in their own identifier.
  const std::uint16_t id = kind_ == Kind::kRaw ? ident_ : 0;
  const std::size_t len = icmp::writeEchoRequest(family_, kind_, id, r.sequence, r.payload,
                                                 std::span(buffer_.data(), buffer_.size()));
  if (len == 0) return {SendStatus::kFailed, EMSGSIZE, 0};
  sockaddr_storage dst;
  const socklen_t dst_len = toSockaddr(r.target, dst);
  iovec iov{buffer_.data(), len};
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
  if (v4) {
    if (!setDontFragment(df != 0)) return {SendStatus::kFailed, errno, 0};
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
  if (::sendmsg(fd_.get(), &msg, MSG_DONTWAIT) < 0) {
    result.os_error = errno;
    // The kernel refuses a source address that no interface carries (or that is still tentative).
    result.status = (errno == EINVAL || errno == EADDRNOTAVAIL) ? SendStatus::kSourceUnavailable
                                                                : SendStatus::kFailed;
  }
  return result;
}

void IcmpSocket::drain(ReplySink& sink, TimePoint now) {
  readPackets(sink, now);
  if (kind_ == Kind::kDatagram) readErrorQueue(sink);
}

void IcmpSocket::readPackets(ReplySink& sink, TimePoint now) {
  for (;;) {
    RecvMsg rm(buffer_.data(), buffer_.size());
    const ssize_t n = ::recvmsg(fd_.get(), &rm.msg, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN: drained; other errors surface again through epoll
    const auto packet = icmp::parseDatagram(family_, kind_, ident_,
                                            std::span(buffer_.data(), static_cast<std::size_t>(n)));
    if (packet.kind == icmp::Packet::Kind::kError) {
      sink.onError(family_, packet.error);
      continue;
    }
    if (packet.kind != icmp::Packet::Kind::kEchoReply) continue;
    EchoReply reply;
    if (!fromSockaddr(rm.address(), reply.from)) continue;
    reply.from.scope_id = 0;
    reply.received = now;
    readControl(rm.msg, reply);
    if (packet.ttl >= 0) reply.ttl = packet.ttl;
    reply.sequence = packet.sequence;
    reply.payload = packet.payload;
    sink.onReply(reply);
  }
}

void IcmpSocket::readErrorQueue(ReplySink& sink) {
  for (;;) {
    std::uint8_t data[64];
    RecvMsg rm(data, sizeof data);
    const ssize_t n = ::recvmsg(fd_.get(), &rm.msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return;
    for (cmsghdr* c = CMSG_FIRSTHDR(&rm.msg); c; c = CMSG_NXTHDR(&rm.msg, c)) {
      const bool is_err = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!is_err) continue;
      sock_extended_err err;
      std::memcpy(&err, CMSG_DATA(c), sizeof err);
      if (err.ee_origin != SO_EE_ORIGIN_ICMP && err.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
      IpAddress target;
      if (!fromSockaddr(rm.address(), target)) continue;
      const auto report =
          icmp::parseQueuedError(family_, err.ee_type, err.ee_code, target,
                                 std::span<const std::uint8_t>(data, static_cast<std::size_t>(n)));
      if (report) sink.onError(family_, *report);
    }
  }
}

}  // namespace reachmon::core::lnx
