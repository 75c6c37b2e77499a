// Builds every reachmon_* metric at scrape time from the probe thread's snapshot.
// Collect() may run on any thread, concurrently with probing; it never blocks the probe thread.
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "reachmon/core/snapshot.h"
#include "reachmon/core/stats.h"

namespace reachmon::core {

struct ReloadStatus {
  std::atomic<bool> last_successful{false};
  std::atomic<double> last_success_unix_seconds{0};
};

struct BuildInfo {
  std::string version;
  std::string platform;        // "linux" / "windows"
  std::string engine;          // Monitor::engineName()
  std::string rtt_timestamps;  // Monitor::rttTimestamps()
};

class MetricsCollector final : public prometheus::Collectable {
 public:
  using SnapshotFn = std::function<std::shared_ptr<const Snapshot>()>;
  MetricsCollector(SnapshotFn snapshot, const MonitorStats& monitor, const ReloadStatus& reload,
                   BuildInfo build);
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  SnapshotFn snapshot_;
  const MonitorStats& monitor_;
  const ReloadStatus& reload_;
  BuildInfo build_;
};

}  // namespace reachmon::core
