#include "probe_core.h"

#include <algorithm>
#include <catch2/catch.hpp>

#include "probe_rig.h"

using namespace reachmon;
using namespace reachmon::test;
using core::Duration;

TEST_CASE("Scheduler: first sends of N paths are spread evenly over the interval", "[scheduler]") {
  Rig rig;
  core::PathSet set{{Rig::source("a", "192.0.2.1")}, {}};
  for (int i = 0; i < 10; ++i)
    set.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1"));
  const auto start = rig.clock.now();
  rig.core.apply(set, Duration{0});
  rig.runFor(1s);
  REQUIRE(rig.transport.sent.size() == 10);
  for (std::size_t k = 0; k < 10; ++k) CHECK(rig.transport.sent[k].at - start == k * 100ms);
}

TEST_CASE("Scheduler: each path keeps its own period without drift", "[scheduler]") {
  Rig rig;
  rig.core.apply({{Rig::source("a", "192.0.2.1")},
                  {Rig::path("a", "fast", "198.51.100.1", 100ms, 50ms),
                   Rig::path("a", "slow", "198.51.100.2", 250ms, 50ms)}},
                 Duration{0});
  rig.runFor(1s);
  std::vector<core::TimePoint> fast, slow;
  for (const auto& s : rig.transport.sent)
    (s.target == ip("198.51.100.1") ? fast : slow).push_back(s.at);
  CHECK(fast.size() == 10);
  CHECK(slow.size() == 4);
  for (std::size_t i = 1; i < fast.size(); ++i) CHECK(fast[i] - fast[i - 1] == 100ms);
  for (std::size_t i = 1; i < slow.size(); ++i) CHECK(slow[i] - slow[i - 1] == 250ms);
}

TEST_CASE("Scheduler: the global minimum gap bounds the send rate", "[scheduler]") {
  Rig rig;
  core::PathSet set{{Rig::source("a", "192.0.2.1")}, {}};
  for (int i = 0; i < 10; ++i)
    set.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1", 10ms, 10ms));
  rig.core.apply(set, 3ms);  // spread wants 1 ms apart; the gap forces 3 ms
  rig.runFor(100ms, 100us);
  // One per 3 ms on average; credit carries over at most a burst window and a gap (4 ms).
  const auto& sent = rig.transport.sent;
  REQUIRE(sent.size() > 20);
  CHECK(sent.size() <= 100 / 3 + 2);
  for (std::size_t i = 10; i < sent.size(); ++i) CHECK(sent[i].at - sent[i - 10].at >= 30ms - 4ms);
  // The delay this causes is reported, not hidden.
  CHECK(rig.monitor_stats.send_delay.count() == rig.transport.sent.size());
  CHECK(rig.monitor_stats.send_delay.sumSeconds() > 0.01);
}

TEST_CASE("Scheduler: reloads that change intervals do not pile up schedule entries",
          "[scheduler]") {
  Rig rig;
  auto set = [](Duration interval) {
    core::PathSet s{{Rig::source("a", "192.0.2.1")}, {}};
    for (int i = 0; i < 2000; ++i)
      s.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1", interval, 1s));
    return s;
  };
  for (int reload = 0; reload < 500; ++reload) {
    rig.core.apply(set(reload % 2 ? 1h : 59min), Duration{0});
    rig.clock.advance(1ms);
    rig.core.runDue();
  }
  // Each reload supersedes every path's entry; superseded ones are dropped, not kept until due.
  CHECK(rig.core.scheduledSends() <= 3 * 2000 + 1024);
  // And the schedule still works: every path sends once within its interval.
  rig.transport.sent.clear();
  rig.runFor(61min, 1s);
  CHECK(rig.transport.sent.size() >= 2000);
}

TEST_CASE("Scheduler: nextWake is the earliest send or timeout", "[scheduler]") {
  Rig rig;
  CHECK(rig.core.nextWake() == core::TimePoint::max());
  const auto t0 = rig.clock.now();
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 1s, 200ms)}},
      Duration{0});
  CHECK(rig.core.nextWake() == t0);
  rig.core.runDue();
  CHECK(rig.core.nextWake() == t0 + 200ms);  // the timeout comes before the next send
}

TEST_CASE("Probe: a valid reply counts once, with its RTT and TTL", "[probe]") {
  Rig rig;
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1")}},
                 Duration{0});
  rig.core.runDue();
  REQUIRE(rig.transport.sent.size() == 1);
  const auto& req = rig.transport.sent[0];
  CHECK(req.source == ip("192.0.2.1"));
  CHECK(req.payload.size() == 56);
  rig.core.onReply(rig.transport.replyTo(0, 7ms));
  const auto& s = rig.stats(0);
  CHECK(v(s.sent) == 1);
  CHECK(v(s.replied) == 1);
  CHECK(s.last_rtt_ns.load() == 7'000'000);
  CHECK(s.reply_ttl.load() == 61);
  CHECK(s.state.load() == core::PathState::kUp);
  CHECK(s.rtt.count() == 1);
  rig.clock.advance(600ms);
  rig.core.runDue();
  CHECK(v(s.timed_out) == 0);  // an answered probe never also times out
}

TEST_CASE("Probe: no reply within the timeout is a timeout, and a later one is late", "[probe]") {
  Rig rig;
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 1s, 300ms)}},
      Duration{0});
  rig.core.runDue();
  rig.clock.advance(299ms);
  rig.core.runDue();
  const auto& s = rig.stats(0);
  CHECK(v(s.timed_out) == 0);
  rig.clock.advance(1ms);
  rig.core.runDue();
  CHECK(v(s.timed_out) == 1);
  CHECK(s.state.load() == core::PathState::kTimedOut);
  rig.core.onReply(rig.transport.replyTo(0, 400ms));
  CHECK(v(s.late) == 1);
  CHECK(v(s.replied) == 0);
}

TEST_CASE("Probe: a reply read after its deadline is late, not replied", "[probe]") {
  Rig rig;
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 1s, 300ms)}},
      Duration{0});
  rig.core.runDue();
  rig.core.onReply(rig.transport.replyTo(0, 350ms));  // loop stalled: timeout not yet processed
  const auto& s = rig.stats(0);
  CHECK(v(s.replied) == 0);
  CHECK(v(s.timed_out) == 1);
  CHECK(v(s.late) == 1);
}

TEST_CASE("Probe: a repeated reply is a duplicate", "[probe]") {
  Rig rig;
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1")}},
                 Duration{0});
  rig.core.runDue();
  rig.core.onReply(rig.transport.replyTo(0, 5ms));
  rig.core.onReply(rig.transport.replyTo(0, 6ms));
  CHECK(v(rig.stats(0).replied) == 1);
  CHECK(v(rig.stats(0).duplicate) == 1);
}

TEST_CASE("Validation: stray replies are never counted", "[validation]") {
  Rig rig;
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1")}},
                 Duration{0});
  rig.core.runDue();
  auto good = rig.transport.replyTo(0, 5ms);
  std::vector<core::EchoReply> stray(3, good);
  stray[0].from = ip("198.51.100.99");  // right probe, wrong responder
  stray[1].to = ip("192.0.2.2");        // arrived at another of our addresses
  stray[2].sequence = static_cast<std::uint16_t>(good.sequence + 1);
  for (const auto& f : stray) rig.core.onReply(f);
  const auto& s = rig.stats(0);
  CHECK(v(s.replied) == 0);
  CHECK(v(s.duplicate) == 0);
  CHECK(v(s.late) == 0);
  CHECK(v(s.corrupted) == 0);
  CHECK(rig.monitor_stats.invalid_replies.load() == 3);
  rig.core.onReply(good);
  CHECK(v(s.replied) == 1);
}

TEST_CASE("Validation: a reply whose data differs in any byte or in length is corrupted",
          "[validation]") {
  Rig rig;
  rig.core.apply({{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1")}},
                 Duration{0});
  rig.core.runDue();
  const std::vector<std::uint8_t> sent = rig.transport.sent[0].payload;
  REQUIRE(sent.size() == 56);
  std::vector<std::vector<std::uint8_t>> bad;
  for (std::size_t i : {std::size_t{0}, std::size_t{5}, std::size_t{11}, std::size_t{12},
                        std::size_t{30}, sent.size() - 1}) {
    bad.push_back(sent);
    bad.back()[i] ^= 0x01;  // one bit of magic, nonce, first/middle/last filler byte
  }
  bad.emplace_back(sent.begin(), sent.end() - 1);  // one byte short
  bad.push_back(sent);
  bad.back().push_back(sent.back());                 // one byte long
  bad.emplace_back(sent.begin(), sent.begin() + 8);  // not even a nonce
  const auto& s = rig.stats(0);
  for (const auto& data : bad) {
    auto r = rig.transport.replyTo(0, 3ms);
    r.payload = data;
    rig.core.onReply(r);
  }
  CHECK(v(s.corrupted) == bad.size());
  CHECK(v(s.replied) == 0);
  CHECK(v(s.duplicate) == 0);
  CHECK(s.rtt.count() == 0);
  CHECK(rig.monitor_stats.invalid_replies.load() == 0);
  // The probe is still pending: the real reply, later, answers it with its own RTT.
  rig.core.onReply(rig.transport.replyTo(0, 9ms));
  CHECK(v(s.replied) == 1);
  CHECK(s.last_rtt_ns.load() == 9'000'000);
  CHECK(v(s.duplicate) == 0);
  // A corrupted copy after the answer is still only corrupted.
  auto again = rig.transport.replyTo(0, 10ms);
  again.payload = bad.front();
  rig.core.onReply(again);
  CHECK(v(s.corrupted) == bad.size() + 1);
  CHECK(v(s.duplicate) == 0);
  rig.clock.advance(600ms);
  rig.core.runDue();
  CHECK(v(s.timed_out) == 0);
  CHECK(v(s.scheduled) == 1);
}

TEST_CASE("Validation: a probe answered only by corrupted replies ends as corrupted_reply",
          "[validation]") {
  Rig rig;
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 1s, 300ms)}},
      Duration{0});
  rig.core.runDue();
  auto r = rig.transport.replyTo(0, 3ms);
  std::vector<std::uint8_t> data = rig.transport.sent[0].payload;
  data.back() ^= 0xff;
  r.payload = data;
  rig.core.onReply(r);
  rig.clock.advance(300ms);
  rig.core.runDue();
  const auto& s = rig.stats(0);
  CHECK(v(s.corrupted) == 1);
  CHECK(v(s.errors[static_cast<int>(core::ErrorReason::kCorruptedReply)]) == 1);
  CHECK(v(s.timed_out) == 0);
  CHECK(v(s.replied) == 0);
  CHECK(v(s.scheduled) == 1);
  CHECK(s.state.load() == core::PathState::kError);
  rig.core.onReply(rig.transport.replyTo(0, 350ms));  // the real one, after the deadline
  CHECK(v(s.late) == 1);
  CHECK(v(s.replied) == 0);
}

TEST_CASE("Validation: every probe carries a fresh nonce", "[validation]") {
  Rig rig;
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 10ms, 10ms)}},
      Duration{0});
  rig.runFor(50ms);
  REQUIRE(rig.transport.sent.size() == 5);
  CHECK(rig.transport.sent[0].payload != rig.transport.sent[1].payload);
  CHECK(rig.transport.sent[0].sequence != rig.transport.sent[1].sequence);
}

TEST_CASE("Errors: ICMP errors are counted by reason and end the probe", "[probe]") {
  Rig rig;
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 1s, 300ms)}},
      Duration{0});
  rig.core.runDue();
  const auto seq = rig.transport.sent[0].sequence;
  rig.core.onError(core::Family::kIpv4,
                   icmpError("198.51.100.77", seq, core::ErrorReason::kTtlExpired));
  const auto& s = rig.stats(0);
  CHECK(v(s.errors[static_cast<int>(core::ErrorReason::kTtlExpired)]) == 0);  // wrong target
  rig.core.onError(core::Family::kIpv4,
                   icmpError("198.51.100.1", seq, core::ErrorReason::kTtlExpired));
  CHECK(v(s.errors[static_cast<int>(core::ErrorReason::kTtlExpired)]) == 1);
  CHECK(s.state.load() == core::PathState::kError);
  rig.clock.advance(400ms);
  rig.core.runDue();
  CHECK(v(s.timed_out) == 0);
}

TEST_CASE("Sources: a source without its address reports source_unavailable, then recovers",
          "[sources]") {
  Rig rig;
  rig.applyTwoSources();
  rig.core.setInterfaces(interfacesWith({ip("192.0.2.1")}));  // b's address went away
  CHECK_FALSE(rig.box.get()->sources[1].address.has_value());
  rig.runFor(300ms);
  const auto& a = rig.stats(0);
  const auto& b = rig.stats(1);
  CHECK(v(a.sent) == 3);
  CHECK(v(b.sent) == 0);
  CHECK(v(b.errors[static_cast<int>(core::ErrorReason::kSourceUnavailable)]) == 3);
  CHECK(v(a.errors[static_cast<int>(core::ErrorReason::kSourceUnavailable)]) == 0);
  rig.core.setInterfaces(interfacesWith({ip("192.0.2.1"), ip("192.0.2.2")}));
  rig.runFor(200ms);
  CHECK(v(b.sent) == 2);
  CHECK(rig.transport.sent.back().source == ip("192.0.2.2"));
}

TEST_CASE("Sources: an interface source follows its interface's address", "[sources]") {
  core::SourceSpec spec{"wan", core::Family::kIpv4, std::nullopt, "eth0"};
  core::InterfaceInfo eth0{"eth0", 2, true, {ip("fe80::1"), ip("10.0.0.5")}, 0, ""};
  CHECK(core::pickSourceAddress(spec, {eth0}) == ip("10.0.0.5"));
  spec.interface_name = "2";
  CHECK(core::pickSourceAddress(spec, {eth0}) == ip("10.0.0.5"));
  spec.family = core::Family::kIpv6;
  CHECK(core::pickSourceAddress(spec, {eth0}) == ip("fe80::1"));
  eth0.addresses.push_back(ip("2001:db8::5"));
  CHECK(core::pickSourceAddress(spec, {eth0}) == ip("2001:db8::5"));  // global preferred
  eth0.up = false;
  CHECK_FALSE(core::pickSourceAddress(spec, {eth0}).has_value());
}

TEST_CASE("Sources: Windows interfaces are found by alias, index, LUID or GUID", "[sources]") {
  core::InterfaceInfo nic{"Ethernet 2",
                          12,
                          true,
                          {ip("192.0.2.9")},
                          0x0006000000000000ULL,
                          "{4D36E972-E325-11CE-BFC1-08002BE10318}"};
  core::InterfaceInfo other{"Wi-Fi",
                            7,
                            true,
                            {ip("192.0.2.77")},
                            0x0047000000000001ULL,
                            "{11111111-2222-3333-4444-555555555555}"};
  core::SourceSpec spec{"wan", core::Family::kIpv4, std::nullopt, ""};
  for (const char* name :
       {"Ethernet 2", "12", "0x0006000000000000", "0X6000000000000",
        "{4D36E972-E325-11CE-BFC1-08002BE10318}", "4d36e972-e325-11ce-bfc1-08002be10318"}) {
    spec.interface_name = name;
    INFO(name);
    CHECK(core::pickSourceAddress(spec, {other, nic}) == ip("192.0.2.9"));
  }
  for (const char* name : {"ethernet 2", "13", "0x1", "{4D36E972-E325-11CE-BFC1-08002BE10319}"}) {
    spec.interface_name = name;
    INFO(name);
    CHECK_FALSE(core::pickSourceAddress(spec, {other, nic}).has_value());
  }
}

TEST_CASE("Errors: send failures are counted by kind and never as timeouts", "[probe]") {
  // A transport that sends at once reports a failure from send(); one that queues (Linux), from
  // flush(): the same outcome either way.
  for (const bool batching : {false, true}) {
    INFO((batching ? "queued" : "sent at once"));
    Rig rig;
    rig.transport.batching = batching;
    rig.core.apply(
        {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 100ms, 50ms)}},
        Duration{0});
    rig.transport.next_status = core::SendStatus::kFailed;
    rig.transport.next_error = 105;
    rig.runFor(100ms);
    rig.transport.next_status = core::SendStatus::kSourceUnavailable;
    rig.runFor(100ms);  // past both deadlines
    const auto& s = rig.stats(0);
    CHECK(v(s.sent) == 0);
    CHECK(v(s.errors[static_cast<int>(core::ErrorReason::kSendFailed)]) == 1);
    CHECK(v(s.errors[static_cast<int>(core::ErrorReason::kSourceUnavailable)]) == 1);
    CHECK(s.state.load() == core::PathState::kError);
    CHECK(v(s.timed_out) == 0);
    CHECK(v(s.scheduled) == 2);
    CHECK(rig.core.inFlight(core::Family::kIpv4) == 0);
    if (batching) {
      CHECK(rig.transport.batches == std::vector<std::size_t>{1, 1});
      // A reply to one answers nothing: it never left.
      rig.core.onReply(rig.transport.replyTo(0, 1ms));
      CHECK(v(s.replied) == 0);
      CHECK(rig.monitor_stats.invalid_replies.load() == 1);
    }
    rig.transport.next_status = core::SendStatus::kOk;
    rig.core.runDue();
    CHECK(v(s.sent) == 1);
    CHECK(rig.core.inFlight(core::Family::kIpv4) == 1);
  }
}

TEST_CASE("Batching: the burst window is the time in which ten sends come due", "[scheduler]") {
  const auto window = [](int paths, Duration interval) {
    Rig rig;
    core::PathSet set{{Rig::source("a", "192.0.2.1")}, {}};
    for (int i = 0; i < paths; ++i)
      set.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1", interval));
    rig.core.apply(set, Duration{0});
    return rig.core.burstWindow();
  };
  CHECK(window(1'000, 1s) == 10ms);
  CHECK(window(10'000, 1s) == 1ms);
  CHECK(window(50'000, 1s) == 1ms);   // 200 us, raised to the least window
  CHECK(window(2'000, 10s) == 20ms);  // 200 sends/s: 50 ms, lowered to the most
  CHECK(window(4, 1s) == 20ms);
  CHECK(window(0, 1s) == 20ms);
  CHECK(window(10, 10ms) == 2500us);  // never more than a quarter of an interval
}

TEST_CASE("Batching: a lookahead sends what is due soon, early by at most that", "[scheduler]") {
  Rig rig;
  core::PathSet set{{Rig::source("a", "192.0.2.1")}, {}};
  for (int i = 0; i < 10; ++i)  // one due every 100 ms
    set.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1"));
  rig.core.apply(set, Duration{0});
  const auto start = rig.clock.now();
  CHECK(rig.core.runDue(1ms, 150ms) == 2);  // due at 0 and 100 ms
  CHECK(rig.core.runDue(1ms, 150ms) == 0);  // the next is due at 200 ms
  REQUIRE(rig.transport.sent.size() == 2);
  CHECK(rig.transport.sent[1].at == start);
  // The early one counts its 100 ms in the send delay: how far from its schedule it left.
  CHECK(rig.monitor_stats.send_delay.sumSeconds() == Approx(0.1));
}

TEST_CASE("Batching: a wake-up sends every due probe in one batch within the gap's rate",
          "[scheduler]") {
  Rig rig;
  rig.transport.batching = true;
  core::PathSet set{{Rig::source("a", "192.0.2.1")}, {}};
  for (int i = 0; i < 1000; ++i)  // one due every 10 us
    set.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1", 10ms, 5ms));
  rig.core.apply(set, Duration{0});
  rig.clock.advance(1ms);
  CHECK(rig.core.runDue() == 101);  // without a gap, all that is due...
  CHECK(rig.transport.batches ==
        std::vector<std::size_t>{core::kMaxSendBatch, 37});  // ...in batches
  // With a gap, at most one per 20 us on average: a fresh start may send a burst window's worth.
  Rig paced;
  paced.transport.batching = true;
  paced.core.apply(set, 20us);
  paced.clock.advance(1ms);
  CHECK(paced.core.runDue() ==
        static_cast<std::size_t>((core::ProbeCore::kMinBurstWindow + 20us) / 20us));
  paced.transport.batches.clear();
  for (int wake = 0; wake < 100; ++wake) {  // then every 500 us: 25 may go, 50 are due
    paced.clock.advance(500us);
    CHECK(paced.core.runDue() == 25);
  }
  CHECK(paced.transport.batches == std::vector<std::size_t>(100, 25));
  // Falling behind is reported by the send delay, not hidden.
  const auto& delay = paced.monitor_stats.send_delay;
  CHECK(delay.sumSeconds() / static_cast<double>(delay.count()) > 0.001);
}

TEST_CASE("Reload: surviving paths keep counters, removed ones go, new ones are spread",
          "[reload]") {
  Rig rig;
  const auto src = Rig::source("a", "192.0.2.1");
  rig.core.apply({{src},
                  {Rig::path("a", "keep", "198.51.100.1", 100ms, 50ms),
                   Rig::path("a", "drop", "198.51.100.2", 100ms, 50ms)}},
                 Duration{0});
  rig.runFor(500ms);
  const auto kept = rig.box.get()->paths.at(0).stats;
  REQUIRE(rig.box.get()->paths.at(0).spec->target == "keep");
  const auto before = v(kept->sent);
  CHECK(before == 5);
  auto changed = Rig::path("a", "keep", "198.51.100.1", 100ms, 50ms);
  changed.options.ttl = 3;
  rig.core.apply({{src},
                  {changed, Rig::path("a", "new1", "198.51.100.3", 100ms, 50ms),
                   Rig::path("a", "new2", "198.51.100.4", 100ms, 50ms)}},
                 Duration{0});
  const auto snap = rig.box.get();
  REQUIRE(snap->paths.size() == 3);
  std::vector<std::string> names;
  for (const auto& p : snap->paths) names.push_back(p.spec->target);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"keep", "new1", "new2"});
  const auto& keep_view = *std::find_if(snap->paths.begin(), snap->paths.end(),
                                        [](const auto& p) { return p.spec->target == "keep"; });
  CHECK(keep_view.stats == kept);
  CHECK(v(kept->sent) == before);
  const auto sent_before = rig.transport.sent.size();
  rig.runFor(100ms);
  CHECK(v(kept->sent) == before + 1);
  std::vector<core::TimePoint> new_sends;
  for (std::size_t i = sent_before; i < rig.transport.sent.size(); ++i) {
    const auto& sent = rig.transport.sent[i];
    if (sent.target == ip("198.51.100.1")) {
      CHECK(sent.options.ttl == 3);  // the survivor uses its new settings
    } else {
      new_sends.push_back(sent.at);
    }
  }
  REQUIRE(new_sends.size() == 2);
  CHECK(new_sends[1] - new_sends[0] == 50ms);  // spread over the interval, not a burst
}

TEST_CASE("Reload: a survivor with a new interval keeps its counters and takes the new period",
          "[reload]") {
  Rig rig;
  const auto src = Rig::source("a", "192.0.2.1");
  rig.core.apply({{src}, {Rig::path("a", "t", "198.51.100.1", 100ms, 50ms)}}, Duration{0});
  rig.runFor(300ms);
  const auto stats = rig.box.get()->paths.at(0).stats;
  REQUIRE(stats->sent.load() == 3);
  rig.core.apply({{src}, {Rig::path("a", "t", "198.51.100.1", 1s, 50ms)}}, Duration{0});
  CHECK(rig.box.get()->paths.at(0).stats == stats);
  const auto before = rig.transport.sent.size();
  rig.runFor(2100ms);
  // The send already due at 300 ms still happens, then one per second.
  std::vector<core::TimePoint> at;
  for (std::size_t i = before; i < rig.transport.sent.size(); ++i)
    at.push_back(rig.transport.sent[i].at);
  REQUIRE(at.size() == 3);
  CHECK(at[1] - at[0] == 1s);
  CHECK(at[2] - at[1] == 1s);
  CHECK(stats->sent.load() == 6);
}

namespace {

// Replies to every request `rtt` after it left, while the loop runs in 1 ms steps. `answered`
// counts the requests answered so far, across calls.
void runAnswering(Rig& rig, Duration total, Duration rtt, std::size_t& answered) {
  for (Duration t{0}; t < total; t += 1ms) {
    rig.core.runDue();
    while (answered < rig.transport.sent.size() &&
           rig.transport.sent[answered].at + rtt <= rig.clock.now()) {
      rig.core.onReply(rig.transport.replyTo(answered, rtt));
      ++answered;
    }
    rig.clock.advance(1ms);
  }
}

std::uint64_t outcomes(const core::PathStats& s) {
  std::uint64_t n = v(s.replied) + v(s.timed_out);
  for (const auto& e : s.errors) n += e.load();
  return n;
}

}  // namespace

TEST_CASE("In flight: a 500 ms path probed every 200 ms with a 1 s timeout loses nothing",
          "[inflight]") {
  for (const char* src : {"192.0.2.1", "2001:db8::1"}) {
    const bool v6 = std::string(src).find(':') != std::string::npos;
    INFO(src);
    Rig rig;
    rig.core.apply({{Rig::source("a", src)},
                    {Rig::path("a", "sat", v6 ? "2001:db8::99" : "198.51.100.1", 200ms, 1s)}},
                   Duration{0});
    std::size_t answered = 0;
    runAnswering(rig, 10s, 500ms, answered);
    const auto& s = rig.stats(0);
    // Sent at 0, 200, ..., 9800 ms; the replies to the last two are still on their way.
    CHECK(v(s.sent) == 50);
    CHECK(v(s.replied) == 48);
    CHECK(v(s.timed_out) == 0);
    CHECK(v(s.late) == 0);
    CHECK(s.rtt.sumSeconds() == Approx(0.5 * 48));
    CHECK(rig.core.inFlight(v6 ? core::Family::kIpv6 : core::Family::kIpv4) == 2);
    CHECK(v(s.scheduled) == outcomes(s));
    CHECK(v(s.scheduled) + 2 == v(s.sent));
  }
}

TEST_CASE("In flight: each probe keeps its own deadline, and late replies stay late",
          "[inflight]") {
  Rig rig;
  rig.core.apply(
      {{Rig::source("a", "192.0.2.1")}, {Rig::path("a", "t", "198.51.100.1", 100ms, 450ms)}},
      Duration{0});
  rig.runFor(1s);
  REQUIRE(rig.transport.sent.size() == 10);
  const auto& s = rig.stats(0);
  // Sent at 0..900 ms: those of 0..500 ms have reached their 450 ms deadline by 999 ms.
  CHECK(v(s.timed_out) == 6);
  CHECK(rig.core.inFlight(core::Family::kIpv4) == 4);
  rig.core.onReply(rig.transport.replyTo(0, 990ms));  // long after its deadline
  rig.core.onReply(rig.transport.replyTo(9, 20ms));   // in time, though 9 were sent since
  rig.core.onReply(rig.transport.replyTo(9, 21ms));
  CHECK(v(s.late) == 1);
  CHECK(v(s.replied) == 1);
  CHECK(v(s.duplicate) == 1);
  CHECK(s.last_rtt_ns.load() == 20'000'000);
}

TEST_CASE("In flight: a pending probe's sequence number is never reused", "[inflight]") {
  Rig rig;
  core::PathSet set{{Rig::source("a", "192.0.2.1")}, {}};
  // 12 paths x 6,000 probes in flight (10 ms interval, 60 s timeout) need more than 65,536.
  for (int i = 0; i < 12; ++i)
    set.paths.push_back(Rig::path("a", "t" + std::to_string(i), "198.51.100.1", 10ms, 60s));
  rig.core.apply(set, Duration{0});
  rig.runFor(60s, 10ms);
  CHECK(rig.core.inFlight(core::Family::kIpv4) == core::ProbeCore::kSequences);
  REQUIRE(rig.transport.sent.size() == core::ProbeCore::kSequences);
  std::vector<bool> seen(core::ProbeCore::kSequences);
  for (const auto& p : rig.transport.sent) {
    CHECK_FALSE(seen[p.sequence]);
    seen[p.sequence] = true;
  }
  std::uint64_t failed = 0, scheduled = 0;
  for (std::size_t i = 0; i < 12; ++i) {
    failed += v(rig.stats(i).errors[static_cast<int>(core::ErrorReason::kSendFailed)]);
    scheduled += v(rig.stats(i).scheduled);
  }
  CHECK(failed > 0);
  CHECK(scheduled == failed);  // nothing else has an outcome yet
  // The first probes time out at 60 s: their numbers serve again, and only theirs.
  const auto first = rig.transport.sent.front().sequence;
  rig.runFor(20ms, 10ms);
  REQUIRE(rig.transport.sent.size() > core::ProbeCore::kSequences);
  CHECK(rig.transport.sent[core::ProbeCore::kSequences].sequence == first);
}

TEST_CASE("Outcomes: every scheduled probe has exactly one, even without a source address",
          "[outcomes]") {
  Rig rig;
  rig.applyTwoSources();
  std::size_t answered = 0;
  runAnswering(rig, 1s, 5ms, answered);
  rig.core.setInterfaces(interfacesWith({ip("192.0.2.1")}));  // b loses its address
  const auto& a = rig.stats(0);
  const auto& b = rig.stats(1);
  const auto b_replied = v(b.replied);
  const auto b_scheduled = v(b.scheduled);
  const auto b_sent = v(b.sent);
  runAnswering(rig, 1s, 5ms, answered);
  CHECK(v(b.sent) == b_sent);
  CHECK(v(b.scheduled) - b_scheduled == 10);
  CHECK(v(b.replied) == b_replied);  // loss over that second: 1 - 0 / 10 = 1
  CHECK(v(b.errors[static_cast<int>(core::ErrorReason::kSourceUnavailable)]) == 10);
  CHECK(v(a.replied) == 20);
  for (const auto* s : {&a, &b}) CHECK(v(s->scheduled) == outcomes(*s));
}

TEST_CASE("History: replies with their RTT, timeouts and errors as lost, in the slot they ended",
          "[history]") {
  Rig rig;
  rig.clock.set(core::TimePoint{100s});  // slot boundaries at whole 10 s
  rig.core.apply({{Rig::source("a", "192.0.2.1")},
                  {Rig::path("a", "t", "198.51.100.1", 1s, 300ms),
                   Rig::path("a", "u", "198.51.100.2", 1s, 300ms)}},
                 Duration{0});
  // t: sent at 100 s, 101 s, ..., every third unanswered; u: sent at 100.5 s, ..., never
  // answered, and its fifth probe draws a host unreachable. All end before 110 s.
  std::size_t handled = 0, t_sent = 0, u_sent = 0;
  while (rig.clock.now() < core::TimePoint{110s}) {
    rig.core.runDue();
    for (; handled < rig.transport.sent.size(); ++handled) {
      const auto& sent = rig.transport.sent[handled];
      if (sent.target == ip("198.51.100.1") && t_sent++ % 3 != 0)
        rig.core.onReply(rig.transport.replyTo(handled, 7ms));
      if (sent.target == ip("198.51.100.2") && u_sent++ == 4)
        rig.core.onError(core::Family::kIpv4, icmpError("198.51.100.2", sent.sequence,
                                                        core::ErrorReason::kDestUnreachable));
    }
    rig.clock.advance(1ms);
  }
  CHECK(t_sent == 10);
  CHECK(u_sent == 10);
  CHECK(rig.box.get()->paths.at(0).history->fine().newest == -1);  // [100 s, 110 s) still open
  rig.runFor(1s);                                                  // outcomes after 110 s close it
  for (const auto& p : rig.box.get()->paths) {
    INFO(p.spec->target);
    REQUIRE(p.history);
    const auto fine = p.history->fine();
    REQUIRE(fine.newest == 10);
    const core::HistorySlot& slot = fine.slots.back();
    CHECK(slot.probes == 10);
    if (p.spec->target == "t") {
      CHECK(slot.lost == 4);
      const Duration stored = core::decodeRtt(core::encodeRtt(7ms));  // to within 0.1 %
      CHECK(slot.quantile(core::HistoryQuantile::kMin) == stored);
      CHECK(slot.quantile(core::HistoryQuantile::kMedian) == stored);
      CHECK(slot.quantile(core::HistoryQuantile::kMax) == stored);
    } else {
      CHECK(slot.allLost());
      CHECK(v(p.stats->errors[static_cast<std::size_t>(core::ErrorReason::kDestUnreachable)]) == 1);
    }
  }
}

TEST_CASE("History: kept across reloads, dropped when graphs are turned off, empty when back on",
          "[history]") {
  Rig rig;
  const auto src = Rig::source("a", "192.0.2.1");
  core::PathSet set{{src}, {Rig::path("a", "t", "198.51.100.1", 1s, 300ms)}};
  rig.core.apply(set, Duration{0});
  const auto history = rig.box.get()->paths.at(0).history;
  REQUIRE(history);
  rig.runFor(25s, 10ms);
  CHECK(history->fine().newest >= 0);
  set.paths[0].options.ttl = 9;  // a change that keeps the path
  rig.core.apply(set, Duration{0});
  CHECK(rig.box.get()->paths.at(0).history == history);
  set.history = false;
  rig.core.apply(set, Duration{0});
  CHECK(rig.box.get()->paths.at(0).history == nullptr);
  rig.runFor(2s, 10ms);  // outcomes without a history are fine
  set.history = true;
  rig.core.apply(set, Duration{0});
  const auto fresh = rig.box.get()->paths.at(0).history;
  REQUIRE(fresh);
  CHECK(fresh != history);
  CHECK(fresh->fine().newest == -1);
}
