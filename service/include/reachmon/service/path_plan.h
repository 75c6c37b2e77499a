// Turns a validated config into the probe thread's path set.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "reachmon/config/config.h"
#include "reachmon/core/path.h"

namespace reachmon::service {

// Resolved addresses of DNS-named targets, keyed by (host, family). Missing or nullopt: unresolved
// (its paths get no address and report resolve_failed). service/src/target_resolver.h fills it.
using ResolvedHosts =
    std::map<std::pair<std::string, core::Family>, std::optional<core::IpAddress>>;

// One path per (source, target) pair: a target's `sources`, or else every source of its family.
core::PathSet buildPathSet(const config::Config& cfg, const ResolvedHosts& resolved);

}  // namespace reachmon::service
