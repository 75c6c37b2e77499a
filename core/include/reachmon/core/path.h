// What the probe thread is asked to do: sources and paths, as plain values. Built by the service
// from the config and handed to Monitor::apply(); the probe thread keeps its own copy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "reachmon/core/address.h"
#include "reachmon/core/clock.h"

namespace reachmon::core {

struct ProbeOptions {
  Duration interval{1'000'000'000};
  Duration timeout{1'000'000'000};
  std::uint16_t payload_size = 56;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  bool dont_fragment = false;
  bool operator==(const ProbeOptions&) const = default;
};

struct SourceSpec {
  std::string name;
  Family family = Family::kIpv4;
  std::optional<IpAddress> address;  // a fixed address that must be present on the host
  std::optional<std::string>
      interface_name;  // or: an interface name or index, followed for changes
  bool operator==(const SourceSpec&) const = default;
};

using Labels = std::vector<std::pair<std::string, std::string>>;

struct PathSpec {
  std::string source;                       // SourceSpec::name
  std::string target;                       // target name from the config
  std::string host;                         // as configured, for the status page
  Labels labels;                            // the target's own labels, sorted by name
  std::optional<IpAddress> target_address;  // nullopt while the host does not resolve
  ProbeOptions options;
  bool operator==(const PathSpec&) const = default;
};

struct PathSet {
  std::vector<SourceSpec> sources;
  std::vector<PathSpec> paths;
};

}  // namespace reachmon::core
