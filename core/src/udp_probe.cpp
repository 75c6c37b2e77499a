#include "udp_probe.h"

#include <cstring>

#include "icmp_packet.h"

namespace reachmon::core::udp {

void writeHeader(std::span<std::uint8_t> datagram, std::uint64_t nonce, std::uint16_t sequence) {
  std::memcpy(datagram.data(), kMagic, sizeof kMagic);
  std::memcpy(datagram.data() + kNonceAt, &nonce, sizeof nonce);
  datagram[kSequenceAt] = static_cast<std::uint8_t>(sequence >> 8);
  datagram[kSequenceAt + 1] = static_cast<std::uint8_t>(sequence & 0xff);
}

std::optional<std::uint16_t> sequenceOf(std::span<const std::uint8_t> datagram) {
  if (datagram.size() < kHeaderSize || std::memcmp(datagram.data(), kMagic, sizeof kMagic) != 0)
    return std::nullopt;
  return static_cast<std::uint16_t>((datagram[kSequenceAt] << 8) | datagram[kSequenceAt + 1]);
}

bool isPortUnreachable(Family family, int type, int code) {
  return family == Family::kIpv4 ? (type == 3 && code == 3) : (type == 1 && code == 4);
}

std::optional<IcmpErrorReport> parseQueuedError(Family family, int type, int code,
                                                const IpAddress& target, std::uint16_t port,
                                                std::span<const std::uint8_t> quoted) {
  const auto reason = icmp::errorReason(family, type, code);
  if (!reason) return std::nullopt;
  IcmpErrorReport report;
  report.probe = ProbeKind::kUdp;
  report.original_target = target;
  report.original_target.scope_id = 0;
  report.original_port = port;
  report.reason = *reason;
  report.port_unreachable = isPortUnreachable(family, type, code);
  report.sequence = sequenceOf(quoted).value_or(0);
  report.quoted = quoted;
  return report;
}

}  // namespace reachmon::core::udp
