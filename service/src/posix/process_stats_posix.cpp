// process_* on Linux, as the client libraries compute them (client_python, client_golang's
// procfs): CPU time, virtual size, resident pages and start time from /proc/self/stat, open
// descriptors from /proc/self/fd, the descriptor limit from getrlimit (what /proc/self/limits
// shows as "Max open files").
#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "../process_metrics.h"
#include "proc_stat.h"

namespace reachmon::service {
namespace posix {
namespace {

// The next space-separated field of `text` from `at` on; empty at the end.
std::string_view nextField(std::string_view text, std::size_t& at) {
  while (at < text.size() && (text[at] == ' ' || text[at] == '\n')) ++at;
  const std::size_t start = at;
  while (at < text.size() && text[at] != ' ' && text[at] != '\n') ++at;
  return text.substr(start, at - start);
}

bool toUint(std::string_view field, std::uint64_t& out) {
  const auto [end, ec] = std::from_chars(field.data(), field.data() + field.size(), out);
  return ec == std::errc() && end == field.data() + field.size() && !field.empty();
}

}  // namespace

std::optional<ProcStat> parseProcStat(std::string_view text) {
  const std::size_t comm_end = text.rfind(')');
  if (comm_end == std::string_view::npos) return std::nullopt;
  std::size_t at = comm_end + 1;
  ProcStat s;
  // Field 3 (the state) is the first after the name; fields are numbered from 1.
  for (int field = 3; field <= 24; ++field) {
    const std::string_view value = nextField(text, at);
    std::uint64_t* wanted = field == 14   ? &s.utime_ticks
                            : field == 15 ? &s.stime_ticks
                            : field == 22 ? &s.start_ticks
                            : field == 23 ? &s.vsize_bytes
                            : field == 24 ? &s.rss_pages
                                          : nullptr;
    if (value.empty()) return std::nullopt;
    if (wanted && !toUint(value, *wanted)) return std::nullopt;
  }
  return s;
}

std::optional<std::uint64_t> parseBootTime(std::string_view text) {
  constexpr std::string_view kKey = "btime ";
  for (std::size_t line = 0; line < text.size();) {
    std::size_t end = text.find('\n', line);
    if (end == std::string_view::npos) end = text.size();
    const std::string_view l = text.substr(line, end - line);
    if (l.substr(0, kKey.size()) == kKey) {
      std::uint64_t seconds = 0;
      return toUint(l.substr(kKey.size()), seconds) ? std::optional(seconds) : std::nullopt;
    }
    line = end + 1;
  }
  return std::nullopt;
}

}  // namespace posix

namespace {

// A /proc file's text (their size reads as 0, so read to the end), or nullopt.
std::optional<std::string> readProcFile(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return std::nullopt;
  return text;
}

// Entries of /proc/self/fd, less the descriptor that reads the directory: it exists only while
// we count.
std::optional<double> countOpenFds() {
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir("/proc/self/fd"), &closedir);
  if (!dir) return std::nullopt;
  const int own = dirfd(dir.get());
  double count = 0;
  while (const dirent* entry = readdir(dir.get())) {
    const std::string_view name = entry->d_name;
    int fd = -1;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), fd);
    if (ec != std::errc() || end != name.data() + name.size()) continue;  // "." and ".."
    if (fd != own) ++count;
  }
  return count;
}

}  // namespace

ProcessStats readProcessStats() {
  ProcessStats out;
  const long ticks = sysconf(_SC_CLK_TCK);
  const long page = sysconf(_SC_PAGESIZE);
  const auto stat_text = readProcFile("/proc/self/stat");
  const auto stat = stat_text ? posix::parseProcStat(*stat_text) : std::nullopt;
  if (stat && ticks > 0) {
    out.cpu_seconds =
        static_cast<double>(stat->utime_ticks + stat->stime_ticks) / static_cast<double>(ticks);
    // Boot time (whole seconds) plus the start's ticks after boot: the same value at every
    // scrape, so that changes(process_start_time_seconds[...]) counts restarts only.
    const auto system_text = readProcFile("/proc/stat");
    if (const auto boot = system_text ? posix::parseBootTime(*system_text) : std::nullopt)
      out.start_time_seconds = static_cast<double>(*boot) +
                               static_cast<double>(stat->start_ticks) / static_cast<double>(ticks);
  }
  if (stat) out.virtual_bytes = static_cast<double>(stat->vsize_bytes);
  if (stat && page > 0)
    out.resident_bytes = static_cast<double>(stat->rss_pages) * static_cast<double>(page);
  out.open_fds = countOpenFds();
  if (rlimit limit{}; getrlimit(RLIMIT_NOFILE, &limit) == 0)
    out.max_fds = static_cast<double>(limit.rlim_cur);
  return out;
}

}  // namespace reachmon::service
