#pragma once

#include <map>
#include <string>

namespace reachmon::service {

// `reachmon probe`: options --source, --target, --count, --interval, --timeout (all present).
int probeCommand(const std::map<std::string, std::string>& opts);

}  // namespace reachmon::service
