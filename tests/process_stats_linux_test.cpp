// The process_* values on Linux against what this test process reads itself, through other
// interfaces than readProcessStats() uses: /proc/self/status (VmRSS, VmSize), getrusage,
// /proc/self/limits and a limit the test sets, a listing of /proc/self/fd and files the test
// opens. And the /proc parsers
// on text with the awkward cases (a command name holding spaces and parentheses).
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "open_count_checks.h"
#include "posix/proc_stat.h"
#include "process_metrics.h"

using namespace reachmon;
using service::posix::parseBootTime;
using service::posix::parseProcStat;

namespace {

// A "Name:   123 kB" line of /proc/self/status, in bytes.
double statusBytes(const std::string& field) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream values(line.substr(field.size() + 1));
    double kib = 0;
    values >> kib;
    return kib * 1024;
  }
  FAIL("no " << field << " in /proc/self/status");
  return 0;
}

double rusageCpuSeconds() {
  rusage usage{};
  REQUIRE(getrusage(RUSAGE_SELF, &usage) == 0);
  const auto seconds = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// The soft limit of "Max open files" in /proc/self/limits.
double limitsMaxOpenFiles() {
  std::ifstream in("/proc/self/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream values(line.substr(std::string("Max open files").size()));
    double soft = 0;
    values >> soft;
    return soft;
  }
  FAIL("no Max open files in /proc/self/limits");
  return 0;
}

}  // namespace

TEST_CASE("ProcessStats on Linux: memory agrees with /proc/self/status", "[process]") {
  const double rss_before = statusBytes("VmRSS");
  const double size_before = statusBytes("VmSize");
  const auto s = service::readProcessStats();
  const double rss_after = statusBytes("VmRSS");
  const double size_after = statusBytes("VmSize");
  REQUIRE(s.resident_bytes);
  REQUIRE(s.virtual_bytes);
  // The same counts through another file; the readings in between may have touched a few pages.
  constexpr double kSlack = 1 << 20;
  CHECK(*s.resident_bytes >= std::min(rss_before, rss_after) - kSlack);
  CHECK(*s.resident_bytes <= std::max(rss_before, rss_after) + kSlack);
  CHECK(*s.virtual_bytes >= std::min(size_before, size_after) - kSlack);
  CHECK(*s.virtual_bytes <= std::max(size_before, size_after) + kSlack);
}

TEST_CASE("ProcessStats on Linux: CPU time lies between getrusage before and after", "[process]") {
  volatile double sink = 0;
  for (int i = 0; i < 20'000'000; ++i) sink = sink + i * 0.5;  // some CPU time to count
  const double before = rusageCpuSeconds();
  const auto s = service::readProcessStats();
  const double after = rusageCpuSeconds();
  REQUIRE(s.cpu_seconds);
  // /proc counts user and system time each in whole clock ticks (1/100 s): up to two ticks
  // below getrusage's microseconds.
  CHECK(*s.cpu_seconds >= before - 0.021);
  CHECK(*s.cpu_seconds <= after + 0.001);
  CHECK(before > 0);
}

TEST_CASE("ProcessStats on Linux: the descriptor limit is the soft RLIMIT_NOFILE", "[process]") {
  const auto s = service::readProcessStats();
  REQUIRE(s.max_fds);
  CHECK(*s.max_fds == limitsMaxOpenFiles());
  rlimit original{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &original) == 0);
  REQUIRE(original.rlim_cur > 100);
  rlimit lower = original;
  lower.rlim_cur = 97;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lower) == 0);
  const auto lowered = service::readProcessStats();
  REQUIRE(setrlimit(RLIMIT_NOFILE, &original) == 0);
  REQUIRE(lowered.max_fds);
  CHECK(*lowered.max_fds == 97);
}

TEST_CASE("ProcessStats on Linux: open descriptors are the entries of /proc/self/fd", "[process]") {
  std::size_t listed = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
    ++listed;  // includes the descriptor the listing reads the directory with
  const auto s = service::readProcessStats();
  REQUIRE(s.open_fds);
  // Within 2: threads that earlier tests of this executable left behind (abandoned DNS lookups)
  // may hold a descriptor for a moment.
  CHECK(*s.open_fds >= static_cast<double>(listed - 1) - 2);
  CHECK(*s.open_fds <= static_cast<double>(listed - 1) + 2);
}

TEST_CASE("ProcessStats on Linux: files the process opens count as open descriptors", "[process]") {
  constexpr int kOpened = 25;
  const auto before = service::readProcessStats();
  std::vector<std::unique_ptr<std::FILE, int (*)(std::FILE*)>> files;
  for (int i = 0; i < kOpened; ++i) {
    files.emplace_back(std::fopen("/proc/self/stat", "r"), &std::fclose);
    REQUIRE(files.back());
  }
  const auto during = service::readProcessStats();
  files.clear();
  const auto after = service::readProcessStats();
  test::checkOpenedThenClosed(before, during, after, kOpened);
}

TEST_CASE("ProcessStats on Linux: /proc/PID/stat fields are counted from the name's last paren",
          "[process]") {
  // Fields 3 to 24 after a command name with spaces and parentheses, then more fields.
  const std::string line =
      "4242 (re) ach (mon) S 1 4242 4242 0 -1 4194560 500 0 0 0 "  // fields 1 to 13
      "123 45 0 0 20 0 9 0 "                                       // 14 to 21
      "987654 70979584 3757 "                                      // 22 to 24
      "18446744073709551615 1 1 0 0 0 0 0 4096 17442 0 0 0 17 1 0 0 0 0 0\n";
  const auto s = parseProcStat(line);
  REQUIRE(s);
  CHECK(s->utime_ticks == 123);
  CHECK(s->stime_ticks == 45);
  CHECK(s->start_ticks == 987654);
  CHECK(s->vsize_bytes == 70979584);
  CHECK(s->rss_pages == 3757);
  CHECK_FALSE(parseProcStat("4242 (reachmon) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 45"));
  CHECK_FALSE(parseProcStat("4242 reachmon S 1 2 3"));
  CHECK_FALSE(parseProcStat(
      "4242 (reachmon) S 1 4242 4242 0 -1 4194560 500 0 0 0 12x 45 0 0 20 0 9 0 1 2 3\n"));
  // This process's own line parses.
  std::ifstream in("/proc/self/stat");
  std::string own;
  std::getline(in, own);
  CHECK(parseProcStat(own));
}

TEST_CASE("ProcessStats on Linux: the boot time is the btime line of /proc/stat", "[process]") {
  CHECK(parseBootTime("cpu  1 2 3\nintr 5 6\nctxt 77\nbtime 1712345678\nprocesses 9\n") ==
        1712345678u);
  CHECK_FALSE(parseBootTime("cpu  1 2 3\nctxt 77\n"));
  CHECK_FALSE(parseBootTime("xbtime 5\nbtime soon\n"));
  std::ifstream in("/proc/stat");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(parseBootTime(text));
}
