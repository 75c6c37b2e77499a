// The Linux engine on real sockets, driven turn by turn on the test thread: loopback probes over
// IPv4 and IPv6 with kernel timestamps, wake-ups from another thread, and the engine name.
// Needs ping sockets (net.ipv4.ping_group_range) or root for the raw fallback; says so otherwise.
#include "platform/linux/linux_engine.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "fakes.h"
#include "probe_loop.h"

using namespace reachmon;
using namespace std::chrono_literals;

namespace {

std::unique_ptr<core::lnx::LinuxEngine> openEngine(
    const std::shared_ptr<const core::Clock>& clock) {
  try {
    return std::make_unique<core::lnx::LinuxEngine>(core::MonitorOptions{}, clock);
  } catch (const std::exception& e) {
    WARN("no ICMP socket here, Linux engine not tested: " << e.what());
    return nullptr;
  }
}

// A generous timeout for a loaded machine, well within what the probe history remembers
// (ProbeCore::kHistory probes, 2 s here).
core::PathSpec path(const char* source, const char* target) {
  core::PathSpec p{source, target, target, {}, core::parseIpAddress(target), {}};
  p.options.interval = 250ms;
  p.options.timeout = 1s;
  return p;
}

}  // namespace

TEST_CASE("LinuxEngine: loopback probes are answered, with RTTs from kernel timestamps",
          "[linux_engine]") {
  auto clock = std::make_shared<core::SteadyClock>();
  auto engine = openEngine(clock);
  if (!engine) return;
  const std::string name = engine->name();
  CHECK((name == "icmp-dgram" || name == "icmp-raw"));
  core::ProbeLoop loop(clock, std::move(engine), 1);
  loop.apply({{{"lo4", core::Family::kIpv4, core::parseIpAddress("127.0.0.1"), std::nullopt},
               {"lo6", core::Family::kIpv6, core::parseIpAddress("::1"), std::nullopt}},
              {path("lo4", "127.0.0.1"), path("lo6", "::1")}},
             core::Duration{0});
  const auto& v4 = *loop.snapshot()->paths.at(0).stats;
  const auto& v6 = *loop.snapshot()->paths.at(1).stats;
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + 20s;
  while ((v4.replied.load() < 5 || v6.replied.load() < 5) &&
         std::chrono::steady_clock::now() < deadline)
    loop.turn(core::ProbeLoop::kMaxSleep);
  const auto elapsed = std::chrono::steady_clock::now() - started;
  loop.finish();
  CHECK(v4.replied.load() >= 5);
  CHECK(v6.replied.load() >= 5);
  CHECK(loop.stats().invalid_replies.load() == 0);
  for (const auto* s : {&v4, &v6}) {
    // An RTT is positive and, on loopback, shorter than the whole time the test ran.
    CHECK(s->last_rtt_ns.load() > 0);
    CHECK(s->last_rtt_ns.load() < std::chrono::nanoseconds(elapsed).count());
    CHECK(s->reply_ttl.load() > 0);
    CHECK(s->timed_out.load() == 0);
  }
}

TEST_CASE("LinuxEngine: wake() ends a wait from another thread", "[linux_engine]") {
  auto clock = std::make_shared<core::SteadyClock>();
  auto engine = openEngine(clock);
  if (!engine) return;
  test::NullSink sink;
  // A raw socket (the fallback without ping sockets) also wakes for other programs' ICMP, so
  // wait again until the wake-up has been sent: only wake() can end the last wait early.
  std::atomic<bool> woken{false};
  std::thread waker([&] {
    std::this_thread::sleep_for(20ms);
    woken = true;
    engine->wake();
  });
  const auto start = std::chrono::steady_clock::now();
  while (!woken) engine->wait(60s, sink);
  const auto waited = std::chrono::steady_clock::now() - start;
  waker.join();
  CHECK(waited < 30s);  // woken, not timed out
}

TEST_CASE("LinuxEngine: a timed wait ends when its time is up", "[linux_engine]") {
  auto clock = std::make_shared<core::SteadyClock>();
  auto engine = openEngine(clock);
  if (!engine) return;
  test::NullSink sink;
  engine->wait(core::Duration{0}, sink);  // only collects
  // Other ICMP traffic may end a wait early (raw sockets): wait out the remainder each time.
  const auto start = std::chrono::steady_clock::now();
  for (auto left = core::Duration{20ms}; left > core::Duration{0};
       left = 20ms - (std::chrono::steady_clock::now() - start))
    engine->wait(left, sink);
  CHECK(std::chrono::steady_clock::now() - start < 30s);
}
