#include "process_metrics.h"

#include <array>
#include <charconv>
#include <string_view>

namespace reachmon::service {
namespace {

// A sample value, shortest form that reads back as the same double ("0.12", "16777216",
// "1712345678.53"). The values here are finite.
void appendValue(std::string& out, double value) {
  std::array<char, 32> buf{};
  const auto written = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), written.ptr);
}

void appendFamily(std::string& out, std::string_view name, std::string_view type,
                  std::string_view help, const std::optional<double>& value) {
  if (!value) return;
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out.append(name).append(" ");
  appendValue(out, *value);
  out.append("\n");
}

}  // namespace

std::string renderProcessMetrics(const ProcessStats& s) {
  // client_golang's order, names, types and help texts (prometheus/process_collector.go).
  std::string out;
  appendFamily(out, "process_cpu_seconds_total", "counter",
               "Total user and system CPU time spent in seconds.", s.cpu_seconds);
  appendFamily(out, "process_open_fds", "gauge", "Number of open file descriptors.", s.open_fds);
  appendFamily(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
               s.max_fds);
  appendFamily(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
               s.virtual_bytes);
  appendFamily(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
               s.resident_bytes);
  appendFamily(out, "process_start_time_seconds", "gauge",
               "Start time of the process since unix epoch in seconds.", s.start_time_seconds);
  return out;
}

}  // namespace reachmon::service
