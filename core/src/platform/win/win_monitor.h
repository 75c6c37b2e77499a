// The Windows probe thread, with an injectable ICMP API for tests.
#pragma once

#include <memory>

#include "icmp_api.h"
#include "reachmon/core/monitor.h"

namespace reachmon::core::win {

// `api` must outlive the monitor. `watch_interfaces` subscribes to address change notifications
// (NotifyUnicastIpAddressChange); tests that feed their own interfaces turn it off.
std::unique_ptr<Monitor> createMonitor(std::shared_ptr<IcmpApi> api, bool watch_interfaces);

}  // namespace reachmon::core::win
