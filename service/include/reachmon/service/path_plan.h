// Turns a validated config into the probe thread's path set.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <utility>

#include "reachmon/config/config.h"
#include "reachmon/core/path.h"

namespace reachmon::service {

// Resolved addresses of DNS-named targets, keyed by (host, family). Missing or nullopt: unresolved.
using ResolvedHosts =
    std::map<std::pair<std::string, core::Family>, std::optional<core::IpAddress>>;

// One path per (source, target) pair: a target's `sources`, or else every source of its family.
core::PathSet buildPathSet(const config::Config& cfg, const ResolvedHosts& resolved);

// Resolves every DNS name in `cfg`; a name that fails keeps its previous address from `previous`.
ResolvedHosts resolveTargets(const config::Config& cfg, const ResolvedHosts& previous);

}  // namespace reachmon::service
