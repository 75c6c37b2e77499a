// UDP probes on the Windows engine (WSASendMsg / WSARecvMsg on one socket per probe in flight,
// completion routines as APCs on the probe thread), driven turn by turn on the test thread with
// a fake clock and a fake Winsock layer that completes operations with QueueUserAPC
// (fake_winsock_api.h): first what the transport hands to a recording sink, then what a real
// ProbeLoop counts; and once against the real Winsock (under Wine: UDP echo on loopback).
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "fake_icmp_api.h"
#include "fake_winsock_api.h"
#include "fakes.h"
#include "platform/win/udp_transport.h"
#include "platform/win/win_engine.h"
#include "platform/win/winsock.h"
#include "probe_loop.h"
#include "udp_probe.h"

using namespace reachmon;
using namespace reachmon::test;
using WsMode = FakeWinsockApi::Mode;
using core::ErrorReason;

namespace {

core::PathSpec udpPath(std::string source, std::string target, const char* address,
                       core::Duration interval = 100ms, core::Duration timeout = 60ms) {
  core::PathSpec p{std::move(source), std::move(target), address, {}, ip(address), {}};
  p.options.interval = interval;
  p.options.timeout = timeout;
  p.options.probe = core::ProbeKind::kUdp;
  return p;
}

core::SourceSpec source(std::string name, const char* address) {
  return {std::move(name), ip(address).family, ip(address), std::nullopt};
}

std::vector<core::InterfaceInfo> fakeInterfaces() {
  return {
      core::InterfaceInfo{"Ethernet 2",
                          12,
                          true,
                          {ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1"), ip("fe80::1%12")},
                          0x6000000000000ULL,
                          "{4D36E972-E325-11CE-BFC1-08002BE10318}"}};
}

std::uint64_t error(const core::PathStats& s, ErrorReason r) {
  return s.errors[static_cast<std::size_t>(r)].load();
}

// Everything the transport hands over, copied (a reply's payload lives in the socket's buffer).
struct RecordingSink final : core::ReplySink {
  struct Reply {
    core::EchoReply reply;
    std::vector<std::uint8_t> data;
  };
  std::vector<Reply> replies;
  std::vector<std::pair<core::Family, core::IcmpErrorReport>> errors;
  void onReply(const core::EchoReply& r) override {
    replies.push_back({r, {r.payload.begin(), r.payload.end()}});
  }
  void onError(core::Family f, const core::IcmpErrorReport& e) override {
    errors.emplace_back(f, e);
  }
};

// A UDP probe's datagram: header, then filler.
std::vector<std::uint8_t> datagram(std::uint16_t sequence, std::size_t size = 56,
                                   std::uint64_t nonce = 0x1122334455667788ULL) {
  std::vector<std::uint8_t> d(size);
  for (std::size_t i = 0; i < size; ++i) d[i] = static_cast<std::uint8_t>(i);
  core::udp::writeHeader(d, nonce, sequence);
  return d;
}

// The WinEngine with both fakes, its transport fed by hand and its waits run by the test thread.
struct EngineRig {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<FakeIcmpApi> icmp = std::make_shared<FakeIcmpApi>(*clock);
  std::shared_ptr<FakeWinsockApi> ws = std::make_shared<FakeWinsockApi>(*clock);
  core::win::WinEngine engine{icmp, clock, fakeInterfaces(), ws};
  RecordingSink sink;
  core::ProbeOptions options = [] {
    core::ProbeOptions o;
    o.probe = core::ProbeKind::kUdp;
    o.port = 7;
    o.timeout = 60ms;
    return o;
  }();

  core::SendResult send(const char* from, const char* to, std::uint16_t sequence,
                        std::size_t size = 56) {
    const auto data = datagram(sequence, size);
    const auto src = ip(from), dst = ip(to);
    return engine.transport().send({src, dst, sequence, data, options});
  }
  // Completes what is due, then lets the routines run (an alertable wait that returns at once).
  void turn() {
    ws->completeDue();
    engine.wait(0ms, sink);
  }
  void runFor(core::Duration total, core::Duration step = 100us) {
    for (core::Duration t{0}; t < total; t += step) {
      turn();
      clock->advance(step);
    }
  }
};

// A probe loop on the WinEngine with both fakes, run by the test thread on a fake clock.
struct LoopRig {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  std::shared_ptr<FakeIcmpApi> icmp = std::make_shared<FakeIcmpApi>(*clock);
  std::shared_ptr<FakeWinsockApi> ws = std::make_shared<FakeWinsockApi>(*clock);
  std::unique_ptr<core::ProbeLoop> loop = std::make_unique<core::ProbeLoop>(
      clock, std::make_unique<core::win::WinEngine>(icmp, clock, fakeInterfaces(), ws), 3);

  void runFor(core::Duration total, core::Duration step = 100us) {
    for (core::Duration t{0}; t < total; t += step) {
      icmp->completeDue();
      ws->completeDue();
      loop->turn(0ms);
      clock->advance(step);
    }
  }
  const core::PathStats& stats(const std::string& target, const std::string& src = "a") const {
    return pathStats(*loop, target, src);
  }
};

}  // namespace

TEST_CASE("WinEngine: udp send completed at once still owns its datagram until its routine",
          "[win]") {
  EngineRig rig;
  rig.ws->fallback = {WsMode::kEcho, 2ms, /*send_at_once=*/true};
  REQUIRE(rig.send("192.0.2.1", "198.51.100.1", 41).status == core::SendStatus::kOk);
  const auto sends = rig.ws->sends();
  REQUIRE(sends.size() == 1);
  CHECK(sends[0].result == 0);      // WSASendMsg completed at once...
  CHECK(rig.ws->completions == 0);  // ...and its routine waits for an alertable wait
  // The socket came configured: bound to the wildcard address, PKTINFO and port unreachable
  // reporting on, a receive posted before the datagram left.
  CHECK(rig.ws->socketConfigured(sends[0].socket));
  CHECK(rig.ws->receives_posted == 1);
  rig.turn();
  CHECK(rig.ws->completions == 1);
  CHECK(rig.ws->poisoned_at_completion == 0);  // the datagram was intact when the routine ran
  CHECK(rig.ws->wrong_thread_completions == 0);
  CHECK(rig.sink.replies.empty());  // the echo is 2 ms away
  rig.runFor(3ms);
  REQUIRE(rig.sink.replies.size() == 1);
  const auto& r = rig.sink.replies[0];
  CHECK(r.reply.probe == core::ProbeKind::kUdp);
  CHECK(r.reply.from == ip("198.51.100.1"));
  CHECK(r.reply.from_port == 7);
  CHECK(r.reply.to == ip("192.0.2.1"));  // from IN_PKTINFO
  CHECK(r.reply.sequence == 41);
  CHECK(r.data == datagram(41));
  CHECK(r.reply.ttl == -1);
  CHECK(rig.ws->receives_posted == 2);  // posted again from the routine
  rig.engine.finish(rig.sink);
  CHECK(rig.ws->nested_routines == 0);
}

TEST_CASE("WinEngine: udp send pending (WSA_IO_PENDING) completes later through its routine",
          "[win]") {
  EngineRig rig;
  rig.ws->fallback = {WsMode::kEcho, 3ms, /*send_at_once=*/false, 1ms};
  REQUIRE(rig.send("192.0.2.1", "198.51.100.1", 5).status == core::SendStatus::kOk);
  CHECK(rig.ws->sends().at(0).result == WSA_IO_PENDING);
  rig.turn();
  CHECK(rig.ws->completions == 0);  // not due yet
  rig.runFor(1100us);
  CHECK(rig.ws->completions == 1);  // the send's routine
  CHECK(rig.sink.replies.empty());
  rig.runFor(2ms);
  CHECK(rig.sink.replies.size() == 1);
  CHECK(rig.ws->poisoned_at_completion == 0);
  CHECK(rig.ws->wrong_thread_completions == 0);
  rig.engine.finish(rig.sink);
}

TEST_CASE("WinEngine: udp errors on a socket name its probe: port unreachable, TTL expired",
          "[win]") {
  EngineRig rig;
  rig.ws->scripts["v4:198.51.100.3"] = {WsMode::kPortUnreachable, 2ms};
  rig.ws->scripts["v4:198.51.100.4"] = {WsMode::kTtlExpired, 2ms};
  rig.ws->scripts["v6:2001:db8::99"] = {WsMode::kPortUnreachable, 2ms};
  rig.options.port = 33434;
  REQUIRE(rig.send("192.0.2.1", "198.51.100.3", 100).status == core::SendStatus::kOk);
  REQUIRE(rig.send("192.0.2.2", "198.51.100.4", 101).status == core::SendStatus::kOk);
  REQUIRE(rig.send("2001:db8::1", "2001:db8::99", 102).status == core::SendStatus::kOk);
  rig.runFor(3ms);
  REQUIRE(rig.sink.errors.size() == 3);
  std::map<std::uint16_t, std::pair<core::Family, core::IcmpErrorReport>> by_sequence;
  for (const auto& e : rig.sink.errors) by_sequence.emplace(e.second.sequence, e);
  const auto& [f1, unreachable] = by_sequence.at(100);
  CHECK(f1 == core::Family::kIpv4);
  CHECK(unreachable.probe == core::ProbeKind::kUdp);
  CHECK(unreachable.port_unreachable);
  CHECK(unreachable.reason == ErrorReason::kDestUnreachable);
  CHECK(unreachable.original_target == ip("198.51.100.3"));
  CHECK(unreachable.original_port == 33434);
  CHECK(unreachable.original_source == ip("192.0.2.1"));
  CHECK_FALSE(unreachable.offender.has_value());  // Winsock does not say who sent it
  CHECK_FALSE(unreachable.quoted.has_value());    // the socket names the probe
  CHECK(unreachable.received == rig.clock->now() - 1ms);
  const auto& [f2, expired] = by_sequence.at(101);
  CHECK(f2 == core::Family::kIpv4);
  CHECK_FALSE(expired.port_unreachable);
  CHECK(expired.reason == ErrorReason::kTtlExpired);
  CHECK(expired.original_source == ip("192.0.2.2"));
  const auto& [f3, unreachable6] = by_sequence.at(102);
  CHECK(f3 == core::Family::kIpv6);
  CHECK(unreachable6.port_unreachable);
  CHECK(unreachable6.original_target == ip("2001:db8::99"));
  rig.engine.finish(rig.sink);
}

TEST_CASE("WinEngine: udp socket drops errors after its probe ended and strays but not echoes",
          "[win]") {
  EngineRig rig;
  // Timeout 60 ms: the echo 80 ms later and the port unreachable 70 ms later are late. The echo
  // names its probe itself (ProbeCore counts it late); the error would name the lane's probe.
  rig.ws->scripts["v4:198.51.100.1"] = {WsMode::kEcho, 80ms};
  rig.ws->scripts["v4:198.51.100.2"] = {WsMode::kPortUnreachable, 70ms};
  REQUIRE(rig.send("192.0.2.1", "198.51.100.1", 1).status == core::SendStatus::kOk);
  REQUIRE(rig.send("192.0.2.1", "198.51.100.2", 2).status == core::SendStatus::kOk);
  // Not one of our datagrams, on the first socket, in time.
  const SOCKET first = rig.ws->sends().at(0).socket;
  rig.ws->arrive(first, "198.51.100.1", 7, std::vector<std::uint8_t>(56, 0x41));
  rig.runFor(100ms, 1ms);
  REQUIRE(rig.sink.replies.size() == 1);
  CHECK(rig.sink.replies[0].reply.sequence == 1);
  CHECK(rig.sink.replies[0].data == datagram(1));
  CHECK(rig.sink.errors.empty());
  CHECK(rig.ws->receives_posted == 5);  // 2 sockets, each posted again after each completion
  // In quarantine (until 60 ms + 1 s after the send) a socket carries no new probe.
  REQUIRE(rig.send("192.0.2.1", "198.51.100.1", 3).status == core::SendStatus::kOk);
  CHECK(rig.ws->opens == 3);
  rig.clock->advance(1s);
  REQUIRE(rig.send("192.0.2.1", "198.51.100.1", 4).status == core::SendStatus::kOk);
  CHECK(rig.ws->opens == 3);  // the quarantine is over: reused
  rig.engine.finish(rig.sink);
}

TEST_CASE("WinEngine: udp send failing at once with a stale WSAECONNRESET is retried once",
          "[win]") {
  EngineRig rig;
  rig.ws->scripts["v4:198.51.100.1"] = {WsMode::kEcho, 2ms};
  rig.ws->scripts["v4:198.51.100.1"].stale_resets = 1;
  rig.ws->scripts["v4:198.51.100.2"] = {WsMode::kEcho, 2ms};
  rig.ws->scripts["v4:198.51.100.2"].stale_resets = 2;
  rig.ws->scripts["v4:198.51.100.3"] = {WsMode::kFailSend, 2ms};
  rig.ws->scripts["v4:198.51.100.3"].error = WSAEADDRNOTAVAIL;
  CHECK(rig.send("192.0.2.1", "198.51.100.1", 1).status == core::SendStatus::kOk);
  const auto twice = rig.send("192.0.2.1", "198.51.100.2", 2);
  CHECK(twice.status == core::SendStatus::kFailed);
  CHECK(twice.os_error == WSAECONNRESET);
  const auto refused = rig.send("192.0.2.1", "198.51.100.3", 3);
  CHECK(refused.status == core::SendStatus::kFailed);
  CHECK(refused.os_error == WSAEADDRNOTAVAIL);  // no retry for other errors
  const auto sends = rig.ws->sends();
  REQUIRE(sends.size() == 5);
  CHECK(sends[0].result == WSAECONNRESET);
  CHECK(sends[1].result == 0);
  CHECK(sends[1].socket == sends[0].socket);
  CHECK(sends[2].result == WSAECONNRESET);
  CHECK(sends[3].result == WSAECONNRESET);
  CHECK(sends[4].result == WSAEADDRNOTAVAIL);
  // A socket whose send failed carries the next probe at once: nothing of it is in flight.
  CHECK(rig.ws->opens == 2);
  rig.runFor(3ms);
  CHECK(rig.sink.replies.size() == 1);
  CHECK(rig.ws->completions == 2);  // one send's routine, one receive's; none for failed calls
  rig.engine.finish(rig.sink);
}

TEST_CASE("WinEngine: udp sockets are capped per family; a full pool fails the send", "[win]") {
  FakeClock clock;
  FakeWinsockApi ws(clock);
  ws.fallback = {WsMode::kSilent};
  core::win::UdpTransport udp(ws, clock, 2);
  RecordingSink sink;
  udp.deliverTo(&sink);
  core::ProbeOptions o;
  o.probe = core::ProbeKind::kUdp;
  o.timeout = 500ms;
  const auto a = ip("192.0.2.1"), t = ip("198.51.100.1"), a6 = ip("2001:db8::1"),
             t6 = ip("2001:db8::99");
  const auto d = datagram(1);
  CHECK(udp.send({a, t, 1, d, o}).status == core::SendStatus::kOk);
  CHECK(udp.send({a, t, 2, d, o}).status == core::SendStatus::kOk);
  SleepEx(0, TRUE);  // the sends' routines: until they have run, their sockets stay taken
  const auto full = udp.send({a, t, 3, d, o});
  CHECK(full.status == core::SendStatus::kFailed);
  CHECK(full.os_error == WSAENOBUFS);
  CHECK(udp.send({a6, t6, 4, d, o}).status == core::SendStatus::kOk);  // each family its own
  CHECK(udp.openLanes(core::Family::kIpv4) == 2);
  CHECK(udp.openLanes(core::Family::kIpv6) == 1);
  // Still in quarantine at the timeout plus 0.9 s; free after the timeout plus 1 s.
  clock.advance(1400ms);
  CHECK(udp.send({a, t, 5, d, o}).status == core::SendStatus::kFailed);
  clock.advance(100ms);
  CHECK(udp.send({a, t, 6, d, o}).status == core::SendStatus::kOk);
  CHECK(ws.opens == 3);
  SleepEx(0, TRUE);
  // A larger payload than the free socket's buffer replaces that socket.
  clock.advance(2s);
  const auto big = datagram(7, 4000);
  CHECK(udp.send({a, t, 7, big, o}).status == core::SendStatus::kOk);
  CHECK(ws.opens == 4);
  CHECK(udp.openLanes(core::Family::kIpv4) == 2);
  SleepEx(0, TRUE);  // the routines of the sends and of the closed socket's receive
  CHECK(udp.cancelAll());
  while (udp.inFlight() > 0) SleepEx(1, TRUE);
  udp.reset();
  CHECK(ws.openSockets() == 0);
  CHECK(ws.closes_with_pending == 1);  // the socket replaced by the larger one, closed at once
  CHECK(sink.replies.empty());
  CHECK(sink.errors.empty());
}

TEST_CASE("WinEngine: udp echoes are replies with the RTT; port unreachable is reached", "[win]") {
  LoopRig rig;
  auto& ws = *rig.ws;
  ws.scripts["v4:198.51.100.1"] = {WsMode::kEcho, 2500us};
  ws.scripts["v4:198.51.100.2"] = {WsMode::kPortUnreachable, 3ms};
  ws.scripts["v4:198.51.100.3"] = {WsMode::kTtlExpired, 3ms};
  ws.scripts["v4:198.51.100.4"] = {WsMode::kSilent};
  ws.scripts["v4:198.51.100.5"] = {WsMode::kCorruptEcho, 2ms, true, 0ms, 0, 20};     // filler
  ws.scripts["v4:198.51.100.6"] = {WsMode::kCorruptEcho, 2ms, true, 0ms, 0, 13};     // sequence
  ws.scripts["v4:198.51.100.7"] = {WsMode::kCorruptEcho, 2ms, true, 0ms, 0, -1, 1};  // longer
  ws.scripts["v4:198.51.100.8"] = {WsMode::kEcho, 2ms};
  ws.scripts["v4:198.51.100.8"].report_destination = false;
  ws.scripts["v6:2001:db8::99"] = {WsMode::kEcho, 3ms};
  ws.scripts["v6:2001:db8::98"] = {WsMode::kPortUnreachable, 3ms};
  ws.scripts["v4:198.51.100.10"] = {WsMode::kEcho, 8ms};  // after the 5 ms timeout
  ws.scripts["v4:198.51.100.9"] = {WsMode::kFailSend, 0ms};
  ws.scripts["v4:198.51.100.9"].error = WSAENETUNREACH;
  ws.netreset_refused = true;  // as under Wine: sockets still open and probe
  core::PathSet set{
      {source("a", "192.0.2.1"), source("c", "2001:db8::1")},
      {udpPath("a", "echo", "198.51.100.1"), udpPath("a", "closed", "198.51.100.2"),
       udpPath("a", "ttl", "198.51.100.3"), udpPath("a", "silent", "198.51.100.4"),
       udpPath("a", "filler", "198.51.100.5"), udpPath("a", "seq", "198.51.100.6"),
       udpPath("a", "long", "198.51.100.7"), udpPath("a", "noto", "198.51.100.8"),
       udpPath("c", "echo6", "2001:db8::99"), udpPath("c", "closed6", "2001:db8::98"),
       udpPath("a", "refused", "198.51.100.9"), udpPath("a", "late", "198.51.100.10")}};
  // An ICMP path alongside: the engine's transport sends it through the ICMP helper.
  set.paths.push_back(udpPath("a", "icmp", "198.51.100.20"));
  set.paths.back().options.probe = core::ProbeKind::kIcmp;
  rig.icmp->fallback = {FakeIcmpApi::Mode::kReply, IP_SUCCESS, 0, 2ms};
  // A 5 ms timeout: the last probes (sent at 592 ms at the latest) have their outcome within the
  // 600 ms run.
  for (auto& p : set.paths) p.options.timeout = 5ms;
  rig.loop->apply(set, core::Duration{0});
  // Six intervals: every path sends six probes, each answered or timed out by the end.
  rig.runFor(600ms);
  rig.loop->finish();

  const auto& echo = rig.stats("echo");
  CHECK(echo.sent.load() == 6);
  CHECK(echo.replied.load() == 6);
  CHECK(echo.last_rtt_ns.load() == 2'500'000);  // the monotonic clock, to the microsecond
  CHECK(echo.timed_out.load() == 0);
  const auto& closed = rig.stats("closed");
  CHECK(closed.replied.load() == 6);  // a port unreachable: the target was reached
  CHECK(closed.last_rtt_ns.load() == 3'000'000);
  CHECK(error(closed, ErrorReason::kDestUnreachable) == 0);
  const auto& ttl = rig.stats("ttl");
  CHECK(ttl.replied.load() == 0);
  CHECK(error(ttl, ErrorReason::kTtlExpired) == 6);
  CHECK(ttl.timed_out.load() == 0);
  const auto& silent = rig.stats("silent");
  CHECK(silent.timed_out.load() == 6);
  for (const char* corrupt : {"filler", "long"}) {
    INFO(corrupt);
    const auto& s = rig.stats(corrupt);
    CHECK(s.replied.load() == 0);
    CHECK(s.corrupted.load() == 6);  // never a reply; the probe waits on
    CHECK(s.rtt.count() == 0);
  }
  // A corrupted sequence names no probe of the path: a stray, and the probe times out.
  const auto& seq = rig.stats("seq");
  CHECK(seq.replied.load() == 0);
  CHECK(seq.timed_out.load() == 6);
  CHECK(rig.loop->stats().invalid_replies.load() == 6);
  CHECK(rig.stats("noto").replied.load() == 6);  // without IN_PKTINFO the reply still counts
  CHECK(rig.stats("echo6", "c").replied.load() == 6);
  CHECK(rig.stats("closed6", "c").replied.load() == 6);
  // Echoes after the timeout are late replies, never replies.
  const auto& late = rig.stats("late");
  CHECK(late.replied.load() == 0);
  CHECK(late.timed_out.load() == 6);
  CHECK(late.late.load() >= 5);  // the last one may come after the run
  const auto& refused = rig.stats("refused");
  CHECK(refused.sent.load() == 0);
  CHECK(error(refused, ErrorReason::kSendFailed) == 6);
  CHECK(rig.stats("icmp").replied.load() == 6);
  CHECK(rig.icmp->calls().size() == 6);  // the ICMP path only
  for (const auto& s : ws.sends()) CHECK(s.target != "198.51.100.20");
  CHECK(ws.wrong_thread_completions == 0);
  CHECK(ws.poisoned_at_completion == 0);
  CHECK(ws.nested_routines == 0);
  CHECK(ws.openSockets() == 0);  // a stop closes them; the next start opens new ones
}

TEST_CASE("WinEngine: udp datagrams carry each path's source in IN_PKTINFO, and its TTL and DF",
          "[win]") {
  LoopRig rig;
  auto plain = udpPath("a", "t", "198.51.100.1");
  auto marked = udpPath("b", "t", "198.51.100.1");
  marked.options.ttl = 9;
  marked.options.dont_fragment = true;
  marked.options.port = 53;
  marked.options.payload_size = 100;
  auto v6 = udpPath("c", "t6", "2001:db8::99");
  v6.options.ttl = 17;
  auto link_local = udpPath("ll", "t6", "2001:db8::99");
  core::PathSet set{{source("a", "192.0.2.1"), source("b", "192.0.2.2"), source("c", "2001:db8::1"),
                     source("ll", "fe80::1%12")},
                    {plain, marked, v6, link_local}};
  rig.loop->apply(set, core::Duration{0});
  rig.runFor(2s);
  rig.loop->finish();
  std::map<std::string, int> by_source;
  for (const auto& s : rig.ws->sends()) {
    REQUIRE(s.source.has_value());
    ++by_source[*s.source];
    INFO(*s.source);
    if (*s.source == "192.0.2.1") {
      CHECK(s.target == "198.51.100.1");
      CHECK(s.port == 33434);
      CHECK(s.ttl == 64);
      CHECK(s.dont_fragment == 0);
      CHECK(s.data.size() == 56);
      CHECK(s.source_ifindex == 0);
    } else if (*s.source == "192.0.2.2") {
      CHECK(s.target == "198.51.100.1");
      CHECK(s.port == 53);
      CHECK(s.ttl == 9);
      CHECK(s.dont_fragment == 1);
      CHECK(s.data.size() == 100);
    } else if (*s.source == "2001:db8::1") {
      CHECK(s.family == AF_INET6);
      CHECK(s.target == "2001:db8::99");
      CHECK(s.ttl == 17);
      CHECK(s.source_ifindex == 0);
    } else {
      CHECK(*s.source == "fe80::1");
      CHECK(s.source_ifindex == 12);  // the link-local source's zone picks its interface
      CHECK(s.ttl == 64);
    }
    CHECK(core::udp::sequenceOf(s.data).has_value());
  }
  // 2 s at 100 ms intervals: twenty datagrams per path, each from its own source.
  CHECK(by_source ==
        std::map<std::string, int>{
            {"192.0.2.1", 20}, {"192.0.2.2", 20}, {"2001:db8::1", 20}, {"fe80::1", 20}});
  for (const char* src : {"a", "b"}) CHECK(rig.stats("t", src).replied.load() == 20);
  for (const char* src : {"c", "ll"}) CHECK(rig.stats("t6", src).replied.load() == 20);
  // TTL and DF are set on a socket only when its next probe wants other values than the one
  // before: per socket, exactly one setsockopt per change seen in its datagrams (the first
  // included: the system's default is not assumed).
  std::map<std::pair<SOCKET, int>, int> sets, changes;
  for (const auto& o : rig.ws->options())
    if (o.name == IP_TTL || o.name == IPV6_UNICAST_HOPS || o.name == IP_DONTFRAGMENT)
      ++sets[{o.socket, o.name == IP_DONTFRAGMENT ? 1 : 0}];
  std::map<SOCKET, std::pair<int, int>> last;  // socket -> (ttl, df) of its previous datagram
  std::size_t reused = 0;
  for (const auto& s : rig.ws->sends()) {
    const auto it = last.find(s.socket);
    reused += it != last.end() ? 1 : 0;
    if (it == last.end() || it->second.first != s.ttl) ++changes[{s.socket, 0}];
    if (it == last.end() || it->second.second != s.dont_fragment) ++changes[{s.socket, 1}];
    last[s.socket] = {s.ttl, s.dont_fragment};
  }
  CHECK(sets == changes);
  CHECK(reused > 0);  // 2 s: sockets out of quarantine carried later probes
}

TEST_CASE("WinEngine: udp stop cancels every pending receive and send, counting nothing", "[win]") {
  LoopRig rig;
  rig.ws->fallback = {WsMode::kSilent, 0ms, /*send_at_once=*/false, 1h};  // sends never finish
  core::PathSet set{{source("a", "192.0.2.1")}, {}};
  for (int i = 0; i < 8; ++i)
    set.paths.push_back(udpPath("a", "t" + std::to_string(i), "198.51.100.1", 1s, 30s));
  rig.loop->apply(set, core::Duration{0});
  rig.runFor(950ms, 1ms);               // every path has sent once (at 0..875 ms), nothing answered
  REQUIRE(rig.ws->pendingOps() == 16);  // a receive and a send per socket
  rig.loop->finish();
  CHECK(rig.ws->cancels == 8);
  CHECK(rig.ws->aborted_completions == 16);
  CHECK(rig.ws->completions == 16);
  CHECK(rig.ws->closes == 8);
  CHECK(rig.ws->closes_with_pending == 0);  // closed once their routines had run
  CHECK(rig.ws->double_closes == 0);
  CHECK(rig.ws->poisoned_at_completion == 0);
  CHECK(rig.ws->wrong_thread_completions == 0);
  for (int i = 0; i < 8; ++i) {
    const auto& s = rig.stats("t" + std::to_string(i));
    CHECK(s.scheduled.load() == 0);
    CHECK(s.timed_out.load() == 0);
    CHECK(error(s, ErrorReason::kSendFailed) == 0);
  }
  // The next run opens new sockets and probes.
  rig.ws->fallback = {WsMode::kEcho, 2ms};
  rig.runFor(1s, 1ms);
  CHECK(rig.ws->opens > 8);
  CHECK(rig.stats("t0").replied.load() >= 1);
  rig.loop->finish();
  CHECK(rig.ws->openSockets() == 0);
}

TEST_CASE("WinEngine: a udp socket refusing CancelIoEx is closed at once", "[win]") {
  LoopRig rig;
  rig.ws->cancel_refused = true;
  rig.ws->close_error = WSAEINVAL;  // what Wine 8.0 completes a receive with at closesocket
  rig.ws->fallback = {WsMode::kSilent};
  rig.loop->apply({{source("a", "192.0.2.1")}, {udpPath("a", "t", "198.51.100.1", 1s, 60s)}},
                  core::Duration{0});
  rig.runFor(10ms, 1ms);
  REQUIRE(rig.ws->pendingOps() == 1);  // the receive; the send completed at once
  const auto started = std::chrono::steady_clock::now();
  rig.loop->finish();
  CHECK(std::chrono::steady_clock::now() - started < 1s);  // not the 1.5 s cancel budget
  CHECK(rig.ws->cancels == 1);
  CHECK(rig.ws->closes == 1);
  CHECK(rig.ws->closes_with_pending == 1);
  CHECK(rig.ws->aborted_completions == 1);
  const auto& s = rig.stats("t");
  CHECK(s.scheduled.load() == 0);
  CHECK(error(s, ErrorReason::kSendFailed) == 0);
}

TEST_CASE("WinEngine: udp operations that never complete are abandoned: the stop stays bounded",
          "[win]") {
  LoopRig rig;
  rig.ws->ignore_cancel = true;
  rig.ws->fallback = {WsMode::kSilent};
  rig.loop->apply({{source("a", "192.0.2.1")}, {udpPath("a", "t", "198.51.100.1", 1s, 60s)}},
                  core::Duration{0});
  rig.runFor(10ms, 1ms);
  const auto started = std::chrono::steady_clock::now();
  rig.loop->finish();
  const auto took = std::chrono::steady_clock::now() - started;
  // Cancelled, then closed, then abandoned (its buffers leaked, never freed under a late
  // routine), in a fraction of the probe's 60 s timeout.
  CHECK(rig.ws->cancels == 1);
  CHECK(rig.ws->closes == 1);
  CHECK(rig.ws->aborted_completions == 0);
  CHECK(took < 30s);
  rig.ws->ignore_cancel = false;
  rig.ws->fallback = {WsMode::kEcho, 2ms};
  rig.runFor(2s, 1ms);
  CHECK(rig.stats("t").replied.load() >= 1);
  rig.loop->finish();
}

TEST_CASE("WinEngine: the real Winsock echoes UDP on loopback through completion routines",
          "[win][real]") {
  // A UDP echo of our own on 127.0.0.1 (a plain blocking socket on another thread), probed by
  // the engine with the real Winsock API: WSASendMsg / WSARecvMsg from the extension pointers,
  // routines on the probe thread. Wine ignores the IN_PKTINFO source on send, so only loopback.
  core::win::ensureWinsock();
  SOCKET echo = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);
  REQUIRE(echo != INVALID_SOCKET);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(echo, reinterpret_cast<sockaddr*>(&local), sizeof local) == 0);
  int length = sizeof local;
  REQUIRE(getsockname(echo, reinterpret_cast<sockaddr*>(&local), &length) == 0);
  const DWORD receive_timeout_ms = 50;  // so that the echo thread sees `done`
  setsockopt(echo, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&receive_timeout_ms),
             sizeof receive_timeout_ms);
  std::atomic<int> echoed{0};
  std::atomic<bool> done{false};
  std::thread responder([&] {
    char buffer[2048];
    while (!done) {
      sockaddr_in from{};
      int from_length = sizeof from;
      const int n = recvfrom(echo, buffer, sizeof buffer, 0, reinterpret_cast<sockaddr*>(&from),
                             &from_length);
      if (n <= 0) continue;  // timed out
      sendto(echo, buffer, n, 0, reinterpret_cast<sockaddr*>(&from), from_length);
      ++echoed;
    }
  });
  std::vector<core::InterfaceInfo> lo = {
      core::InterfaceInfo{"loopback", 1, true, {ip("127.0.0.1")}, 0, ""}};
  auto clock = std::make_shared<core::SteadyClock>();
  auto icmp = std::make_shared<FakeIcmpApi>(*clock);
  core::ProbeLoop real(clock, std::make_unique<core::win::WinEngine>(icmp, clock, lo), 5);
  auto p = udpPath("lo", "self", "127.0.0.1", 250ms, 1s);
  p.options.port = ntohs(local.sin_port);
  real.apply({{source("lo", "127.0.0.1")}, {p}}, core::Duration{0});
  const auto& s = *real.snapshot()->paths.at(0).stats;
  const auto started = std::chrono::steady_clock::now();
  real.start();
  while (s.replied.load() < 5 && std::chrono::steady_clock::now() - started < 20s)
    std::this_thread::sleep_for(10ms);
  const auto stopping = std::chrono::steady_clock::now();
  real.stop();  // a receive is pending on every socket: cancelled
  const auto stop_took = std::chrono::steady_clock::now() - stopping;
  done = true;
  responder.join();
  closesocket(echo);
  CHECK(s.replied.load() >= 5);
  CHECK(s.timed_out.load() == 0);
  CHECK(s.corrupted.load() == 0);
  CHECK(s.last_rtt_ns.load() > 0);
  CHECK(echoed.load() >= 5);
  CHECK(stop_took < 1s);
}
