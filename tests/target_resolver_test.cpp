// TargetResolver with injected lookups: one that never answers (until the test ends), one that
// answers after a delay, one that fails. Nobody may wait for a lookup: not the destructor, not
// setNames(), not results().
#include "target_resolver.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "eventually.h"

using namespace reachmon;
using namespace reachmon::service;
using namespace std::chrono_literals;
using reachmon::test::eventually;
using Clock = std::chrono::steady_clock;

namespace {

core::IpAddress v4(std::uint8_t last) {
  core::IpAddress a;
  a.bytes[0] = 192;
  a.bytes[1] = 0;
  a.bytes[2] = 2;
  a.bytes[3] = last;
  return a;
}

// A resolver that hangs: every lookup blocks until release(). Shared with the workers, which may
// outlive the test case's stack, so it lives in a shared_ptr the lookup owns.
struct Gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  int entered = 0;    // lookups that started
  int max_alive = 0;  // most lookups blocked at once
  int alive = 0;

  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
  int enteredCount() {
    std::lock_guard lock(mutex);
    return entered;
  }
};

HostLookup hanging(std::shared_ptr<Gate> gate) {
  return [gate](const std::string&, core::Family) -> std::variant<core::IpAddress, std::string> {
    std::unique_lock lock(gate->mutex);
    ++gate->entered;
    gate->max_alive = std::max(gate->max_alive, ++gate->alive);
    gate->cv.wait(lock, [&] { return gate->open; });
    --gate->alive;
    return v4(99);  // too late to count
  };
}

// Releases the gate when the test case ends, so no worker stays blocked past the test.
struct ReleaseAtEnd {
  std::shared_ptr<Gate> gate;
  ~ReleaseAtEnd() { gate->release(); }
};

TargetResolverOptions options(HostLookup lookup, std::chrono::milliseconds deadline = 5s,
                              std::size_t max_in_flight = 8) {
  TargetResolverOptions o;
  o.lookup = std::move(lookup);
  o.deadline = deadline;
  o.max_in_flight = max_in_flight;
  return o;
}

const TargetResolver::Key kA{"a.example", core::Family::kIpv4};
const TargetResolver::Key kB{"b.example", core::Family::kIpv4};

}  // namespace

TEST_CASE("TargetResolver: destruction returns at once while a lookup is blocked",
          "[target_resolver]") {
  auto gate = std::make_shared<Gate>();
  ReleaseAtEnd release{gate};
  auto resolver = std::make_unique<TargetResolver>(nullptr, options(hanging(gate), 1h));
  resolver->setNames({kA, kB}, 1h);
  REQUIRE(eventually([&] { return gate->enteredCount() == 2; }));
  CHECK(resolver->inFlight() == 2);
  CHECK(resolver->results().at(kA) == std::nullopt);  // results() does not wait either
  // Ground truth for "at once": the lookups are still blocked after the destructor returned.
  const auto before = Clock::now();
  resolver.reset();
  const auto took = Clock::now() - before;
  {
    std::lock_guard lock(gate->mutex);
    CHECK(gate->alive == 2);
  }
  CHECK(took < 1s);
}

TEST_CASE("TargetResolver: the deadline turns a hung lookup into a failure", "[target_resolver]") {
  auto gate = std::make_shared<Gate>();
  ReleaseAtEnd release{gate};
  TargetResolver resolver(nullptr, options(hanging(gate), 50ms));
  const auto before = Clock::now();
  resolver.setNames({kA}, 1h);
  REQUIRE(eventually([&] { return resolver.states().at(kA).lookups == 1; }));
  const auto took = Clock::now() - before;
  const auto state = resolver.states().at(kA);
  CHECK_FALSE(state.in_progress);
  CHECK_FALSE(state.address);
  CHECK(state.last_error.find("no answer within 50 ms") != std::string::npos);
  CHECK(took >= 50ms);
  // The hung thread still holds its slot: a dead resolver cannot make threads pile up.
  CHECK(resolver.inFlight() == 1);
  // Its late answer is dropped: the failure stands.
  gate->release();
  REQUIRE(eventually([&] { return resolver.inFlight() == 0; }));
  CHECK_FALSE(resolver.results().at(kA));
  CHECK(resolver.states().at(kA).lookups == 1);
}

TEST_CASE("TargetResolver: results arrive through the callback, without its locks held",
          "[target_resolver]") {
  std::mutex mutex;
  std::vector<ResolvedHosts> seen;
  TargetResolver* self = nullptr;
  auto lookup = [](const std::string& host,
                   core::Family) -> std::variant<core::IpAddress, std::string> {
    std::this_thread::sleep_for(20ms);
    if (host == "a.example") return v4(1);
    return std::string("Name or service not known");
  };
  TargetResolver resolver(
      [&] {
        // Calling back into the resolver from the callback must not deadlock.
        auto now = self->results();
        std::lock_guard lock(mutex);
        seen.push_back(std::move(now));
      },
      options(lookup));
  self = &resolver;
  resolver.setNames({kA, kB}, 1h);
  REQUIRE(eventually([&] {
    const auto s = resolver.states();
    return s.at(kA).lookups == 1 && s.at(kB).lookups == 1;
  }));
  CHECK(resolver.results().at(kA) == v4(1));
  CHECK_FALSE(resolver.results().at(kB));
  CHECK(resolver.states().at(kB).last_error == "Name or service not known");
  // The callback runs after the state is updated: wait for it, then leave room for a wrong one.
  REQUIRE(eventually([&] {
    std::lock_guard lock(mutex);
    return !seen.empty();
  }));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(mutex);
  REQUIRE(seen.size() == 1);  // only a's address changed; b's failure changes nothing
  CHECK(seen[0].at(kA) == v4(1));
}

TEST_CASE("TargetResolver: a name that fails later keeps its address and names are re-resolved",
          "[target_resolver]") {
  auto answer = std::make_shared<std::atomic<int>>(1);  // 0: fail, else 192.0.2.<answer>
  auto lookup = [answer](const std::string&,
                         core::Family) -> std::variant<core::IpAddress, std::string> {
    const int n = answer->load();
    if (n == 0) return std::string("temporary failure");
    return v4(static_cast<std::uint8_t>(n));
  };
  std::mutex mutex;
  std::optional<core::IpAddress> seen;  // what the latest callback found
  TargetResolver* self = nullptr;
  TargetResolver resolver(
      [&] {
        auto now = self->results().at(kA);
        std::lock_guard lock(mutex);
        seen = now;
      },
      options(lookup));
  self = &resolver;
  auto seenByCallback = [&] {
    std::lock_guard lock(mutex);
    return seen;
  };
  resolver.setNames({kA}, 20ms);  // the interval drives the lookups that follow
  REQUIRE(eventually([&] { return seenByCallback() == v4(1); }));
  *answer = 0;
  const auto lookups = resolver.states().at(kA).lookups;
  REQUIRE(eventually([&] { return resolver.states().at(kA).lookups >= lookups + 2; }));
  CHECK(resolver.results().at(kA) == v4(1));
  CHECK(resolver.states().at(kA).last_error == "temporary failure");
  *answer = 2;
  REQUIRE(eventually([&] { return seenByCallback() == v4(2); }));
  CHECK(resolver.states().at(kA).last_error.empty());
  // A name dropped by setNames() is forgotten.
  resolver.setNames({}, 1h);
  CHECK(resolver.results().empty());
}

TEST_CASE("TargetResolver: at most max_in_flight lookups run at once", "[target_resolver]") {
  auto gate = std::make_shared<Gate>();
  ReleaseAtEnd release{gate};
  TargetResolver resolver(nullptr, options(hanging(gate), 30ms, 3));
  std::set<TargetResolver::Key> names;
  for (int i = 0; i < 10; ++i) names.insert({"n" + std::to_string(i), core::Family::kIpv4});
  resolver.setNames(names, 10ms);  // short interval: the scheduler would start more if it could
  REQUIRE(eventually([&] { return gate->enteredCount() == 3; }));
  // All three pass their deadline and time out, and the resolver keeps trying to look names up;
  // still no fourth thread starts while the three hang.
  REQUIRE(eventually([&] {
    std::size_t failed = 0;
    for (const auto& [key, st] : resolver.states()) failed += st.lookups;
    return failed == 3;
  }));
  std::this_thread::sleep_for(100ms);  // several intervals and deadlines
  CHECK(gate->enteredCount() == 3);
  CHECK(resolver.inFlight() == 3);
  // Once they return, the others get their turn, still three at a time.
  gate->release();
  REQUIRE(eventually([&] { return gate->enteredCount() >= 10; }));
  std::lock_guard lock(gate->mutex);
  CHECK(gate->max_alive == 3);
}
