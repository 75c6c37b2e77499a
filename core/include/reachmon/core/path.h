// What the probe thread is asked to do: sources and paths, as plain values. The config holds the
// same types (ProbeOptions per target, SourceSpec per source), so a new probe option is one field
// here, its parser in config/ and its docs. The service builds a PathSet from the config and
// hands it to Monitor::apply(); the probe thread keeps its own copy.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reachmon/core/address.h"
#include "reachmon/core/clock.h"
#include "reachmon/core/rtt_buckets.h"

namespace reachmon::core {

// What a path sends: ICMP echo requests, or UDP datagrams to `port` (a closed port answers with
// an ICMP port unreachable, an echo service with the datagram itself).
enum class ProbeKind : std::uint8_t { kIcmp, kUdp };
inline constexpr std::uint16_t kDefaultUdpPort = 33434;  // the traceroute base port
constexpr std::string_view probeKindName(ProbeKind kind) {
  return kind == ProbeKind::kUdp ? "udp" : "icmp";
}

struct ProbeOptions {
  Duration interval{1'000'000'000};
  Duration timeout{1'000'000'000};
  std::uint16_t payload_size = 56;
  std::uint8_t ttl = 64;
  std::uint8_t tos = 0;
  bool dont_fragment = false;
  ProbeKind probe = ProbeKind::kIcmp;
  std::uint16_t port = kDefaultUdpPort;  // UDP probes only
  // reachmon_rtt_seconds' bounds. A path whose buckets change starts new PathStats (its series
  // restart, as when its probe kind changes): a histogram's bounds are fixed.
  RttBuckets buckets;
  bool operator==(const ProbeOptions&) const = default;
};

// Exactly one of address / interface_name is set.
struct SourceSpec {
  std::string name;
  Family family = Family::kIpv4;
  std::optional<IpAddress> address;           // a fixed address that must be present on the host
  std::optional<std::string> interface_name;  // or: an interface, followed for address changes
  bool operator==(const SourceSpec&) const = default;
};

using Labels = std::map<std::string, std::string>;

struct PathSpec {
  std::string source;                       // SourceSpec::name
  std::string target;                       // target name from the config
  std::string host;                         // as configured, for the status page
  Labels labels;                            // the target's own labels
  std::optional<IpAddress> target_address;  // nullopt while the host does not resolve
  ProbeOptions options;
  bool operator==(const PathSpec&) const = default;
};

struct PathSet {
  std::vector<SourceSpec> sources;
  std::vector<PathSpec> paths;
  // Whether every path keeps a PathHistory for the status page's graphs (about 4.6 KiB per
  // path). Turning it off drops the histories; turning it on starts them empty.
  bool history = true;
};

}  // namespace reachmon::core
