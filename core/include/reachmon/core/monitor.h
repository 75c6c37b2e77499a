// The running probe engine: one probe thread that owns every socket and all probing state.
// Any thread may call apply(), snapshot() and stats(); start()/stop() belong to the owner.
#pragma once

#include <memory>
#include <string>

#include "reachmon/core/path.h"
#include "reachmon/core/snapshot.h"
#include "reachmon/core/stats.h"

namespace reachmon::core {

struct MonitorOptions {
  bool allow_raw_sockets = true;  // fall back to raw ICMP sockets when ping sockets are refused
};

class Monitor {
 public:
  // Opens the OS resources (ICMP sockets, ...). Throws std::runtime_error with a message an
  // operator can act on when probing is impossible.
  static std::unique_ptr<Monitor> create(const MonitorOptions& options);
  virtual ~Monitor() = default;

  virtual void start() = 0;
  virtual void stop() = 0;  // returns once the probe thread has ended; idempotent
  // Hands a new path set to the probe thread; returns at once.
  virtual void apply(PathSet set, Duration min_send_gap) = 0;
  virtual std::shared_ptr<const Snapshot> snapshot() const = 0;
  virtual const MonitorStats& stats() const = 0;
  // The probe thread's clock, which PathHistory's slot numbers count on. Any thread.
  virtual TimePoint now() const = 0;
  // "icmp-dgram" or "icmp-raw" on Linux, "iphlpapi" on Windows.
  virtual std::string engineName() const = 0;
  // "kernel" or "user_space": see Engine::rttTimestamps().
  virtual std::string rttTimestamps() const = 0;
};

}  // namespace reachmon::core
