// What scrapes and the status page read: an immutable list of paths and sources, republished by
// the probe thread when the path set or a source address changes. Counters inside are live.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "reachmon/core/history.h"
#include "reachmon/core/path.h"
#include "reachmon/core/stats.h"

namespace reachmon::core {

struct PathView {
  std::shared_ptr<const PathSpec> spec;
  std::shared_ptr<const PathStats> stats;
  std::shared_ptr<const PathHistory> history = nullptr;  // nullptr: web.graphs is false
};

struct SourceView {
  std::string name;
  Family family = Family::kIpv4;
  std::optional<IpAddress> address;  // nullopt: no usable address right now
};

struct Snapshot {
  std::vector<PathView> paths;
  std::vector<SourceView> sources;
};

// Holds the latest snapshot. The lock only guards a pointer copy, never any I/O or formatting.
class SnapshotBox {
 public:
  void publish(std::shared_ptr<const Snapshot> s) {
    std::lock_guard lock(mutex_);
    current_ = std::move(s);
  }
  std::shared_ptr<const Snapshot> get() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> current_ = std::make_shared<Snapshot>();
};

}  // namespace reachmon::core
