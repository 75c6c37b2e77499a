#include "icmp_packet.h"

#include <cstring>

namespace reachmon::core::icmp {
namespace {

constexpr std::uint8_t kEchoRequest4 = 8, kEchoReply4 = 0;
constexpr std::uint8_t kEchoRequest6 = 128, kEchoReply6 = 129;
constexpr std::uint8_t kProtocolIcmp = 1, kProtocolIcmp6 = 58;
constexpr std::size_t kIpv4MinHeader = 20, kIpv6Header = 40;

using Bytes = std::span<const std::uint8_t>;

std::uint16_t readBe16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

std::uint8_t echoRequestType(Family f) {
  return f == Family::kIpv4 ? kEchoRequest4 : kEchoRequest6;
}
std::uint8_t echoReplyType(Family f) { return f == Family::kIpv4 ? kEchoReply4 : kEchoReply6; }

IpAddress addressAt(Family family, const std::uint8_t* p) {
  IpAddress a;
  a.family = family;
  std::memcpy(a.bytes.data(), p, family == Family::kIpv4 ? 4 : 16);
  return a;
}

// The IPv4 header's length if `bytes` starts with a well-formed one carrying `protocol`.
std::optional<std::size_t> ipv4HeaderLength(Bytes bytes, std::optional<std::uint8_t> protocol) {
  if (bytes.size() < kIpv4MinHeader || (bytes[0] >> 4) != 4) return std::nullopt;
  const std::size_t ihl = std::size_t{bytes[0] & 0x0fu} * 4;
  if (ihl < kIpv4MinHeader || bytes.size() < ihl) return std::nullopt;
  if (protocol && bytes[9] != *protocol) return std::nullopt;
  return ihl;
}

// Where the ICMPv6 message starts in the IPv6 packet `bytes` (after the extension headers that
// our own requests can carry: a fragment header for a fragmented probe, or options).
std::optional<std::size_t> icmp6Offset(Bytes bytes) {
  if (bytes.size() < kIpv6Header || (bytes[0] >> 4) != 6) return std::nullopt;
  std::uint8_t next = bytes[6];
  std::size_t offset = kIpv6Header;
  for (int hops = 0; hops < 8; ++hops) {
    if (next == kProtocolIcmp6) return offset;
    if (bytes.size() < offset + 8) return std::nullopt;
    switch (next) {
      case 0:   // hop-by-hop options
      case 43:  // routing
      case 60:  // destination options
        next = bytes[offset];
        offset += (std::size_t{bytes[offset + 1]} + 1) * 8;
        break;
      case 44:  // fragment: only the first fragment holds the ICMPv6 header
        if ((readBe16(&bytes[offset + 2]) & 0xfff8u) != 0) return std::nullopt;
        next = bytes[offset];
        offset += 8;
        break;
      default:
        return std::nullopt;
    }
  }
  return std::nullopt;
}

// An error message (header at the start of `icmp`) that quotes the IP packet of an echo request
// of ours; only raw sockets read them this way.
Packet parseError(Family family, std::uint16_t ident, Bytes icmp) {
  Packet out;
  const auto reason = errorReason(family, icmp[0], icmp[1]);
  if (!reason) return out;
  const Bytes inner = icmp.subspan(kHeaderSize);
  std::size_t quoted_at = 0;
  if (family == Family::kIpv4) {
    const auto ihl = ipv4HeaderLength(inner, kProtocolIcmp);
    if (!ihl) return out;
    quoted_at = *ihl;
    out.error.original_target = addressAt(family, &inner[16]);
  } else {
    const auto offset = icmp6Offset(inner);
    if (!offset) return out;
    quoted_at = *offset;
    out.error.original_target = addressAt(family, &inner[24]);
  }
  if (inner.size() < quoted_at + kHeaderSize) return out;
  const std::uint8_t* quoted = &inner[quoted_at];
  if (quoted[0] != echoRequestType(family) || readBe16(quoted + 4) != ident) return out;
  out.kind = Packet::Kind::kError;
  out.error.sequence = readBe16(quoted + 6);
  out.error.reason = *reason;
  return out;
}

}  // namespace

std::uint16_t checksum(std::span<const std::uint8_t> data) {
  std::uint32_t sum = 0;
  std::size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += readBe16(&data[i]);
  if (i < data.size()) sum += static_cast<std::uint32_t>(data[i] << 8);
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::optional<ErrorReason> errorReason(Family family, int type, int code) {
  if (family == Family::kIpv4) {
    switch (type) {
      case 3:  // destination unreachable; code 4: fragmentation needed and DF set
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

std::size_t writeEchoRequest(Family family, SocketKind kind, std::uint16_t ident,
                             std::uint16_t sequence, std::span<const std::uint8_t> payload,
                             std::span<std::uint8_t> out) {
  const std::size_t len = kHeaderSize + payload.size();
  if (out.size() < len) return 0;
  std::uint8_t* p = out.data();
  p[0] = echoRequestType(family);
  p[1] = 0;
  p[2] = p[3] = 0;
  p[4] = static_cast<std::uint8_t>(ident >> 8);
  p[5] = static_cast<std::uint8_t>(ident);
  p[6] = static_cast<std::uint8_t>(sequence >> 8);
  p[7] = static_cast<std::uint8_t>(sequence);
  if (!payload.empty()) std::memcpy(p + kHeaderSize, payload.data(), payload.size());
  if (family == Family::kIpv4 && kind == SocketKind::kRaw) {
    const std::uint16_t sum = checksum(out.first(len));
    p[2] = static_cast<std::uint8_t>(sum >> 8);
    p[3] = static_cast<std::uint8_t>(sum);
  }
  return len;
}

Packet parseDatagram(Family family, SocketKind kind, std::uint16_t ident,
                     std::span<const std::uint8_t> bytes) {
  Packet out;
  int ttl = -1;
  if (family == Family::kIpv4 && kind == SocketKind::kRaw) {
    const auto ihl = ipv4HeaderLength(bytes, kProtocolIcmp);
    if (!ihl) return out;
    ttl = bytes[8];
    bytes = bytes.subspan(*ihl);
  }
  if (bytes.size() < kHeaderSize) return out;
  if (bytes[0] != echoReplyType(family)) {
    // Ping sockets queue errors apart; a raw socket reads them here, with everything else.
    return kind == SocketKind::kRaw ? parseError(family, ident, bytes) : out;
  }
  if (kind == SocketKind::kRaw && readBe16(&bytes[4]) != ident) return out;  // another ping
  out.kind = Packet::Kind::kEchoReply;
  out.sequence = readBe16(&bytes[6]);
  out.payload = bytes.subspan(kHeaderSize);
  out.ttl = ttl;
  return out;
}

std::optional<IcmpErrorReport> parseQueuedError(Family family, int type, int code,
                                                const IpAddress& target,
                                                std::span<const std::uint8_t> request) {
  const auto reason = errorReason(family, type, code);
  if (!reason || request.size() < kHeaderSize || request[0] != echoRequestType(family))
    return std::nullopt;
  IcmpErrorReport report;
  report.original_target = target;
  report.original_target.scope_id = 0;
  report.sequence = readBe16(&request[6]);
  report.reason = *reason;
  return report;
}

}  // namespace reachmon::core::icmp
