// The process_* metrics that every Prometheus client library exports about its own process
// (client_golang's and client_python's process collector): the same names, types and help
// texts, so that dashboards and alerts written for any exporter work on reachmon too. prometheus-
// cpp has no such collector. Read from the OS at scrape time, on the scraping HTTP thread (the
// probe thread never reads them); docs/metrics.md says where each value comes from.
#pragma once

#include <optional>
#include <string>

namespace reachmon::service {

// One reading of the process's figures. nullopt: the OS would not tell; the metric is left out
// of that scrape (what the client libraries do by default).
struct ProcessStats {
  std::optional<double> cpu_seconds;         // user + system CPU time, all threads
  std::optional<double> resident_bytes;      // resident set (Linux) / working set (Windows)
  std::optional<double> virtual_bytes;       // address space (Linux) / private bytes (Windows)
  std::optional<double> open_fds;            // file descriptors (Linux) / handles (Windows)
  std::optional<double> max_fds;             // RLIMIT_NOFILE's soft limit / Windows' 2^24
  std::optional<double> start_time_seconds;  // since the Unix epoch
};

// The calling process's figures, read now (service/src/posix: /proc/self and getrlimit;
// service/src/win: GetProcessTimes, GetProcessMemoryInfo, GetProcessHandleCount). An OS call or
// file that fails leaves its values out; it does not throw. Any thread.
ProcessStats readProcessStats();

// The text exposition (format 0.0.4) of the values present in `stats`: for each, its # HELP and
// # TYPE lines and one sample without labels. Empty if none is present.
std::string renderProcessMetrics(const ProcessStats& stats);

}  // namespace reachmon::service
