// The UDP probe datagram as bytes: its header, and errors read from a UDP socket's error queue.
#include "udp_probe.h"

#include <catch2/catch.hpp>
#include <vector>

#include "fakes.h"

using namespace reachmon;
using reachmon::test::ip;

TEST_CASE("UDP datagram: the header round-trips and foreign data has no sequence", "[udp]") {
  std::vector<std::uint8_t> d(20, 0xee);
  core::udp::writeHeader(d, 0x0102030405060708ULL, 0xbeef);
  CHECK(d[0] == 'R');
  CHECK(d[3] == 'D');
  CHECK(d[12] == 0xbe);  // big-endian on the wire, readable in a capture
  CHECK(d[13] == 0xef);
  CHECK(d[14] == 0xee);  // the filler is left alone
  CHECK(core::udp::sequenceOf(d) == 0xbeef);
  CHECK(core::udp::sequenceOf(std::span(d).first(core::udp::kHeaderSize)) == 0xbeef);
  CHECK_FALSE(core::udp::sequenceOf(std::span(d).first(core::udp::kHeaderSize - 1)));
  d[1] = 'X';
  CHECK_FALSE(core::udp::sequenceOf(d));
  CHECK_FALSE(core::udp::sequenceOf({}));
}

TEST_CASE("UDP datagram: port unreachable is type 3 code 3, or ICMPv6 type 1 code 4", "[udp]") {
  using core::Family;
  CHECK(core::udp::isPortUnreachable(Family::kIpv4, 3, 3));
  CHECK_FALSE(core::udp::isPortUnreachable(Family::kIpv4, 3, 1));
  CHECK_FALSE(core::udp::isPortUnreachable(Family::kIpv4, 1, 4));
  CHECK(core::udp::isPortUnreachable(Family::kIpv6, 1, 4));
  CHECK_FALSE(core::udp::isPortUnreachable(Family::kIpv6, 1, 3));
  CHECK_FALSE(core::udp::isPortUnreachable(Family::kIpv6, 3, 3));
}

TEST_CASE("UDP datagram: queued errors keep the quote and say what kind they are", "[udp]") {
  using core::ErrorReason;
  using core::Family;
  std::vector<std::uint8_t> d(56, 0);
  core::udp::writeHeader(d, 7, 513);
  const auto target = ip("198.51.100.1");
  const auto port = core::udp::parseQueuedError(Family::kIpv4, 3, 3, target, 33434, d);
  REQUIRE(port);
  CHECK(port->probe == core::ProbeKind::kUdp);
  CHECK(port->port_unreachable);
  CHECK(port->reason == ErrorReason::kDestUnreachable);
  CHECK(port->original_port == 33434);
  CHECK(port->sequence == 513);
  REQUIRE(port->quoted);
  CHECK(port->quoted->size() == 56);

  const auto host = core::udp::parseQueuedError(Family::kIpv4, 3, 1, target, 33434, {});
  REQUIRE(host);
  CHECK_FALSE(host->port_unreachable);
  CHECK(host->reason == ErrorReason::kDestUnreachable);
  REQUIRE(host->quoted);
  CHECK(host->quoted->empty());  // the core counts it as unmatched

  const auto hop = core::udp::parseQueuedError(Family::kIpv6, 3, 0, ip("2001:db8::1"), 1, d);
  REQUIRE(hop);
  CHECK(hop->reason == ErrorReason::kTtlExpired);
  const auto big = core::udp::parseQueuedError(Family::kIpv6, 2, 0, ip("2001:db8::1"), 1, d);
  REQUIRE(big);
  CHECK(big->reason == ErrorReason::kPacketTooBig);
  CHECK_FALSE(core::udp::parseQueuedError(Family::kIpv4, 0, 0, target, 1, d));  // echo reply
}
