// The validated configuration model: plain values, no JSON. Produced by parseConfig(), read by
// the service, which turns it into probe paths. Sources and per-target probe options are the
// probe thread's own types (core/path.h): one struct per concept, parsed here, used there.
// Immutable once built; safe to share between threads.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "reachmon/core/address.h"
#include "reachmon/core/path.h"

namespace reachmon::config {

using Duration = std::chrono::nanoseconds;

struct Target {
  std::string name;
  std::string host;                        // as written: an IP literal or a DNS name
  std::optional<core::IpAddress> literal;  // set when host is an IP literal
  core::Family family = core::Family::kIpv4;
  std::vector<std::string> sources;  // empty: every source of the same family
  core::Labels labels;
  core::ProbeOptions probe;  // `defaults` with the target's own settings applied
};

struct Config {
  std::string listen = "127.0.0.1:9643";
  core::ProbeOptions defaults;
  Duration resolve_interval = std::chrono::minutes(5);
  Duration min_send_gap = std::chrono::microseconds(50);
  std::vector<core::SourceSpec> sources;
  std::vector<Target> targets;
};

}  // namespace reachmon::config
