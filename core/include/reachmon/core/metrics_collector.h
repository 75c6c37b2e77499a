// Builds every reachmon_* metric at scrape time from the probe thread's snapshot.
// renderText() and Collect() may run on any thread, concurrently with each other and with
// probing; they never block the probe thread.
#pragma once

#include <prometheus/collectable.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
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
  // `monitor` and `reload` must outlive the collector.
  MetricsCollector(SnapshotFn snapshot, const MonitorStats& monitor, const ReloadStatus& reload,
                   BuildInfo build);

  // The text exposition format (0.0.4) of every metric, what /metrics serves: written straight
  // from the snapshot into one string reserved at about its final size, with no MetricFamily
  // objects in between (with 100k paths those take several times the text's memory).
  std::string renderText() const;

  // The same text in pieces of about kTextPieceBytes (whole lines), handed to `write` in order as
  // they are written, on the calling thread: a caller that compresses or sends them never holds
  // the whole text. `write` may throw; the render then stops.
  using TextWriter = std::function<void(std::string_view)>;
  static constexpr std::size_t kTextPieceBytes = std::size_t{64} * 1024;
  void renderText(const TextWriter& write) const;

  // The same metrics as prometheus-cpp families, for a prometheus::Registry; TextSerializer
  // makes of them what renderText() writes.
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  SnapshotFn snapshot_;
  const MonitorStats& monitor_;
  const ReloadStatus& reload_;
  BuildInfo build_;
  // Text bytes per path of the latest render: the next render reserves from it. A hint only.
  mutable std::atomic<std::size_t> text_bytes_per_path_{0};
};

}  // namespace reachmon::core
