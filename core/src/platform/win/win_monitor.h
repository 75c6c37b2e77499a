// The Windows probe thread, with an injectable ICMP API for tests.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "icmp_api.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/monitor.h"

namespace reachmon::core::win {

// With `interfaces` unset the monitor lists the host's interfaces and follows address changes
// (NotifyUnicastIpAddressChange); tests pass a fixed list instead.
std::unique_ptr<Monitor> createMonitor(std::shared_ptr<IcmpApi> api,
                                       std::optional<std::vector<InterfaceInfo>> interfaces);

}  // namespace reachmon::core::win
