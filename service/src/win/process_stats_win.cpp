// process_* on Windows, as client_golang computes them (prometheus/process_collector_windows.go):
// CPU and start time from GetProcessTimes, resident memory = the working set and virtual memory =
// private bytes (PrivateUsage, the commit charge) from GetProcessMemoryInfo, open "descriptors" =
// GetProcessHandleCount (every kernel handle: sockets, files, events, threads, ...) and their
// maximum = 2^24, Windows' fixed limit of handles per process.
// clang-format off
#include "windows.h"
#include <psapi.h>
// clang-format on

#include <cstdint>

#include "../process_metrics.h"

namespace reachmon::service {
namespace {

// FILETIMEs count 100 ns from 1601-01-01; the Unix epoch is this many of them later.
constexpr std::uint64_t kUnixEpochFileTime = 116444736000000000ULL;
constexpr double kFileTimePerSecond = 1e7;
constexpr double kMaxHandles = 16.0 * 1024 * 1024;

std::uint64_t value(const FILETIME& t) {
  return (static_cast<std::uint64_t>(t.dwHighDateTime) << 32) | t.dwLowDateTime;
}

}  // namespace

ProcessStats readProcessStats() {
  ProcessStats out;
  // A pseudo-handle: valid in this process at any time, never closed.
  const HANDLE self = GetCurrentProcess();
  FILETIME created{}, exited{}, kernel{}, user{};
  if (GetProcessTimes(self, &created, &exited, &kernel, &user)) {
    out.cpu_seconds = static_cast<double>(value(kernel) + value(user)) / kFileTimePerSecond;
    if (value(created) >= kUnixEpochFileTime)
      out.start_time_seconds =
          static_cast<double>(value(created) - kUnixEpochFileTime) / kFileTimePerSecond;
  }
  PROCESS_MEMORY_COUNTERS_EX memory{};
  memory.cb = sizeof memory;
  if (GetProcessMemoryInfo(self, reinterpret_cast<PROCESS_MEMORY_COUNTERS*>(&memory),
                           sizeof memory)) {
    out.resident_bytes = static_cast<double>(memory.WorkingSetSize);
    // No Windows process has 0 private bytes or 0 handles; Wine 8 reports 0 for both (it does
    // not count them): left out rather than exported as 0.
    if (memory.PrivateUsage > 0) out.virtual_bytes = static_cast<double>(memory.PrivateUsage);
  }
  if (DWORD handles = 0; GetProcessHandleCount(self, &handles) && handles > 0)
    out.open_fds = static_cast<double>(handles);
  out.max_fds = kMaxHandles;
  return out;
}

}  // namespace reachmon::service
