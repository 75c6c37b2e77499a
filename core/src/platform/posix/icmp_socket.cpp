#include "icmp_socket.h"

#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <linux/icmp.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "sockaddr.h"

namespace reachmon::core::posix {
namespace {

constexpr std::size_t kIcmpHeader = 8;
constexpr std::uint8_t kEchoRequest4 = 8, kEchoReply4 = 0;
constexpr std::uint8_t kEchoRequest6 = 128, kEchoReply6 = 129;

std::uint16_t readBe16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

void setOpt(int fd, int level, int name, int value) {
  ::setsockopt(fd, level, name, &value, sizeof value);
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
      "cannot open an " + fam + " ICMP socket: ping socket: " + std::strerror(dgram_errno);
  if (dgram_errno == EACCES) {
    msg += " (group " + std::to_string(getgid()) + " is outside net.ipv4.ping_group_range \"" +
           pingGroupRange() +
           "\"; allow it with: sysctl -w net.ipv4.ping_group_range=\"0 2147483647\")";
  }
  if (allow_raw)
    msg += "; raw socket: " + std::string(std::strerror(raw_errno)) +
           (raw_errno == EPERM ? " (needs CAP_NET_RAW)" : "");
  return msg;
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

}  // namespace

}  // namespace reachmon::core::posix

namespace reachmon::core {
std::string osErrorText(int code) { return std::strerror(code); }
}  // namespace reachmon::core

namespace reachmon::core::posix {

std::uint16_t icmpChecksum(const std::uint8_t* data, std::size_t len) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < len; i += 2) sum += readBe16(data + i);
  if (len & 1) sum += static_cast<std::uint32_t>(data[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::optional<ErrorReason> icmpErrorReason(Family family, int type, int code) {
  if (family == Family::kIpv4) {
    switch (type) {
      case 3:
        return code == 4 ? ErrorReason::kPacketTooBig : ErrorReason::kDestUnreachable;
      case 11:
        return ErrorReason::kTtlExpired;
      case 12:
        return ErrorReason::kParameterProblem;
      default:
        return std::nullopt;
    }
  }
  switch (type) {
    case 1:
      return ErrorReason::kDestUnreachable;
    case 2:
      return ErrorReason::kPacketTooBig;
    case 3:
      return ErrorReason::kTtlExpired;
    case 4:
      return ErrorReason::kParameterProblem;
    default:
      return std::nullopt;
  }
}

std::optional<IcmpSocket> IcmpSocket::open(Family family, bool allow_raw, std::string& error) {
  const bool v4 = family == Family::kIpv4;
  const int domain = v4 ? AF_INET : AF_INET6;
  const int proto = v4 ? static_cast<int>(IPPROTO_ICMP) : static_cast<int>(IPPROTO_ICMPV6);
  Kind kind = Kind::kDatagram;
  int fd = ::socket(domain, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  const int dgram_errno = errno;
  int raw_errno = 0;
  if (fd < 0 && allow_raw && dgram_errno != EAFNOSUPPORT) {
    fd = ::socket(domain, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    raw_errno = errno;
    kind = Kind::kRaw;
  }
  if (fd < 0) {
    error = openError(family, dgram_errno, raw_errno, allow_raw);
    return std::nullopt;
  }
  setOpt(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
  setOpt(fd, SOL_SOCKET, SO_RCVBUF, 4 << 20);
  if (v4) {
    setOpt(fd, IPPROTO_IP, IP_PKTINFO, 1);
    setOpt(fd, IPPROTO_IP, IP_RECVTTL, 1);
    if (kind == Kind::kDatagram) setOpt(fd, IPPROTO_IP, IP_RECVERR, 1);
    if (kind == Kind::kRaw) {
      icmp_filter filter{};
      filter.data = ~((1U << kEchoReply4) | (1U << 3) | (1U << 11) | (1U << 12));
      ::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter);
    }
  } else {
    setOpt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
    setOpt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1);
    if (kind == Kind::kDatagram) setOpt(fd, IPPROTO_IPV6, IPV6_RECVERR, 1);
    if (kind == Kind::kRaw) {
      icmp6_filter filter;
      ICMP6_FILTER_SETBLOCKALL(&filter);
      for (int t : {int{kEchoReply6}, 1, 2, 3, 4}) ICMP6_FILTER_SETPASS(t, &filter);
      ::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter);
    }
  }
  const auto ident = static_cast<std::uint16_t>(std::random_device{}());
  return IcmpSocket(UniqueFd(fd), family, kind, ident);
}

std::optional<IcmpSocket> IcmpSocket::openBound(const IpAddress& source, int& os_error) {
  std::string ignored;
  auto s = open(source.family, false, ignored);
  if (!s) {
    os_error = EACCES;
    return std::nullopt;
  }
  sockaddr_storage addr;
  const socklen_t len = toSockaddr(source, addr);
  if (::bind(s->fd(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    os_error = errno;
    return std::nullopt;
  }
  return s;
}

IcmpSocket::IcmpSocket(UniqueFd fd, Family family, Kind kind, std::uint16_t ident)
    : fd_(std::move(fd)), family_(family), kind_(kind), ident_(ident), buffer_(65536 + 128) {}

SendResult IcmpSocket::send(const EchoRequest& r) {
  const bool v4 = family_ == Family::kIpv4;
  const std::size_t len = kIcmpHeader + r.payload.size();
  std::uint8_t* p = buffer_.data();
  p[0] = v4 ? kEchoRequest4 : kEchoRequest6;
  p[1] = 0;
  p[2] = p[3] = 0;
  const std::uint16_t id = kind_ == Kind::kRaw ? ident_ : 0;  // ping sockets fill in their own
  p[4] = static_cast<std::uint8_t>(id >> 8);
  p[5] = static_cast<std::uint8_t>(id);
  p[6] = static_cast<std::uint8_t>(r.sequence >> 8);
  p[7] = static_cast<std::uint8_t>(r.sequence);
  std::memcpy(p + kIcmpHeader, r.payload.data(), r.payload.size());
  if (v4 && kind_ == Kind::kRaw) {
    const std::uint16_t sum = icmpChecksum(p, len);
    p[2] = static_cast<std::uint8_t>(sum >> 8);
    p[3] = static_cast<std::uint8_t>(sum);
  }

  sockaddr_storage dst;
  const socklen_t dst_len = toSockaddr(r.target, dst);
  iovec iov{p, len};
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
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, r.source.bytes.data(), 4);
    addControl(msg, c, IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
    addControl(msg, c, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    addControl(msg, c, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    used = CMSG_SPACE(sizeof info) + 2 * CMSG_SPACE(sizeof(int));
    const int pmtu = df ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;  // no per-packet form exists
    if (pmtu != current_df_) {
      setOpt(fd_.get(), IPPROTO_IP, IP_MTU_DISCOVER, pmtu);
      current_df_ = pmtu;
    }
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

void IcmpSocket::drain(const std::function<void(const EchoReply&)>& on_reply,
                       const std::function<void(const IcmpErrorReport&)>& on_error, TimePoint now) {
  readPackets(on_reply, on_error, now);
  if (kind_ == Kind::kDatagram) readErrorQueue(on_error);
}

void IcmpSocket::readPackets(const std::function<void(const EchoReply&)>& on_reply,
                             const std::function<void(const IcmpErrorReport&)>& on_error,
                             TimePoint now) {
  const bool v4 = family_ == Family::kIpv4;
  for (;;) {
    RecvMsg rm(buffer_.data(), buffer_.size());
    msghdr& msg = rm.msg;
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT);
    if (n < 0) return;  // EAGAIN: drained; other errors surface again through epoll

    EchoReply reply;
    reply.received = now;
    if (!fromSockaddr(rm.address(), reply.from)) continue;
    reply.from.scope_id = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
        timespec ts;
        std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
        reply.realtime_rx_ns = static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        reply.to = fromIn4(info.ipi_addr);
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) {
        std::memcpy(&reply.ttl, CMSG_DATA(c), sizeof(int));
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        reply.to = fromIn6(info.ipi6_addr);
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT) {
        std::memcpy(&reply.ttl, CMSG_DATA(c), sizeof(int));
      }
    }
    const std::uint8_t* icmp = buffer_.data();
    std::size_t len = static_cast<std::size_t>(n);
    if (v4 && kind_ == Kind::kRaw) {  // raw IPv4 sockets deliver the IP header too
      if (len < 20) continue;
      const std::size_t ihl = (icmp[0] & 0x0f) * 4u;
      if (len < ihl) continue;
      reply.ttl = icmp[8];
      icmp += ihl;
      len -= ihl;
    }
    if (len < kIcmpHeader) continue;
    const std::uint8_t reply_type = v4 ? kEchoReply4 : kEchoReply6;
    if (icmp[0] != reply_type) {
      IcmpErrorReport report;
      if (kind_ == Kind::kRaw && parseRawError(icmp, len, report)) on_error(report);
      continue;
    }
    if (kind_ == Kind::kRaw && readBe16(icmp + 4) != ident_) continue;  // another program's ping
    reply.sequence = readBe16(icmp + 6);
    reply.payload = std::span<const std::uint8_t>(icmp + kIcmpHeader, len - kIcmpHeader);
    on_reply(reply);
  }
}

void IcmpSocket::readErrorQueue(const std::function<void(const IcmpErrorReport&)>& on_error) {
  for (;;) {
    std::uint8_t data[64];
    RecvMsg rm(data, sizeof data);
    msghdr& msg = rm.msg;
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_ERRQUEUE | MSG_DONTWAIT);
    if (n < 0) return;
    if (static_cast<std::size_t>(n) < kIcmpHeader) continue;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      const bool is_err = (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR) ||
                          (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR);
      if (!is_err) continue;
      sock_extended_err err;
      std::memcpy(&err, CMSG_DATA(c), sizeof err);
      if (err.ee_origin != SO_EE_ORIGIN_ICMP && err.ee_origin != SO_EE_ORIGIN_ICMP6) continue;
      auto reason = icmpErrorReason(family_, err.ee_type, err.ee_code);
      IcmpErrorReport report;
      if (!reason || !fromSockaddr(rm.address(), report.original_target)) continue;
      report.original_target.scope_id = 0;
      report.reason = *reason;
      report.sequence = readBe16(data + 6);  // the quoted echo request's header
      on_error(report);
    }
  }
}

bool IcmpSocket::parseRawError(const std::uint8_t* icmp, std::size_t len,
                               IcmpErrorReport& out) const {
  auto reason = icmpErrorReason(family_, icmp[0], icmp[1]);
  if (!reason) return false;
  const std::uint8_t* inner = icmp + kIcmpHeader;
  std::size_t inner_len = len - kIcmpHeader;
  const std::uint8_t* quoted = nullptr;
  if (family_ == Family::kIpv4) {
    if (inner_len < 20) return false;
    const std::size_t ihl = (inner[0] & 0x0f) * 4u;
    if (inner[9] != IPPROTO_ICMP || inner_len < ihl + kIcmpHeader) return false;
    in_addr dst;
    std::memcpy(&dst, inner + 16, 4);
    out.original_target = fromIn4(dst);
    quoted = inner + ihl;
    if (quoted[0] != kEchoRequest4) return false;
  } else {
    if (inner_len < 40 + kIcmpHeader || inner[6] != IPPROTO_ICMPV6) return false;
    in6_addr dst;
    std::memcpy(&dst, inner + 24, 16);
    out.original_target = fromIn6(dst);
    quoted = inner + 40;
    if (quoted[0] != kEchoRequest6) return false;
  }
  if (readBe16(quoted + 4) != ident_) return false;
  out.sequence = readBe16(quoted + 6);
  out.reason = *reason;
  return true;
}

}  // namespace reachmon::core::posix
