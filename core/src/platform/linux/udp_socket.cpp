#include "udp_socket.h"

#include <netinet/in.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>

#include "../../udp_probe.h"
#include "reachmon/core/os_text.h"
#include "sockaddr.h"

namespace reachmon::core::lnx {
namespace {

constexpr const char* kSocketName = "UDP probe socket";
// Receive slots start with room for common echoes, and grow with the datagrams sent.
constexpr std::size_t kReceiveSlot = 2048;

std::uint16_t portOf(const sockaddr_storage& a) {
  return ntohs(a.ss_family == AF_INET ? reinterpret_cast<const sockaddr_in&>(a).sin_port
                                      : reinterpret_cast<const sockaddr_in6&>(a).sin6_port);
}

}  // namespace

std::optional<UdpSocket> UdpSocket::open(Family family, std::string& error, int& os_error) {
  const bool v4 = family == Family::kIpv4;
  const std::string what = "cannot open the " + std::string(familyName(family)) + " UDP socket: ";
  UniqueFd fd(
      ::socket(v4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd) {
    os_error = errno;
    error = what + osErrorText(os_error);
    return std::nullopt;
  }
  if (!v4) setOption(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, 1, kSocketName, "IPV6_V6ONLY");
  // Bound now, so that the port is known, stays the same, and the kernel delivers the errors
  // about every source address's datagrams here.
  sockaddr_storage any{};
  any.ss_family = static_cast<sa_family_t>(v4 ? AF_INET : AF_INET6);
  socklen_t len = v4 ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&any), len) != 0 ||
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&any), &len) != 0) {
    os_error = errno;
    error = what + "bind: " + osErrorText(os_error);
    return std::nullopt;
  }
  requestControl(fd.get(), family, true, kSocketName);
  const std::uint16_t port = portOf(any);
  spdlog::debug("{} UDP probes leave from port {}", familyName(family), port);
  return UdpSocket(std::move(fd), family, port);
}

UdpSocket::UdpSocket(UniqueFd fd, Family family, std::uint16_t port)
    : fd_(std::move(fd)),
      family_(family),
      port_(port),
      batch_(fd_.get()),
      received_(kReceiveSlot) {}

SendResult UdpSocket::queue(const EchoRequest& r) {
  // An echo as long as the datagram must fit a slot whole: cut short, it would be corrupted.
  received_.reserve(r.payload.size() + 1);
  return batch_.add(r, r.payload.size(), r.options.port, [&](std::span<std::uint8_t> out) {
    std::copy(r.payload.begin(), r.payload.end(), out.begin());
    return r.payload.size();
  });
}

void UdpSocket::drain(ReplySink& sink, TimePoint now, bool error_queue) {
  readDatagrams(sink, now);
  if (error_queue) readErrorQueue(sink, now);
}

void UdpSocket::readDatagrams(ReplySink& sink, TimePoint now) {
  for (;;) {
    const std::size_t n = received_.receiveData(fd_.get());
    for (std::size_t i = 0; i < n; ++i) {
      // A datagram longer than its slot (longer than any we sent) is passed on cut short: an
      // echo of ours of that length is corrupted.
      const std::span<const std::uint8_t> data = received_.data(i);
      const auto sequence = udp::sequenceOf(data);
      if (!sequence) continue;  // not one of our datagrams: nothing to match it with
      EchoReply reply;
      reply.probe = ProbeKind::kUdp;
      if (!fromSockaddr(received_.address(i), reply.from)) continue;
      reply.from.scope_id = 0;
      reply.from_port = portOf(received_.name(i));
      const ReceivedControl control = readControl(received_.header(i));
      reply.to = control.to;
      reply.realtime_rx_ns = control.realtime_rx_ns;
      reply.ttl = control.ttl;
      reply.received = now;
      reply.sequence = *sequence;
      reply.payload = data;
      sink.onReply(reply);
    }
    // Fewer than asked for: drained, or a pending error ended the read (it ends the next).
    if (n < RecvBatch::kMessages) return;
  }
}

void UdpSocket::readErrorQueue(ReplySink& sink, TimePoint now) {
  // Large enough for any quote: Linux quotes up to 548 bytes of an IPv4 datagram, IPv6 senders
  // up to 1232.
  std::array<std::uint8_t, 1500> buffer;
  drainErrorQueue(fd_.get(), buffer,
                  [&](RecvMsg& rm, const QueuedError& error, const IpAddress& target,
                      std::span<const std::uint8_t> quote) {
                    auto report = udp::parseQueuedError(family_, error.type, error.code, target,
                                                        portOf(rm.name), quote);
                    if (!report) return;
                    const ReceivedControl control = readControl(rm.msg);
                    // The error's destination: the datagram's source.
                    report->original_source = control.to;
                    if (report->original_source) report->original_source->scope_id = 0;
                    report->offender = error.offender;
                    report->received = now;
                    report->realtime_rx_ns = control.realtime_rx_ns;
                    report->ttl = control.ttl;
                    sink.onError(family_, *report);
                  });
}

}  // namespace reachmon::core::lnx
