// What the operating system's service host provides to the CLI.
#pragma once

#include <functional>

#include "control.h"

namespace reachmon::service {

// Routes stop and reload requests from the OS (signals, SCM) into `control` while `body` runs.
int runHosted(Control& control, const std::function<int()>& body);

}  // namespace reachmon::service
