// What `reachmon install` configures beyond CreateServiceW, apart from the SCM so that tests
// record it (tests/win_host_test.cpp): Wine's SCM does not store these settings.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "windows.h"

namespace reachmon::service::win {

// ChangeServiceConfig2W on the new service; tests record the calls.
using ChangeServiceConfig = std::function<BOOL(DWORD level, void* info)>;

// Sets the description, the failure actions (restart 5 s after each of the first three
// failures, failure count reset after a day) and SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, so that
// the actions also apply when the service stops with an error exit code (an invalid config
// after a reboot, a busy port), not only when its process dies. Returns one message per setting
// that could not be applied.
std::vector<std::string> configureService(const ChangeServiceConfig& change);

}  // namespace reachmon::service::win
