// What GET /-/ready answers, as Prometheus' own /-/ready: 503 while reachmon starts, 200 once it
// serves what it was configured for. /-/healthy says something else: whether the probe loop
// still makes progress (a stalled loop is unhealthy, not unready).
//
// The HTTP server exists only once the config is loaded and the probe loop runs, so what is
// left to wait for is DNS: ready once every DNS name among the targets has had its first lookup
// (answered, failed, or past its deadline) and the path set that scrapes read carries each
// outcome. A config of IP literals is ready at once. Once ready, reachmon stays ready until it
// stops (a reload that adds a name does not make it unready); while it stops it closes its
// port, so /-/ready is refused rather than answered.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <utility>

#include "reachmon/config/config.h"
#include "reachmon/core/snapshot.h"
#include "target_resolver.h"

namespace reachmon::service {

// Whether start-up is done for the running config `cfg`, the resolver's `names` (of that config)
// and the `snapshot` scrapes read now: {true, "ready"}, or {false, what it waits for}.
std::pair<bool, std::string> startupDone(
    const config::Config& cfg,
    const std::map<TargetResolver::Key, TargetResolver::NameState>& names,
    const core::Snapshot& snapshot);

// The answer of /-/ready: asks `done` (startupDone on the App's state) until it first says yes,
// then says yes without asking. Any thread.
class Readiness {
 public:
  using Check = std::function<std::pair<bool, std::string>()>;
  explicit Readiness(Check done) : done_(std::move(done)) {}
  std::pair<bool, std::string> check();

 private:
  const Check done_;
  std::atomic<bool> ready_{false};
};

}  // namespace reachmon::service
