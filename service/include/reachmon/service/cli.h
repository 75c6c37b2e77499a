#pragma once

#include <string>
#include <vector>

namespace reachmon::service {

// Runs one command line (without the program name); returns the process exit code.
int runCli(const std::vector<std::string>& args);

}  // namespace reachmon::service
