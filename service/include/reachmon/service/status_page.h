// The human-readable status page served at "/".
#pragma once

#include <string>

#include "reachmon/core/snapshot.h"

namespace reachmon::service {

std::string renderStatusPage(const core::Snapshot& snapshot, const std::string& version);
std::string htmlEscape(const std::string& s);

}  // namespace reachmon::service
