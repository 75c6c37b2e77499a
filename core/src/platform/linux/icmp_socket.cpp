#include "icmp_socket.h"

// glibc's netinet/in.h must come before the kernel's headers, which otherwise define
// in6_pktinfo and friends in their own way.
// clang-format off
#include <netinet/in.h>
#include <linux/icmp.h>
// clang-format on
#include <netinet/icmp6.h>
#include <netinet/ip.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>

#include "reachmon/core/os_text.h"
#include "sockaddr.h"
#include "socket_util.h"

namespace reachmon::core::lnx {
namespace {

using icmp::SocketKind;

constexpr std::uint8_t kEchoReply4 = 0, kEchoReply6 = 129;
constexpr const char* kSocketName = "ICMP socket";
// Receive slots start with room for common replies and ICMP errors, and grow with the probes.
constexpr std::size_t kReceiveSlot = 2048;
constexpr std::size_t kMaxIpv4Header = 60;

std::string pingGroupRange() {
  std::ifstream in("/proc/sys/net/ipv4/ping_group_range");
  std::string lo, hi;
  in >> lo >> hi;
  return lo.empty() ? "unknown" : lo + " " + hi;
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
  const bool timestamps = requestControl(fd, family, kind == SocketKind::kDatagram, kSocketName);
  if (kind != SocketKind::kRaw) return timestamps;
  if (family == Family::kIpv4) {
    icmp_filter filter{};
    filter.data = ~((1U << kEchoReply4) | (1U << ICMP_DEST_UNREACH) | (1U << ICMP_TIME_EXCEEDED) |
                    (1U << ICMP_PARAMETERPROB));
    if (::setsockopt(fd, SOL_RAW, ICMP_FILTER, &filter, sizeof filter) != 0)
      spdlog::warn("raw ICMP socket: no ICMP_FILTER: {}", osErrorText(errno));
    return timestamps;
  }
  icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  for (int t : {int{kEchoReply6}, ICMP6_DST_UNREACH, ICMP6_PACKET_TOO_BIG, ICMP6_TIME_EXCEEDED,
                ICMP6_PARAM_PROB})
    ICMP6_FILTER_SETPASS(t, &filter);
  if (::setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
    spdlog::warn("raw ICMPv6 socket: no ICMP6_FILTER: {}", osErrorText(errno));
  return timestamps;
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
      batch_(fd_.get()),
      received_(kReceiveSlot) {}

SendResult IcmpSocket::queue(const EchoRequest& r) {
  // Ping sockets fill in their own identifier.
  const std::uint16_t id = kind_ == Kind::kRaw ? ident_ : 0;
  const std::size_t size = icmp::kHeaderSize + r.payload.size();
  // Replies are as long as the request, behind an IPv4 header on raw sockets: a slot must hold
  // them whole, or a reply to a large probe would be cut short and taken for a corrupted one.
  received_.reserve(size + kMaxIpv4Header);
  return batch_.add(r, size, 0, [&](std::span<std::uint8_t> out) {
    return icmp::writeEchoRequest(family_, kind_, id, r.sequence, r.payload, out);
  });
}

void IcmpSocket::drain(ReplySink& sink, TimePoint now, bool error_queue) {
  readPackets(sink, now);
  if (error_queue && kind_ == Kind::kDatagram) readErrorQueue(sink);
}

void IcmpSocket::readPackets(ReplySink& sink, TimePoint now) {
  for (;;) {
    const std::size_t n = received_.receiveData(fd_.get());
    for (std::size_t i = 0; i < n; ++i) {
      // A datagram longer than its slot (longer than any request we sent) is passed on cut
      // short: a reply to us of that length is corrupted, anything else a stray.
      const auto packet = icmp::parseDatagram(family_, kind_, ident_, received_.data(i));
      if (packet.kind == icmp::Packet::Kind::kError) {
        sink.onError(family_, packet.error);
        continue;
      }
      if (packet.kind != icmp::Packet::Kind::kEchoReply) continue;
      EchoReply reply;
      if (!fromSockaddr(received_.address(i), reply.from)) continue;
      reply.from.scope_id = 0;
      reply.received = now;
      const ReceivedControl control = readControl(received_.header(i));
      reply.to = control.to;
      reply.realtime_rx_ns = control.realtime_rx_ns;
      reply.ttl = packet.ttl >= 0 ? packet.ttl : control.ttl;
      reply.sequence = packet.sequence;
      reply.payload = packet.payload;
      sink.onReply(reply);
    }
    if (n < RecvBatch::kMessages) return;
  }
}

void IcmpSocket::readErrorQueue(ReplySink& sink) {
  std::array<std::uint8_t, 64> buffer;
  drainErrorQueue(fd_.get(), buffer,
                  [&](RecvMsg&, const QueuedError& error, const IpAddress& target,
                      std::span<const std::uint8_t> quote) {
                    const auto report =
                        icmp::parseQueuedError(family_, error.type, error.code, target, quote);
                    if (report) sink.onError(family_, *report);
                  });
}

}  // namespace reachmon::core::lnx
