// The ICMP packet parser: whatever an ICMP socket can deliver. The input is a 3-byte header and
// then the datagram (tests/fuzz/corpus/icmp_packet holds the captured packets of
// tests/icmp_packet_test.cpp in this form):
//   byte 0  bit 0: IPv6 (else IPv4); bit 1: raw socket (else ping socket);
//           bit 2: the rest is a request from a ping socket's error queue (parseQueuedError)
//   byte 1, 2  the echo identifier (big-endian), or for bit 2 the error's type and code
// The parser must stay inside the datagram (the fuzzer hands it a buffer that ends exactly there,
// so ASan sees every overread), and what it returns must point into it. Every input also takes a
// round trip through writeEchoRequest: our own request, turned into a reply, parses as that reply.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "fuzz_check.h"
#include "icmp_packet.h"

namespace {

using reachmon::core::Family;
using reachmon::core::IpAddress;
namespace icmp = reachmon::core::icmp;

void checkDatagram(Family family, icmp::SocketKind kind, std::uint16_t ident,
                   std::span<const std::uint8_t> bytes) {
  const icmp::Packet p = icmp::parseDatagram(family, kind, ident, bytes);
  switch (p.kind) {
    case icmp::Packet::Kind::kIgnored:
      break;
    case icmp::Packet::Kind::kEchoReply: {
      FUZZ_CHECK(p.payload.data() >= bytes.data());
      FUZZ_CHECK(p.payload.data() + p.payload.size() == bytes.data() + bytes.size());
      // Read the payload, as the core does when it compares it with what it sent.
      (void)icmp::checksum(p.payload);
      FUZZ_CHECK(p.ttl >= -1 && p.ttl <= 255);
      FUZZ_CHECK(kind == icmp::SocketKind::kRaw || p.ttl == -1);
      break;
    }
    case icmp::Packet::Kind::kError:
      FUZZ_CHECK(kind == icmp::SocketKind::kRaw);  // ping sockets queue errors apart
      FUZZ_CHECK(p.error.original_target.family == family);
      break;
  }
}

void checkQueuedError(Family family, int type, int code, std::span<const std::uint8_t> request) {
  IpAddress target;
  target.family = family;
  target.bytes[0] = family == Family::kIpv4 ? 192 : 0xfe;
  target.bytes[1] = family == Family::kIpv4 ? 0 : 0x80;
  target.scope_id = family == Family::kIpv6 ? 2 : 0;
  const auto report = icmp::parseQueuedError(family, type, code, target, request);
  if (!report) return;
  FUZZ_CHECK(icmp::errorReason(family, type, code) == report->reason);
  FUZZ_CHECK(report->original_target.scope_id == 0);
  FUZZ_CHECK(report->original_target.bytes == target.bytes);
}

void checkRoundTrip(Family family, icmp::SocketKind kind, std::uint16_t ident,
                    std::uint16_t sequence, std::span<const std::uint8_t> payload) {
  std::vector<std::uint8_t> out(icmp::kHeaderSize + payload.size());
  const std::size_t len = icmp::writeEchoRequest(family, kind, ident, sequence, payload, out);
  FUZZ_CHECK(len == out.size());
  FUZZ_CHECK(icmp::writeEchoRequest(family, kind, ident, sequence, payload,
                                    std::span(out).first(len - 1)) == 0);
  if (family == Family::kIpv4 && kind == icmp::SocketKind::kRaw)
    FUZZ_CHECK(icmp::checksum(out) == 0);
  out[0] = family == Family::kIpv4 ? 0 : 129;  // the echo reply a responder would send back
  const icmp::Packet p = icmp::parseDatagram(family, icmp::SocketKind::kDatagram, ident, out);
  FUZZ_CHECK(p.kind == icmp::Packet::Kind::kEchoReply);
  FUZZ_CHECK(p.sequence == sequence);
  FUZZ_CHECK(std::equal(p.payload.begin(), p.payload.end(), payload.begin(), payload.end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 3) return 0;
  const Family family = (data[0] & 1) != 0 ? Family::kIpv6 : Family::kIpv4;
  const auto kind = (data[0] & 2) != 0 ? icmp::SocketKind::kRaw : icmp::SocketKind::kDatagram;
  const auto ident = static_cast<std::uint16_t>((data[1] << 8) | data[2]);
  const std::span<const std::uint8_t> bytes(data + 3, size - 3);
  if ((data[0] & 4) != 0) {
    checkQueuedError(family, data[1], data[2], bytes);
  } else {
    checkDatagram(family, kind, ident, bytes);
  }
  checkRoundTrip(family, kind, ident, static_cast<std::uint16_t>(size), bytes);
  return 0;
}
