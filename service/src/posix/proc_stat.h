// Parsers of the Linux /proc files behind the process_* metrics (proc(5)); the reading is in
// process_stats_posix.cpp. Separate so that tests can feed them text.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace reachmon::service::posix {

// The fields of /proc/PID/stat that the process_* metrics use.
struct ProcStat {
  std::uint64_t utime_ticks = 0;  // (14) user CPU time, in clock ticks (sysconf(_SC_CLK_TCK))
  std::uint64_t stime_ticks = 0;  // (15) system CPU time, in clock ticks
  std::uint64_t start_ticks = 0;  // (22) start time after boot, in clock ticks
  std::uint64_t vsize_bytes = 0;  // (23) virtual memory size
  std::uint64_t rss_pages = 0;    // (24) resident set size, in pages
};

// The one line of /proc/PID/stat. The command name (field 2) is in parentheses and may itself
// hold spaces and parentheses: the fields after it are counted from the last ')'. nullopt if the
// text does not have the fields.
std::optional<ProcStat> parseProcStat(std::string_view text);

// The "btime" line of /proc/stat: when the system booted, in whole seconds since the Unix epoch.
// nullopt if there is none.
std::optional<std::uint64_t> parseBootTime(std::string_view text);

}  // namespace reachmon::service::posix
