// The Linux engine on real sockets, driven turn by turn on the test thread: loopback probes over
// IPv4 and IPv6 with kernel timestamps, wake-ups from another thread, and the engine name.
// Needs ping sockets (net.ipv4.ping_group_range) or root for the raw fallback; says so otherwise.
// The test of the IPv6 sockets bound per source address makes a network namespace of its own
// where ping sockets are allowed (root).
#include "platform/linux/linux_engine.h"

#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "fakes.h"
#include "probe_loop.h"

using namespace reachmon;
using namespace std::chrono_literals;

namespace {

using Timing = core::lnx::LinuxEngine::Timing;

std::unique_ptr<core::lnx::LinuxEngine> openEngine(const std::shared_ptr<const core::Clock>& clock,
                                                   Timing timing = Timing::kAuto) {
  try {
    return std::make_unique<core::lnx::LinuxEngine>(core::MonitorOptions{}, clock, timing);
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

// Runs `body` on a thread of its own inside a new network namespace with lo up and ping sockets
// allowed, so that the ping-socket engine is tested whatever the host's sysctl allows. Needs
// root (CAP_SYS_ADMIN); returns why not when it cannot. The namespace is the thread's alone
// and goes away with the last socket opened in it.
std::string inPrivateNetns(const std::function<void()>& body) {
  std::string why_not;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      why_not = std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
      return;
    }
    const core::lnx::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (!s || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0) {
      why_not = std::string("SIOCGIFFLAGS: ") + std::strerror(errno);
      return;
    }
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) {
      why_not = std::string("SIOCSIFFLAGS: ") + std::strerror(errno);
      return;
    }
    // /proc/sys/net shows the namespace of the thread that opens it.
    std::ofstream("/proc/sys/net/ipv4/ping_group_range") << "0 2147483647\n";
    body();
  });
  t.join();
  return why_not;
}

std::size_t openDescriptors() {
  return static_cast<std::size_t>(std::distance(
      std::filesystem::directory_iterator("/proc/self/fd"), std::filesystem::directory_iterator()));
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

TEST_CASE("LinuxEngine: hundreds of loopback paths are answered in batches with either timer",
          "[linux_engine]") {
  for (const Timing timing : {Timing::kAuto, Timing::kTimerfd}) {
    INFO((timing == Timing::kAuto ? "epoll_pwait2" : "timerfd"));
    auto clock = std::make_shared<core::SteadyClock>();
    auto engine = openEngine(clock, timing);
    if (!engine) return;
    core::ProbeLoop loop(clock, std::move(engine), 5);
    // 300 paths at 100 ms: one due every 333 us, so wake-ups send several (one sendmmsg) and
    // read many replies (more than one recvmmsg's worth at the start).
    core::PathSet set{
        {{"lo4", core::Family::kIpv4, core::parseIpAddress("127.0.0.1"), std::nullopt}}, {}};
    std::vector<std::string> targets;
    targets.reserve(300);
    for (int i = 0; i < 300; ++i)
      targets.push_back("127.0." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1));
    for (const auto& t : targets) {
      auto p = path("lo4", t.c_str());
      p.options.interval = 100ms;
      set.paths.push_back(std::move(p));
    }
    loop.apply(set, core::Duration{0});
    const auto paths = loop.snapshot()->paths;
    const auto started = std::chrono::steady_clock::now();
    const auto answered = [&] {
      return std::all_of(paths.begin(), paths.end(),
                         [](const auto& p) { return p.stats->replied.load() >= 5; });
    };
    while (!answered() && std::chrono::steady_clock::now() < started + 30s)
      loop.turn(core::ProbeLoop::kMaxSleep);
    const auto elapsed = std::chrono::steady_clock::now() - started;
    loop.finish();
    CHECK(answered());
    CHECK(loop.stats().invalid_replies.load() == 0);
    for (const auto& p : paths) {
      const auto& st = *p.stats;
      CHECK(st.timed_out.load() == 0);
      CHECK(st.replied.load() == st.scheduled.load());  // every finished probe was answered
      CHECK(st.last_rtt_ns.load() > 0);
      CHECK(st.last_rtt_ns.load() < std::chrono::nanoseconds(elapsed).count());
    }
  }
}

namespace {

struct ReplyLog final : core::ReplySink {
  void onReply(const core::EchoReply& r) override { rx_ns.push_back(r.realtime_rx_ns); }
  void onError(core::Family, const core::IcmpErrorReport&) override {}
  std::vector<std::int64_t> rx_ns;
};

// Sends one echo request to 127.0.0.1 through the engine's transport; true when it left.
bool pingLoopback(core::lnx::LinuxEngine& engine, std::uint16_t sequence) {
  const auto lo = *core::parseIpAddress("127.0.0.1");
  const std::vector<std::uint8_t> payload(56, 0x5a);
  const core::ProbeOptions options;
  const auto queued = engine.transport().send({lo, lo, sequence, payload, options});
  if (queued.status != core::SendStatus::kQueued) return false;
  core::SendResult result;
  engine.transport().flush(std::span(&result, 1));
  return result.status == core::SendStatus::kOk && result.realtime_ns > 0;
}

}  // namespace

TEST_CASE("LinuxEngine: a short wait is not ended by replies but a long one is", "[linux_engine]") {
  auto clock = std::make_shared<core::SteadyClock>();
  auto engine = openEngine(clock);
  if (!engine) return;
  ReplyLog log;
  engine->wait(core::Duration{0}, log);
  log.rx_ns.clear();
  // Short: the loop is busy, and the reply (kernel-stamped) waits in its queue until the wait
  // ends. Another event (netlink, on a host where tests change interfaces) may end a wait early:
  // then the attempt is made again. A wait that the reply ended would end early every time.
  bool quiet = false;
  for (std::uint16_t attempt = 1; attempt <= 5 && !quiet; ++attempt) {
    log.rx_ns.clear();
    REQUIRE(pingLoopback(*engine, attempt));
    const auto start = std::chrono::steady_clock::now();
    engine->wait(3ms, log);
    const auto waited = std::chrono::steady_clock::now() - start;
    if (waited < 3ms) continue;
    // The reply is read when the wait ends (it may come a little later on a loaded host).
    for (int more = 0; more < 100 && log.rx_ns.empty(); ++more) engine->wait(1ms, log);
    CHECK(log.rx_ns.size() == 1);
    quiet = true;
  }
  CHECK(quiet);
  // Long: an idle loop reads a reply as it comes.
  log.rx_ns.clear();
  REQUIRE(pingLoopback(*engine, 2));
  const auto long_start = std::chrono::steady_clock::now();
  while (log.rx_ns.empty() && std::chrono::steady_clock::now() < long_start + 20s)
    engine->wait(60s, log);
  CHECK(log.rx_ns.size() == 1);
  CHECK(std::chrono::steady_clock::now() - long_start < 30s);  // the reply ended it
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

TEST_CASE("LinuxEngine: an IPv6 socket bound to a source address is closed once no source uses it",
          "[linux_engine][root]") {
  // Measured on the namespace's thread, checked here (Catch2 assertions stay on this thread).
  std::string engine_error, kind;
  std::size_t bound_probing = 0, bound_dropped = 0, bound_back = 0;
  std::size_t fds_probing = 0, fds_dropped = 0, fds_back = 0;
  std::uint64_t v6_replies = 0, v6_replies_back = 0, v4_replies = 0;
  const std::string why_not = inPrivateNetns([&] {
    auto clock = std::make_shared<core::SteadyClock>();
    std::unique_ptr<core::lnx::LinuxEngine> engine;
    try {
      engine = std::make_unique<core::lnx::LinuxEngine>(core::MonitorOptions{}, clock);
    } catch (const std::exception& e) {
      engine_error = e.what();
      return;
    }
    kind = engine->name();
    auto& sockets = dynamic_cast<core::lnx::SocketTransport&>(engine->transport());
    core::ProbeLoop loop(clock, std::move(engine), 5);
    const core::SourceSpec lo4{"lo4", core::Family::kIpv4, core::parseIpAddress("127.0.0.1"),
                               std::nullopt};
    const core::SourceSpec lo6{"lo6", core::Family::kIpv6, core::parseIpAddress("::1"),
                               std::nullopt};
    auto turnUntil = [&](auto done) {
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (!done() && std::chrono::steady_clock::now() < deadline)
        loop.turn(core::ProbeLoop::kMaxSleep);
    };
    auto replies = [&](const char* source) {
      for (const auto& p : loop.snapshot()->paths)
        if (p.spec->source == source) return p.stats->replied.load();
      return std::uint64_t{0};
    };

    loop.apply({{lo4, lo6}, {path("lo4", "127.0.0.1"), path("lo6", "::1")}}, core::Duration{0});
    turnUntil([&] { return replies("lo6") >= 2; });
    v6_replies = replies("lo6");
    bound_probing = sockets.boundSockets();
    fds_probing = openDescriptors();

    // A reload without the IPv6 source: its socket goes at once, the IPv4 path probes on.
    loop.apply({{lo4}, {path("lo4", "127.0.0.1")}}, core::Duration{0});
    bound_dropped = sockets.boundSockets();
    fds_dropped = openDescriptors();
    const auto v4_before = replies("lo4");
    turnUntil([&] { return replies("lo4") >= v4_before + 2; });
    v4_replies = replies("lo4") - v4_before;

    // It comes back: a new socket, and replies again.
    loop.apply({{lo4, lo6}, {path("lo4", "127.0.0.1"), path("lo6", "::1")}}, core::Duration{0});
    turnUntil([&] { return replies("lo6") >= 2; });
    v6_replies_back = replies("lo6");
    bound_back = sockets.boundSockets();
    fds_back = openDescriptors();
    loop.finish();
  });
  if (!why_not.empty()) {
    WARN("needs root for a private network namespace, not tested: " << why_not);
    return;
  }
  if (!engine_error.empty()) {
    WARN("no ICMP socket in a private network namespace, not tested: " << engine_error);
    return;
  }
  REQUIRE(kind == "icmp-dgram");  // ping sockets were allowed in the namespace
  CHECK(v6_replies >= 2);
  CHECK(bound_probing == 1);
  CHECK(bound_dropped == 0);
  CHECK(fds_dropped == fds_probing - 1);
  CHECK(v4_replies >= 2);
  CHECK(v6_replies_back >= 2);  // a new path: its counters start again
  CHECK(bound_back == 1);
  CHECK(fds_back == fds_probing);
}
