// The portable probe loop with a fake engine and a fake clock: what one turn does, how replies
// and interface changes reach the core, and the thread's mailbox, wake-ups and stop.
#include "probe_loop.h"

#include <catch2/catch.hpp>
#include <thread>

#include "eventually.h"
#include "fakes.h"

using namespace reachmon;
using namespace reachmon::test;
using core::Duration;

namespace {

core::PathSpec path(std::string target, const char* address, Duration interval = 1s,
                    Duration timeout = 200ms) {
  core::PathSpec p{"a", std::move(target), address, {}, ip(address), {}};
  p.options.interval = interval;
  p.options.timeout = timeout;
  return p;
}

core::SourceSpec source() { return {"a", core::Family::kIpv4, ip("192.0.2.1"), std::nullopt}; }

struct Rig {
  std::shared_ptr<FakeClock> clock = std::make_shared<FakeClock>();
  FakeEngine* engine = nullptr;  // owned by loop
  std::unique_ptr<core::ProbeLoop> loop;

  explicit Rig(bool block = false) {
    auto e = std::make_unique<FakeEngine>(*clock);
    e->block = block;
    engine = e.get();
    loop = std::make_unique<core::ProbeLoop>(clock, std::move(e), 7);
  }
  const core::PathStats& stats(std::size_t i = 0) const {
    return *loop->snapshot()->paths.at(i).stats;
  }
};

}  // namespace

TEST_CASE("ProbeLoop: a turn sends what is due, then waits until the next deadline",
          "[probe_loop]") {
  Rig rig;
  rig.loop->turn(core::ProbeLoop::kMaxSleep);
  CHECK(rig.engine->waits.back() == core::ProbeLoop::kMaxSleep);  // idle: the longest wait
  rig.loop->apply({{source()}, {path("t", "198.51.100.1", 1s, 200ms)}}, Duration{0});
  rig.loop->turn(core::ProbeLoop::kMaxSleep);
  REQUIRE(rig.engine->fakeTransport().sent.size() == 1);
  CHECK(rig.engine->waits.back() == 200ms);  // until the probe's timeout
  rig.clock->advance(200ms);
  rig.loop->turn(core::ProbeLoop::kMaxSleep);
  CHECK(rig.stats().timed_out.load() == 1);
  CHECK(rig.engine->waits.back() == core::ProbeLoop::kMaxSleep);  // the next send is 800 ms away
  rig.clock->advance(500ms);
  rig.loop->turn(20ms);
  CHECK(rig.engine->waits.back() == 20ms);  // never longer than asked
  rig.clock->advance(300ms);
  rig.loop->turn(core::ProbeLoop::kMaxSleep);
  CHECK(rig.engine->fakeTransport().sent.size() == 2);
}

TEST_CASE("ProbeLoop: replies that arrive during a wait reach the core", "[probe_loop]") {
  Rig rig;
  rig.loop->apply({{source()}, {path("t", "198.51.100.1")}}, Duration{0});
  rig.loop->turn(0ms);
  auto& transport = rig.engine->fakeTransport();
  REQUIRE(transport.sent.size() == 1);
  const std::vector<std::uint8_t> echoed = transport.sent[0].payload;  // outlives the turn
  auto reply = transport.replyTo(0, 3ms);
  reply.payload = echoed;
  rig.engine->inbox.push_back(reply);
  rig.loop->turn(0ms);
  CHECK(rig.stats().replied.load() == 1);
  CHECK(rig.stats().last_rtt_ns.load() == 3'000'000);
}

TEST_CASE("ProbeLoop: an interface change reported by the engine moves the source",
          "[probe_loop]") {
  Rig rig;
  rig.loop->apply({{core::SourceSpec{"wan", core::Family::kIpv4, std::nullopt, "eth0"}},
                   {core::PathSpec{"wan", "t", "198.51.100.1", {}, ip("198.51.100.1"), {}}}},
                  Duration{0});
  CHECK(rig.loop->snapshot()->sources.at(0).address == ip("192.0.2.1"));
  rig.engine->setInterfaces(interfacesWith({ip("192.0.2.77")}));
  rig.loop->turn(0ms);
  CHECK(rig.loop->snapshot()->sources.at(0).address == ip("192.0.2.1"));  // nothing reported yet
  rig.engine->changed = true;
  rig.loop->turn(0ms);
  const int lists = rig.engine->interface_lists.load();
  // A burst of notifications over the settling time is one re-listing, at its end.
  for (int i = 0; i < 5; ++i) {
    rig.clock->advance(core::ProbeLoop::kInterfaceSettle / 10);
    rig.engine->changed = true;
    rig.loop->turn(0ms);
  }
  CHECK(rig.engine->interface_lists.load() == lists);
  CHECK(rig.loop->snapshot()->sources.at(0).address == ip("192.0.2.1"));
  rig.clock->advance(core::ProbeLoop::kInterfaceSettle);
  rig.loop->turn(0ms);
  CHECK(rig.engine->interface_lists.load() == lists + 1);
  CHECK(rig.loop->snapshot()->sources.at(0).address == ip("192.0.2.77"));
  rig.clock->advance(core::ProbeLoop::kInterfaceSettle);
  rig.loop->turn(0ms);
  CHECK(rig.engine->interface_lists.load() == lists + 1);  // nothing new reported
}

TEST_CASE("ProbeLoop: a coarse timer does not pile sends up behind the minimum gap",
          "[probe_loop]") {
  Rig rig;
  // A timer that fires only on 15.625 ms ticks, like Windows' default timer, while 1,000 paths
  // are due 1 ms apart and the sends may average one per 50 us.
  rig.engine->sim_clock = rig.clock.get();
  rig.engine->timer_resolution = 15625us;
  core::PathSet set{{source()}, {}};
  for (int i = 0; i < 1000; ++i)
    set.paths.push_back(path("t" + std::to_string(i), "198.51.100.1", 1s, 500ms));
  rig.loop->apply(set, 50us);
  const auto end = rig.clock->now() + 3s;
  while (rig.clock->now() < end) rig.loop->turn(core::ProbeLoop::kMaxSleep);
  const auto& sent = rig.engine->fakeTransport().sent;
  // Every probe due in the 3 s left (a tick's worth may still wait for the next one)...
  CHECK(sent.size() >= 3000 - 16);
  // A wake-up sends the probes due in its tick together, never more than one per 50 us since
  // the wake-up that sent before.
  std::size_t burst = 1;
  for (std::size_t i = 1; i <= sent.size(); ++i) {
    if (i < sent.size() && sent[i].at == sent[i - 1].at) {
      ++burst;
      continue;
    }
    const std::size_t first = i - burst;
    if (first > 0)
      CHECK(burst <= static_cast<std::size_t>((sent[first].at - sent[first - 1].at) / 50us));
    burst = 1;
  }
  // ...and none later than a tick plus the gaps of the probes due in it (the histogram's
  // bucket for that is 50 ms; piling up, delays would grow by a tick per probe).
  const auto& delay = rig.loop->stats().send_delay;
  std::uint64_t within_50ms = 0;
  for (std::size_t i = 0; i < delay.bounds().size() && delay.bounds()[i] <= 0.05; ++i)
    within_50ms += delay.bucketCount(i);
  CHECK(within_50ms == delay.count());
}

TEST_CASE("ProbeLoop: sends due close together go in one wake-up each burst window",
          "[probe_loop]") {
  // The window is the time in which about ten sends come due, at least 1 ms: 10,000 paths at
  // 1 s (one due every 100 us) get 1 ms, 1,000 paths (one every 1 ms) 10 ms. A send leaves at
  // most half a window early or late.
  for (const auto& [paths, window] : {std::pair{10'000, Duration{1ms}}, {1'000, Duration{10ms}}}) {
    INFO(paths << " paths");
    Rig rig;
    rig.engine->sim_clock = rig.clock.get();  // a precise timer: waits end at their deadline
    core::PathSet set{{source()}, {}};
    for (int i = 0; i < paths; ++i)
      set.paths.push_back(path("t" + std::to_string(i), "198.51.100.1", 1s, 500ms));
    rig.loop->apply(set, Duration{0});
    const auto start = rig.clock->now();
    while (rig.clock->now() < start + 3s) rig.loop->turn(core::ProbeLoop::kMaxSleep);
    const auto& sent = rig.engine->fakeTransport().sent;
    CHECK(sent.size() >= static_cast<std::size_t>(paths) * 3 - 10);
    // At most one wake-up that sends per window, so several go each time...
    std::size_t wakeups = 1;
    for (std::size_t i = 1; i < sent.size(); ++i) {
      if (sent[i].at == sent[i - 1].at) continue;
      CHECK(sent[i].at - sent[i - 1].at >= window);
      ++wakeups;
    }
    const auto windows = static_cast<std::size_t>(3s / window);
    CHECK(wakeups <= windows + 1);
    CHECK(wakeups >= windows / 2);
    // ...and none further from its schedule than half the window (the histogram's bucket at or
    // above it).
    const auto& delay = rig.loop->stats().send_delay;
    const double seconds = std::chrono::duration<double>(window).count() / 2;
    std::uint64_t within = 0;
    std::size_t b = 0;
    while (b < delay.bounds().size() && delay.bounds()[b] < seconds)
      within += delay.bucketCount(b++);
    if (b < delay.bounds().size()) within += delay.bucketCount(b);
    CHECK(within == delay.count());
  }
}

TEST_CASE("ProbeLoop: a gap that does not divide the burst window still allows its full rate",
          "[probe_loop]") {
  // 140 paths at 1 s with a 7 ms gap: 140 probes/s of the 142 the gap allows. The 10 ms window
  // holds one gap and 3 ms more, which must not be lost at every wake-up.
  Rig rig;
  rig.engine->sim_clock = rig.clock.get();
  core::PathSet set{{source()}, {}};
  for (int i = 0; i < 140; ++i)
    set.paths.push_back(path("t" + std::to_string(i), "198.51.100.1", 1s, 500ms));
  rig.loop->apply(set, 7ms);
  const auto start = rig.clock->now();
  while (rig.clock->now() < start + 10s) rig.loop->turn(core::ProbeLoop::kMaxSleep);
  const auto& sent = rig.engine->fakeTransport().sent;
  CHECK(sent.size() >= 140 * 10 - 2);
  // Bursts of at most window / gap + 1 (20 ms / 7 ms + 1), never more than one per gap over
  // any longer time.
  std::size_t burst = 1;
  for (std::size_t i = 1; i < sent.size(); ++i) {
    burst = sent[i].at == sent[i - 1].at ? burst + 1 : 1;
    CHECK(burst <= 3);
  }
  for (std::size_t i = 10; i < sent.size(); ++i)
    CHECK(sent[i].at - sent[i - 10].at >= 7ms * (10 - 3));
}

TEST_CASE("ProbeLoop: without change notifications, interfaces are re-listed every 30 s",
          "[probe_loop]") {
  Rig rig;
  rig.engine->watching = false;
  const int at_start = rig.engine->interface_lists.load();
  rig.clock->advance(core::ProbeLoop::kRescanInterval - 1ms);
  rig.loop->turn(0ms);
  CHECK(rig.engine->interface_lists.load() == at_start);
  rig.clock->advance(1ms);
  rig.loop->turn(0ms);
  CHECK(rig.engine->interface_lists.load() == at_start + 1);
  rig.clock->advance(1s);
  rig.loop->turn(0ms);
  CHECK(rig.engine->interface_lists.load() == at_start + 1);
}

TEST_CASE("ProbeLoop: a path set posted while the thread runs is applied by the thread",
          "[probe_loop]") {
  Rig rig(true);
  rig.loop->apply({{source()}, {path("first", "198.51.100.1")}}, Duration{0});
  rig.loop->start();
  const int wakes = rig.engine->wakes.load();
  rig.loop->apply({{source()}, {path("first", "198.51.100.1"), path("second", "198.51.100.2")}},
                  Duration{0});
  CHECK(rig.engine->wakes.load() == wakes + 1);  // the waiting thread was woken
  CHECK(eventually([&] { return rig.loop->snapshot()->paths.size() == 2; }));
  rig.loop->stop();
  CHECK(rig.engine->finishes.load() == 1);
  rig.loop->stop();  // idempotent
  CHECK(rig.engine->finishes.load() == 1);
  // Stopped: a new set is applied at once, on the caller's thread.
  rig.loop->apply({{source()}, {path("third", "198.51.100.3")}}, Duration{0});
  CHECK(rig.loop->snapshot()->paths.size() == 1);
}

TEST_CASE("ProbeLoop: the heartbeat advances with every turn", "[probe_loop]") {
  Rig rig;
  rig.loop->turn(0ms);
  const auto first = rig.loop->stats().heartbeat_ns.load();
  rig.clock->advance(10ms);
  rig.loop->turn(0ms);
  CHECK(rig.loop->stats().heartbeat_ns.load() - first == 10'000'000);
}

TEST_CASE("ProbeLoop: the engine is told the sources' addresses whenever they change",
          "[probe_loop]") {
  Rig rig;
  using Addresses = std::vector<core::IpAddress>;
  auto& updates = rig.engine->source_updates;
  const core::SourceSpec wan{"wan", core::Family::kIpv4, std::nullopt, "eth0"};
  const core::SourceSpec fixed{"fixed", core::Family::kIpv4, ip("192.0.2.1"), std::nullopt};
  auto pathFrom = [](const char* src) {
    return core::PathSpec{src, "t", "198.51.100.1", {}, ip("198.51.100.1"), {}};
  };
  rig.loop->apply({{wan, fixed}, {pathFrom("wan"), pathFrom("fixed")}}, Duration{0});
  REQUIRE(updates.size() == 1);
  CHECK(updates.back() == Addresses{ip("192.0.2.1")});  // both send from it: told once

  // The interface moves to another address: the fixed source loses its own.
  rig.engine->setInterfaces(interfacesWith({ip("192.0.2.77")}));
  rig.engine->changed = true;
  rig.loop->turn(0ms);
  rig.clock->advance(core::ProbeLoop::kInterfaceSettle);
  rig.loop->turn(0ms);
  REQUIRE(updates.size() == 2);
  CHECK(updates.back() == Addresses{ip("192.0.2.77")});

  // A re-listing that changes nothing, and a reload with the same sources, tell nothing new.
  rig.engine->changed = true;
  rig.loop->turn(0ms);
  rig.clock->advance(core::ProbeLoop::kInterfaceSettle);
  rig.loop->turn(0ms);
  rig.loop->apply({{wan, fixed}, {pathFrom("wan"), pathFrom("fixed")}}, Duration{0});
  CHECK(updates.size() == 2);

  // A reload that drops the interface source leaves no address in use.
  rig.loop->apply({{fixed}, {pathFrom("fixed")}}, Duration{0});
  REQUIRE(updates.size() == 3);
  CHECK(updates.back().empty());
}

TEST_CASE("ProbeLoop: a source given by address is unavailable while its link is down",
          "[probe_loop]") {
  Rig rig;
  rig.loop->apply({{source()}, {path("t", "198.51.100.1", 100ms, 50ms)}}, Duration{0});
  auto& transport = rig.engine->fakeTransport();
  const auto& stats = rig.stats();
  auto errors = [&](core::ErrorReason r) {
    return stats.errors[static_cast<std::size_t>(r)].load();
  };
  auto relist = [&](bool up) {
    auto list = interfacesWith({ip("192.0.2.1")});  // the link keeps its address when down
    list[0].up = up;
    rig.engine->setInterfaces(std::move(list));
    rig.engine->changed = true;
    rig.loop->turn(0ms);
    rig.clock->advance(core::ProbeLoop::kInterfaceSettle);
    rig.loop->turn(0ms);
  };
  auto runFor = [&](Duration total) {
    for (Duration t{0}; t < total; t += 10ms) {
      rig.clock->advance(10ms);
      rig.loop->turn(0ms);
    }
  };
  runFor(300ms);
  REQUIRE(transport.sent.size() >= 3);

  relist(false);
  CHECK_FALSE(rig.loop->snapshot()->sources.at(0).address.has_value());
  const auto sent_before = transport.sent.size();
  const auto unavailable_before = errors(core::ErrorReason::kSourceUnavailable);
  runFor(500ms);
  CHECK(transport.sent.size() == sent_before);  // nothing is handed to the OS...
  CHECK(errors(core::ErrorReason::kSourceUnavailable) - unavailable_before >= 4);  // ...each due
  CHECK(errors(core::ErrorReason::kSendFailed) == 0);
  CHECK(stats.state.load() == core::PathState::kError);

  relist(true);
  CHECK(rig.loop->snapshot()->sources.at(0).address == ip("192.0.2.1"));
  runFor(300ms);
  CHECK(transport.sent.size() >= sent_before + 2);
  CHECK(transport.sent.back().source == ip("192.0.2.1"));
}
