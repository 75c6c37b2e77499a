// The process_* metrics: the exposition text of a reading (the client libraries' names, types and
// help texts; a value the OS did not give is left out), and what readProcessStats() reads from
// the OS of this very test process, against what the test itself did and measured on Linux and
// Windows alike (the clock around the process start, computing, touching memory).
// process_stats_linux_test.cpp and process_stats_win_test.cpp test the rest per OS.
#include "process_metrics.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

using namespace reachmon;

namespace {

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// When this test process had started for sure: static initialisation runs before main().
const double kSeenRunningAt = unixNow();

}  // namespace

TEST_CASE("ProcessMetrics: every value gets the client libraries' name type and help",
          "[process]") {
  service::ProcessStats s;
  s.cpu_seconds = 1.25;
  s.resident_bytes = 15388672;
  s.virtual_bytes = 70979584;
  s.open_fds = 14;
  s.max_fds = 16777216;
  s.start_time_seconds = 1712345678.53;
  CHECK(service::renderProcessMetrics(s) ==
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n"
        "process_cpu_seconds_total 1.25\n"
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds 14\n"
        "# HELP process_max_fds Maximum number of open file descriptors.\n"
        "# TYPE process_max_fds gauge\n"
        "process_max_fds 16777216\n"
        "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
        "# TYPE process_virtual_memory_bytes gauge\n"
        "process_virtual_memory_bytes 70979584\n"
        "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
        "# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes 15388672\n"
        "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
        "# TYPE process_start_time_seconds gauge\n"
        "process_start_time_seconds 1712345678.53\n");
}

TEST_CASE("ProcessMetrics: a value the OS did not give is left out with its HELP and TYPE",
          "[process]") {
  service::ProcessStats s;
  CHECK(service::renderProcessMetrics(s).empty());
  s.open_fds = 3;
  CHECK(service::renderProcessMetrics(s) ==
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\n"
        "process_open_fds 3\n");
}

TEST_CASE("ProcessMetrics: this process's start time lies before the test saw it running",
          "[process]") {
  const auto s = service::readProcessStats();
  REQUIRE(s.start_time_seconds);
  // Linux counts from a boot time in whole seconds, so the value may be up to a second early;
  // loading the program before its static initialisation takes milliseconds, seconds at most.
  CHECK(*s.start_time_seconds <= kSeenRunningAt + 0.05);
  CHECK(*s.start_time_seconds >= kSeenRunningAt - 10);
  CHECK(*s.start_time_seconds <= unixNow());
  // The same value at every reading: a change would look like a restart.
  CHECK(service::readProcessStats().start_time_seconds == s.start_time_seconds);
}

TEST_CASE("ProcessMetrics: CPU time grows while the process computes and memory is reported",
          "[process]") {
  const auto before = service::readProcessStats();
  REQUIRE(before.cpu_seconds);
  // Computes until the OS has counted more CPU time (it counts in ticks of 10 to 16 ms), or for
  // 30 s of real time, enough for a tick even on a loaded machine.
  volatile double sink = 0;
  service::ProcessStats now;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  do {
    for (int i = 0; i < 1'000'000; ++i) sink = sink + i * 0.5;
    now = service::readProcessStats();
    REQUIRE(now.cpu_seconds);
    REQUIRE(*now.cpu_seconds >= *before.cpu_seconds);
  } while (*now.cpu_seconds == *before.cpu_seconds && std::chrono::steady_clock::now() < give_up);
  CHECK(*now.cpu_seconds > *before.cpu_seconds);

  REQUIRE(now.resident_bytes);
  CHECK(*now.resident_bytes > 0);
  // Touching 64 MiB makes it resident: the resident size grows by about as much.
  constexpr std::size_t kTouched = std::size_t{64} << 20;
  const auto resident_before = *service::readProcessStats().resident_bytes;
  std::vector<char> block(kTouched, 1);
  const auto with_block = service::readProcessStats();
  REQUIRE(with_block.resident_bytes);
  CHECK(*with_block.resident_bytes >= resident_before + 0.9 * kTouched);
  CHECK(block[kTouched / 2] == 1);
}
