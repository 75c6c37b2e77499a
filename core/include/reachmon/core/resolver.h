// Host name resolution (blocking; call it from the service, never from the probe thread).
#pragma once

#include <string>
#include <variant>

#include "reachmon/core/address.h"

namespace reachmon::core {

// The first address of `family` that `host` resolves to, or an error message.
std::variant<IpAddress, std::string> resolveHost(const std::string& host, Family family);

}  // namespace reachmon::core
