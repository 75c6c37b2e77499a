// A ProbeCore on a fake clock and transport, for the tests of its scheduling, matching and
// counting (probe_core_test.cpp, probe_core_udp_test.cpp).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "fakes.h"
#include "probe_core.h"

namespace reachmon::test {

using namespace std::chrono_literals;
using core::Duration;

struct Rig {
  FakeClock clock;
  FakeTransport transport{clock};
  core::MonitorStats monitor_stats;
  core::SnapshotBox box;
  core::ProbeCore core{clock, transport, monitor_stats, box, 42};

  Rig() {
    core.setInterfaces(interfacesWith({ip("192.0.2.1"), ip("192.0.2.2"), ip("2001:db8::1")}));
  }

  static core::PathSpec path(std::string source, std::string target, const char* address,
                             Duration interval = 1s, Duration timeout = 500ms) {
    core::PathSpec p{std::move(source), std::move(target), address, {}, ip(address), {}};
    p.options.interval = interval;
    p.options.timeout = timeout;
    return p;
  }
  static core::SourceSpec source(std::string name, const char* address) {
    return {std::move(name), ip(address).family, ip(address), std::nullopt};
  }
  // Advances the clock in `step`s up to `total`, running the loop at every step.
  void runFor(Duration total, Duration step = 1ms) {
    for (Duration t{0}; t < total; t += step) {
      core.runDue();
      clock.advance(step);
    }
  }
  // Sources a (192.0.2.1) and b (192.0.2.2), each probing one target every 100 ms.
  void applyTwoSources() {
    core.apply({{source("a", "192.0.2.1"), source("b", "192.0.2.2")},
                {path("a", "t", "198.51.100.1", 100ms, 50ms),
                 path("b", "t", "198.51.100.1", 100ms, 50ms)}},
               Duration{0});
  }
  const core::PathStats& stats(std::size_t i) const { return *box.get()->paths.at(i).stats; }
};

inline std::uint64_t v(const std::atomic<std::uint64_t>& c) { return c.load(); }

// An ICMP error about an echo request to `target` with `sequence`.
inline core::IcmpErrorReport icmpError(const char* target, std::uint16_t sequence,
                                       core::ErrorReason reason) {
  core::IcmpErrorReport r;
  r.original_target = ip(target);
  r.sequence = sequence;
  r.reason = reason;
  return r;
}

}  // namespace reachmon::test
