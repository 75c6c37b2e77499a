// Packet parsing over real bytes. Every hex string below was captured on Linux 6.1 in network
// namespaces (a monitor and a router with unreachable routes and forwarding), read with recvfrom
// from raw and ping sockets of the monitor (raw ones without ICMP filters, so that they also saw
// our own requests and a neighbour advertisement); our requests used identifier 0x1234 and the
// 16-byte payload "RMON" 01..08 0c..0f.
#include "icmp_packet.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using namespace reachmon;
using core::ErrorReason;
using core::Family;
using core::icmp::Packet;
using core::icmp::SocketKind;
using Kind = Packet::Kind;

namespace {

std::vector<std::uint8_t> hex(std::string_view text) {
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i + 1 < text.size(); i += 2)
    out.push_back(
        static_cast<std::uint8_t>(std::stoi(std::string(text.substr(i, 2)), nullptr, 16)));
  return out;
}

constexpr std::uint16_t kIdent = 0x1234;
constexpr std::string_view kPayload = "524d4f4e01020304050607080c0d0e0f";

// Raw IPv4 socket, ping 127.0.0.1: our request as the raw socket sees it, then the reply.
constexpr std::string_view kV4Request =
    "4500002cf51e4000400147b07f0000017f000001080019f912340007524d4f4e01020304050607080c0d0e0f";
constexpr std::string_view kV4Reply =
    "4500002cf51f0000400187af7f0000017f000001000021f912340007524d4f4e01020304050607080c0d0e0f";
// From router 10.99.1.1: host unreachable for our request (sequence 21) to 203.0.113.5.
constexpr std::string_view kV4Unreachable =
    "45c00048b92c00004001aa000a6301010a6301020301fcfe000000004500002c61c14000400191a50a630102cb00"
    "7105080019eb12340015524d4f4e01020304050607080c0d0e0f";
// From router 10.99.1.1: TTL exceeded in transit for our request (sequence 22) to 192.0.2.9.
constexpr std::string_view kV4TtlExceeded =
    "45c00048b98f00004001a99d0a6301010a6301020b00f4ff000000004500002c912a400001011b390a630102c000"
    "0209080019ea12340016524d4f4e01020304050607080c0d0e0f";
// Ping socket, 127.0.0.1 (sequence 9; the kernel chose identifier 0x5a7f and strips headers).
constexpr std::string_view kV4PingReply = "0000d9ab5a7f0009524d4f4e01020304050607080c0d0e0f";

// Raw ICMPv6 socket (the kernel never passes the IPv6 header), ping ::1.
constexpr std::string_view kV6Request = "8000a1a412340007524d4f4e01020304050607080c0d0e0f";
constexpr std::string_view kV6Reply = "8100a0a412340007524d4f4e01020304050607080c0d0e0f";
// From router fd99::1: no route (type 1 code 0) for our request (sequence 21) to 2001:db8:99::5.
constexpr std::string_view kV6Unreachable =
    "0100ae2e00000000600fbb0200183a40fd99000000000000000000000000000220010db800990000000000000000"
    "0005800075a512340015524d4f4e01020304050607080c0d0e0f";
// From router fd99::1: hop limit exceeded for our request (sequence 22) to 2001:db8:5::9.
constexpr std::string_view kV6HopLimit =
    "0300e10b000000006003867000183a01fd99000000000000000000000000000220010db800050000000000000000"
    "00098000763412340016524d4f4e01020304050607080c0d0e0f";
// No route for a 2016-byte request (sequence 23) that left in two fragments: the error about the
// first fragment quotes a fragment header before our echo header (kept here to 113 bytes of the
// 1240 quoted); the one about the second fragment holds no echo header at all.
constexpr std::string_view kV6UnreachableFirstFragment =
    "0100befe00000000600fbb0205b02c40fd99000000000000000000000000000220010db800990000000000000000"
    "00053a00000177f448e280006dd312340017524d4f4e01020304050607080c0d0e0f0000000000000000000000"
    "00000000000000000000000000000000000000000000";
constexpr std::string_view kV6UnreachableSecondFragment =
    "01008b0a00000000600fbb0202482c40fd99000000000000000000000000000220010db800990000000000000000"
    "00053a0005a877f448e2000000000000000000000000000000000000000000000000000000000000";
// A neighbour advertisement that the raw socket also read.
constexpr std::string_view kV6NeighbourAdvert =
    "8800bdb4e0000000fd9900000000000000000000000000010201a2dff5ec4650";
constexpr std::string_view kV6PingReply = "810058565a800009524d4f4e01020304050607080c0d0e0f";

std::string truncated(std::string_view h, std::size_t bytes) {
  return std::string(h.substr(0, 2 * bytes));
}

std::string patched(std::string_view h, std::size_t byte, std::string_view value) {
  std::string s(h);
  s.replace(2 * byte, value.size(), value);
  return s;
}

struct Case {
  const char* name;
  Family family;
  SocketKind kind;
  std::string bytes;
  Kind expected;
  std::uint16_t sequence = 0;
  int ttl = -1;
  const char* target = nullptr;  // kError
  ErrorReason reason = ErrorReason::kDestUnreachable;
  std::uint16_t ident = kIdent;
};

}  // namespace

TEST_CASE("IcmpPacket: captured datagrams parse to what they are", "[icmp_packet]") {
  const auto v4 = Family::kIpv4;
  const auto v6 = Family::kIpv6;
  const auto raw = SocketKind::kRaw;
  const auto dgram = SocketKind::kDatagram;
  const std::vector<Case> cases = {
      {"v4 raw: echo reply after its IPv4 header", v4, raw, std::string(kV4Reply), Kind::kEchoReply,
       7, 64},
      {"v4 raw: our own request, looped back", v4, raw, std::string(kV4Request), Kind::kIgnored},
      {"v4 raw: another program's reply", v4, raw, std::string(kV4Reply), Kind::kIgnored, 0, -1,
       nullptr, ErrorReason::kDestUnreachable, 0x9999},
      {"v4 raw: host unreachable quoting our request", v4, raw, std::string(kV4Unreachable),
       Kind::kError, 21, -1, "203.0.113.5", ErrorReason::kDestUnreachable},
      {"v4 raw: TTL exceeded quoting our request", v4, raw, std::string(kV4TtlExceeded),
       Kind::kError, 22, -1, "192.0.2.9", ErrorReason::kTtlExpired},
      {"v4 raw: an error about another program's request", v4, raw, std::string(kV4TtlExceeded),
       Kind::kIgnored, 0, -1, nullptr, ErrorReason::kDestUnreachable, 0x9999},
      {"v4 raw: fragmentation needed is packet_too_big", v4, raw, patched(kV4Unreachable, 21, "04"),
       Kind::kError, 21, -1, "203.0.113.5", ErrorReason::kPacketTooBig},
      {"v4 ping socket: echo reply without header", v4, dgram, std::string(kV4PingReply),
       Kind::kEchoReply, 9},
      {"v4 ping socket: a reply with no data", v4, dgram, truncated(kV4PingReply, 8),
       Kind::kEchoReply, 9},
      {"v6 raw: echo reply", v6, raw, std::string(kV6Reply), Kind::kEchoReply, 7},
      {"v6 raw: our own request, looped back", v6, raw, std::string(kV6Request), Kind::kIgnored},
      {"v6 raw: no route quoting our request", v6, raw, std::string(kV6Unreachable), Kind::kError,
       21, -1, "2001:db8:99::5", ErrorReason::kDestUnreachable},
      {"v6 raw: hop limit exceeded quoting our request", v6, raw, std::string(kV6HopLimit),
       Kind::kError, 22, -1, "2001:db8:5::9", ErrorReason::kTtlExpired},
      {"v6 raw: an error quoting the first fragment of our request", v6, raw,
       std::string(kV6UnreachableFirstFragment), Kind::kError, 23, -1, "2001:db8:99::5",
       ErrorReason::kDestUnreachable},
      {"v6 raw: an error quoting a later fragment", v6, raw,
       std::string(kV6UnreachableSecondFragment), Kind::kIgnored},
      {"v6 raw: a neighbour advertisement", v6, raw, std::string(kV6NeighbourAdvert),
       Kind::kIgnored},
      {"v6 ping socket: echo reply", v6, dgram, std::string(kV6PingReply), Kind::kEchoReply, 9},
      {"v6 ping socket: an error is never read as a reply", v6, dgram, std::string(kV6Unreachable),
       Kind::kIgnored},
      // Truncated and malformed datagrams.
      {"v4 raw: shorter than an IPv4 header", v4, raw, truncated(kV4Reply, 19), Kind::kIgnored},
      {"v4 raw: header length below 20 bytes", v4, raw, patched(kV4Reply, 0, "44"), Kind::kIgnored},
      {"v4 raw: header length beyond the datagram", v4, raw, patched(kV4Reply, 0, "4f"),
       Kind::kIgnored},
      {"v4 raw: not IPv4", v4, raw, patched(kV4Reply, 0, "65"), Kind::kIgnored},
      {"v4 raw: not ICMP", v4, raw, patched(kV4Reply, 9, "11"), Kind::kIgnored},
      {"v4 raw: ICMP header cut short", v4, raw, truncated(kV4Reply, 27), Kind::kIgnored},
      {"v4 raw: quoted packet cut before our echo header", v4, raw,
       truncated(kV4Unreachable, 20 + 8 + 20 + 7), Kind::kIgnored},
      {"v4 raw: quoted packet is not ICMP", v4, raw, patched(kV4Unreachable, 37, "06"),
       Kind::kIgnored},
      {"v4 raw: quoted header length below 20 bytes", v4, raw, patched(kV4Unreachable, 28, "42"),
       Kind::kIgnored},
      {"v4 ping socket: 7 bytes", v4, dgram, truncated(kV4PingReply, 7), Kind::kIgnored},
      {"v6 raw: quoted packet cut before our echo header", v6, raw,
       truncated(kV6Unreachable, 8 + 40 + 7), Kind::kIgnored},
      {"v6 raw: quoted packet is not IPv6", v6, raw, patched(kV6Unreachable, 8, "40"),
       Kind::kIgnored},
      {"v6 raw: quoted packet carries UDP", v6, raw, patched(kV6Unreachable, 14, "11"),
       Kind::kIgnored},
      {"v6 raw: empty", v6, raw, "", Kind::kIgnored},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    const auto bytes = hex(c.bytes);
    const Packet p = core::icmp::parseDatagram(c.family, c.kind, c.ident, bytes);
    REQUIRE(p.kind == c.expected);
    if (c.expected == Kind::kEchoReply) {
      CHECK(p.sequence == c.sequence);
      CHECK(p.ttl == c.ttl);
      const auto payload = hex(kPayload);
      const std::size_t data = bytes.size() - (c.ttl >= 0 ? 20 : 0) - 8;
      REQUIRE(p.payload.size() == data);
      CHECK(std::equal(p.payload.begin(), p.payload.end(), payload.begin()));
    }
    if (c.expected == Kind::kError) {
      CHECK(p.error.sequence == c.sequence);
      CHECK(p.error.reason == c.reason);
      CHECK(p.error.original_target == *core::parseIpAddress(c.target));
    }
  }
}

TEST_CASE("IcmpPacket: echo requests are written as the kernel expects them", "[icmp_packet]") {
  const auto payload = hex(kPayload);
  std::vector<std::uint8_t> out(64, 0xee);
  // A raw IPv4 request carries our checksum: byte for byte the request captured above.
  auto len = core::icmp::writeEchoRequest(Family::kIpv4, SocketKind::kRaw, kIdent, 7, payload, out);
  CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<long>(len)) ==
        hex(std::string(kV4Request).substr(40)));
  CHECK(core::icmp::checksum(std::span(out.data(), len)) == 0);
  // Ping sockets and ICMPv6 get their checksum from the kernel.
  len = core::icmp::writeEchoRequest(Family::kIpv6, SocketKind::kRaw, kIdent, 7, payload, out);
  auto v6 = hex(kV6Request);
  v6[2] = v6[3] = 0;
  CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + static_cast<long>(len)) == v6);
  len = core::icmp::writeEchoRequest(Family::kIpv4, SocketKind::kDatagram, 0, 0x0102, {}, out);
  CHECK(len == 8);
  CHECK(std::vector<std::uint8_t>(out.begin(), out.begin() + 8) ==
        std::vector<std::uint8_t>{8, 0, 0, 0, 0, 0, 1, 2});
}

TEST_CASE("IcmpPacket: the Internet checksum", "[icmp_packet]") {
  // RFC 1071, section 3: the sum of these bytes is ddf2, so the checksum is its complement.
  const std::vector<std::uint8_t> rfc = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  CHECK(core::icmp::checksum(rfc) == 0x220d);
  // An odd length pads with a zero byte.
  CHECK(core::icmp::checksum(std::vector<std::uint8_t>{0x01}) == 0xfeff);
  // A captured packet with its checksum in place sums to zero.
  const auto reply = hex(kV4Reply);
  CHECK(core::icmp::checksum(std::span(reply).subspan(20)) == 0);
  CHECK(core::icmp::checksum({}) == 0xffff);
}

TEST_CASE("IcmpPacket: error types and codes map to reason labels", "[icmp_packet]") {
  using core::icmp::errorReason;
  CHECK(errorReason(Family::kIpv4, 3, 0) == ErrorReason::kDestUnreachable);
  CHECK(errorReason(Family::kIpv4, 3, 1) == ErrorReason::kDestUnreachable);
  CHECK(errorReason(Family::kIpv4, 3, 13) == ErrorReason::kDestUnreachable);
  CHECK(errorReason(Family::kIpv4, 3, 4) == ErrorReason::kPacketTooBig);
  CHECK(errorReason(Family::kIpv4, 11, 0) == ErrorReason::kTtlExpired);
  CHECK(errorReason(Family::kIpv4, 11, 1) == ErrorReason::kTtlExpired);
  CHECK(errorReason(Family::kIpv4, 12, 0) == ErrorReason::kParameterProblem);
  for (int type : {0, 4, 5, 8}) CHECK_FALSE(errorReason(Family::kIpv4, type, 0).has_value());
  CHECK(errorReason(Family::kIpv6, 1, 0) == ErrorReason::kDestUnreachable);
  CHECK(errorReason(Family::kIpv6, 1, 4) == ErrorReason::kDestUnreachable);
  CHECK(errorReason(Family::kIpv6, 2, 0) == ErrorReason::kPacketTooBig);
  CHECK(errorReason(Family::kIpv6, 3, 0) == ErrorReason::kTtlExpired);
  CHECK(errorReason(Family::kIpv6, 4, 1) == ErrorReason::kParameterProblem);
  for (int type : {128, 129, 135, 136})
    CHECK_FALSE(errorReason(Family::kIpv6, type, 0).has_value());
}

TEST_CASE("IcmpPacket: errors from a ping socket's error queue", "[icmp_packet]") {
  using core::icmp::parseQueuedError;
  // The kernel hands back the start of the request it could not deliver.
  const auto request = hex(kV4PingReply);
  auto ours = request;
  ours[0] = 8;  // an echo request
  auto target = *core::parseIpAddress("192.0.2.9");
  const auto report = parseQueuedError(Family::kIpv4, 11, 0, target, ours);
  REQUIRE(report.has_value());
  CHECK(report->sequence == 9);
  CHECK(report->reason == ErrorReason::kTtlExpired);
  CHECK(report->original_target == target);
  auto v6 = hex(kV6Request);
  auto scoped = *core::parseIpAddress("fe80::1%2");
  const auto r6 = parseQueuedError(Family::kIpv6, 1, 3, scoped, v6);
  REQUIRE(r6.has_value());
  CHECK(r6->sequence == 7);
  CHECK(r6->original_target.scope_id == 0);  // replies carry no zone either
  CHECK_FALSE(parseQueuedError(Family::kIpv4, 11, 0, target, request).has_value());  // a reply
  CHECK_FALSE(parseQueuedError(Family::kIpv4, 0, 0, target, ours).has_value());      // not an error
  CHECK_FALSE(parseQueuedError(Family::kIpv4, 3, 1, target, std::span(ours).first(7)).has_value());
}
