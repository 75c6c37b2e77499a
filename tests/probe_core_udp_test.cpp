// ProbeCore with UDP probes: what their datagrams carry, and which echoes and ICMP errors count
// for which probe. The engines' part (sockets, error queues, Winsock lanes) is tested in
// linux_engine_test, win_udp_test and the netns and Wine tests.
#include <catch2/catch.hpp>
#include <cstring>

#include "probe_rig.h"
#include "udp_probe.h"

using namespace reachmon;
using namespace reachmon::test;
using core::Duration;
using core::ErrorReason;

namespace {

core::PathSpec udpPath(const char* target, std::uint16_t port = 33434, Duration timeout = 500ms) {
  auto p = Rig::path("a", "t", target, 1s, timeout);
  p.options.probe = core::ProbeKind::kUdp;
  p.options.port = port;
  return p;
}

// A rig with one UDP path a (192.0.2.1) -> 198.51.100.1:port that has sent one probe.
struct UdpRig : Rig {
  explicit UdpRig(std::uint16_t port = 33434) {
    core.apply({{source("a", "192.0.2.1")}, {udpPath("198.51.100.1", port)}}, Duration{0});
    core.runDue();
    REQUIRE(transport.sent.size() == 1);
  }
  std::uint64_t errors(ErrorReason r) const { return v(stats(0).errors[static_cast<int>(r)]); }
  std::uint64_t unmatched() const { return v(monitor_stats.unmatched_errors); }
};

}  // namespace

TEST_CASE("UDP: the datagram carries magic, nonce and sequence, to the configured port", "[udp]") {
  UdpRig rig(40000);
  rig.clock.advance(1s);
  rig.core.runDue();
  REQUIRE(rig.transport.sent.size() == 2);
  for (const auto& sent : rig.transport.sent) {
    CHECK(sent.options.probe == core::ProbeKind::kUdp);
    CHECK(sent.options.port == 40000);
    CHECK(sent.payload.size() == 56);
    CHECK(std::memcmp(sent.payload.data(), "RMUD", 4) == 0);
    CHECK(core::udp::sequenceOf(sent.payload) == sent.sequence);
  }
  // A fresh nonce per probe.
  CHECK(std::memcmp(rig.transport.sent[0].payload.data() + 4,
                    rig.transport.sent[1].payload.data() + 4, 8) != 0);
}

TEST_CASE("UDP: an echo from the target's port counts, with its RTT", "[udp]") {
  UdpRig rig;
  rig.core.onReply(rig.transport.replyTo(0, 3ms));
  CHECK(v(rig.stats(0).replied) == 1);
  CHECK(rig.stats(0).last_rtt_ns.load() == 3'000'000);
  rig.core.onReply(rig.transport.replyTo(0, 4ms));
  CHECK(v(rig.stats(0).duplicate) == 1);
}

TEST_CASE("UDP: echoes from another port or address, or to another source, are strays", "[udp]") {
  UdpRig rig;
  auto other_port = rig.transport.replyTo(0, 3ms);
  other_port.from_port = 33435;
  rig.core.onReply(other_port);
  auto other_host = rig.transport.replyTo(0, 3ms);
  other_host.from = ip("198.51.100.2");
  rig.core.onReply(other_host);
  auto other_source = rig.transport.replyTo(0, 3ms);
  other_source.to = ip("192.0.2.2");
  rig.core.onReply(other_source);
  auto as_icmp = rig.transport.replyTo(0, 3ms);  // an ICMP echo reply with the same number
  as_icmp.probe = core::ProbeKind::kIcmp;
  rig.core.onReply(as_icmp);
  CHECK(v(rig.monitor_stats.invalid_replies) == 4);
  CHECK(v(rig.stats(0).replied) == 0);
  CHECK(v(rig.stats(0).corrupted) == 0);
}

TEST_CASE("UDP: an echo with any other byte is corrupted and never a reply", "[udp]") {
  UdpRig rig;
  const auto original = rig.transport.sent[0].payload;
  for (std::size_t at : {std::size_t{5}, std::size_t{13}, std::size_t{30}, original.size() - 1}) {
    auto bytes = original;
    bytes[at] ^= 0xff;
    auto reply = rig.transport.replyTo(0, 3ms);
    reply.payload = bytes;
    rig.core.onReply(reply);
  }
  auto shorter = rig.transport.replyTo(0, 3ms);
  shorter.payload = shorter.payload.first(original.size() - 1);
  rig.core.onReply(shorter);
  CHECK(v(rig.stats(0).corrupted) == 5);
  CHECK(v(rig.stats(0).replied) == 0);
  rig.clock.advance(600ms);
  rig.core.runDue();
  CHECK(rig.errors(ErrorReason::kCorruptedReply) == 1);
}

TEST_CASE("UDP: a port unreachable from the target is reached, timed by the error", "[udp]") {
  UdpRig rig;
  rig.core.onError(core::Family::kIpv4, rig.transport.udpErrorTo(0, 2ms));
  const auto& s = rig.stats(0);
  CHECK(v(s.replied) == 1);
  CHECK(s.last_rtt_ns.load() == 2'000'000);
  CHECK(s.reply_ttl.load() == 62);  // the TTL of the ICMP error
  CHECK(s.state.load() == core::PathState::kUp);
  rig.core.onError(core::Family::kIpv4, rig.transport.udpErrorTo(0, 5ms));
  CHECK(v(s.duplicate) == 1);
  rig.clock.advance(600ms);
  rig.core.runDue();
  CHECK(v(s.timed_out) == 0);
}

TEST_CASE("UDP: the kernel's receive timestamp of the error times it", "[udp]") {
  UdpRig rig;
  auto error = rig.transport.udpErrorTo(0, 9ms);
  // ProbeCore takes the kernel's wall-clock time when it agrees with the monotonic reading; the
  // fake transport reports no send time, so the monotonic one stands: RTT 9 ms.
  error.realtime_rx_ns = 123;
  rig.core.onError(core::Family::kIpv4, error);
  CHECK(rig.stats(0).last_rtt_ns.load() == 9'000'000);
}

TEST_CASE("UDP: a port unreachable from another address is dest_unreachable", "[udp]") {
  UdpRig rig;
  auto error = rig.transport.udpErrorTo(0, 2ms);
  error.offender = ip("203.0.113.1");  // a firewall on the way
  rig.core.onError(core::Family::kIpv4, error);
  CHECK(v(rig.stats(0).replied) == 0);
  CHECK(rig.errors(ErrorReason::kDestUnreachable) == 1);
  CHECK(rig.stats(0).state.load() == core::PathState::kError);
}

TEST_CASE("UDP: TTL expiry and host unreachable end the probe with their reason", "[udp]") {
  UdpRig rig;
  auto expired = rig.transport.udpErrorTo(0, 1ms, 520, false, ErrorReason::kTtlExpired);
  expired.offender = ip("10.0.0.1");
  rig.core.onError(core::Family::kIpv4, expired);
  CHECK(rig.errors(ErrorReason::kTtlExpired) == 1);
  rig.clock.advance(1s);
  rig.core.runDue();
  auto host = rig.transport.udpErrorTo(1, 1ms, 520, false, ErrorReason::kDestUnreachable);
  host.offender = ip("10.0.0.1");
  rig.core.onError(core::Family::kIpv4, host);
  CHECK(rig.errors(ErrorReason::kDestUnreachable) == 1);
  CHECK(v(rig.stats(0).timed_out) == 0);
  CHECK(rig.unmatched() == 0);
}

TEST_CASE("UDP: an error whose quote cannot name the probe is unmatched and counts nothing",
          "[udp]") {
  UdpRig rig;
  // RFC 792's minimum (headers only) and a quote one byte short of the probe header.
  rig.core.onError(core::Family::kIpv4, rig.transport.udpErrorTo(0, 1ms, 0));
  rig.core.onError(core::Family::kIpv4,
                   rig.transport.udpErrorTo(0, 1ms, core::udp::kHeaderSize - 1));
  CHECK(rig.unmatched() == 2);
  CHECK(v(rig.stats(0).replied) == 0);
  // Exactly the header is enough.
  rig.core.onError(core::Family::kIpv4, rig.transport.udpErrorTo(0, 1ms, core::udp::kHeaderSize));
  CHECK(v(rig.stats(0).replied) == 1);
}

TEST_CASE("UDP: an error that disagrees with the probe in any detail is unmatched", "[udp]") {
  UdpRig rig;
  const auto& sent = rig.transport.sent[0];
  std::vector<core::IcmpErrorReport> wrong(6, rig.transport.udpErrorTo(0, 1ms));
  auto other_nonce = sent.payload;
  other_nonce[6] ^= 1;
  wrong[0].quoted = std::span<const std::uint8_t>(other_nonce);
  auto other_filler = sent.payload;
  other_filler[40] ^= 1;
  wrong[1].quoted = std::span<const std::uint8_t>(other_filler);
  wrong[2].original_port = 33435;
  wrong[3].original_target = ip("198.51.100.2");
  wrong[4].original_source = ip("192.0.2.2");
  auto other_magic = sent.payload;
  other_magic[0] = 'X';
  wrong[5].quoted = std::span<const std::uint8_t>(other_magic);
  for (const auto& error : wrong) rig.core.onError(core::Family::kIpv4, error);
  CHECK(rig.unmatched() == wrong.size());
  CHECK(v(rig.stats(0).replied) == 0);
  CHECK(rig.errors(ErrorReason::kDestUnreachable) == 0);
}

TEST_CASE("UDP: an engine that names the probe itself (Windows) needs no quote", "[udp]") {
  UdpRig rig;
  auto error = rig.transport.udpErrorTo(0, 4ms);
  error.quoted.reset();
  error.offender.reset();  // Winsock does not say who sent the port unreachable
  error.sequence = rig.transport.sent[0].sequence;
  rig.core.onError(core::Family::kIpv4, error);
  CHECK(v(rig.stats(0).replied) == 1);
  CHECK(rig.stats(0).last_rtt_ns.load() == 4'000'000);
}

TEST_CASE("UDP: ICMP and UDP probes never answer for each other", "[udp]") {
  Rig rig;
  auto icmp = Rig::path("a", "icmp", "198.51.100.1", 1s, 500ms);
  auto udp = udpPath("198.51.100.1");
  udp.target = "udp";
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {icmp, udp}}, Duration{0});
  rig.runFor(1s);
  REQUIRE(rig.transport.sent.size() == 2);
  const std::size_t u = rig.transport.sent[0].options.probe == core::ProbeKind::kUdp ? 0 : 1;
  const std::size_t i = 1 - u;
  // The ICMP error of an echo request, with the UDP probe's number, is not the UDP probe's.
  rig.core.onError(core::Family::kIpv4, icmpError("198.51.100.1", rig.transport.sent[u].sequence,
                                                  ErrorReason::kTtlExpired));
  // A UDP error quoting the ICMP probe's data does not name the ICMP probe.
  auto quoting_icmp = rig.transport.udpErrorTo(i, 1ms);
  rig.core.onError(core::Family::kIpv4, quoting_icmp);
  for (std::size_t k = 0; k < 2; ++k) {
    CHECK(v(rig.stats(k).replied) == 0);
    CHECK(v(rig.stats(k).errors[static_cast<int>(ErrorReason::kTtlExpired)]) == 0);
  }
}

TEST_CASE("UDP: a reload that changes the probe kind or port starts the path afresh", "[udp]") {
  UdpRig rig;
  rig.core.onReply(rig.transport.replyTo(0, 1ms));
  REQUIRE(v(rig.stats(0).replied) == 1);
  rig.clock.advance(1s);
  rig.core.runDue();
  REQUIRE(rig.transport.sent.size() == 2);
  const auto in_flight = rig.transport.replyTo(1, 1ms);

  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {udpPath("198.51.100.1", 7)}}, Duration{0});
  CHECK(v(rig.stats(0).replied) == 0);
  CHECK(v(rig.stats(0).sent) == 0);
  rig.core.onReply(in_flight);  // the old path's probe answers nothing now
  CHECK(v(rig.stats(0).replied) == 0);

  rig.core.onReply(rig.transport.replyTo(1, 1ms));
  auto icmp = Rig::path("a", "t", "198.51.100.1", 1s, 500ms);
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {icmp}}, Duration{0});
  CHECK(v(rig.stats(0).sent) == 0);
  CHECK(rig.box.get()->paths.at(0).spec->options.probe == core::ProbeKind::kIcmp);
  // The same kind and port with other options keeps the counters.
  rig.runFor(10ms);
  REQUIRE(v(rig.stats(0).sent) == 1);
  icmp.options.ttl = 9;
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {icmp}}, Duration{0});
  CHECK(v(rig.stats(0).sent) == 1);
  // An ICMP path ignores the port it inherits (a reload of defaults.port for the UDP targets).
  icmp.options.port = 9;
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {icmp}}, Duration{0});
  CHECK(v(rig.stats(0).sent) == 1);
}
