// The validated configuration model: plain values, no JSON. Produced by loadConfig(), read by the
// service, which turns it into probe paths. Immutable once built; safe to share between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reachmon/core/address.h"

namespace reachmon::config {

using Duration = std::chrono::nanoseconds;

// Per-probe settings. Each target carries its own copy, with `defaults` already applied.
struct ProbeSettings {
  Duration interval = std::chrono::seconds(1);
  Duration timeout = std::chrono::seconds(1);
  int payload_size = 56;
  int ttl = 64;
  bool dont_fragment = false;
  int tos = 0;
};

struct Source {
  std::string name;
  // Exactly one of address / interface is set.
  std::optional<core::IpAddress> address;
  std::optional<std::string> interface_name;
  core::Family family = core::Family::kIpv4;
};

struct Target {
  std::string name;
  std::string host;                        // as written: an IP literal or a DNS name
  std::optional<core::IpAddress> literal;  // set when host is an IP literal
  core::Family family = core::Family::kIpv4;
  std::vector<std::string> sources;  // empty: every source of the same family
  std::map<std::string, std::string> labels;
  ProbeSettings probe;
};

struct Config {
  std::string listen = "127.0.0.1:9643";
  ProbeSettings defaults;
  Duration resolve_interval = std::chrono::minutes(5);
  Duration min_send_gap = std::chrono::microseconds(50);
  std::vector<Source> sources;
  std::vector<Target> targets;
};

}  // namespace reachmon::config
