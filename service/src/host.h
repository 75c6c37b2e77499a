// What the operating system's service host provides to the CLI (service/src/posix, src/win).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reachmon/service/control.h"

namespace reachmon::service {

// The body of `reachmon run`; it calls `ready` once it probes and serves HTTP.
using ServiceBody = std::function<int(const std::function<void()>& ready)>;

// Runs `body`, routing the OS's stop and reload requests (signals, Ctrl-C, the SCM) into
// `control`, and reporting readiness and exit to the OS where it wants to know.
int runHosted(Control& control, const ServiceBody& body);

// Logging for `reachmon run`: stderr everywhere; on Windows also the Event Log (source
// "reachmon") and a rotating file under %ProgramData%\reachmon\logs.
void setupRunLogging();

// /etc/reachmon/reachmon.json, or %ProgramData%\reachmon\reachmon.json on Windows.
std::string defaultConfigPath();

// Before `reachmon run` reads `config_path`: on Windows, when it is the default path and does not
// exist yet, it is created from reachmon.example.json beside reachmon.exe (what the MSI ships),
// so a fresh install runs at once and no installer ever writes over an operator's file.
void prepareConfig(const std::string& config_path);

// Whether `config_path` may be loaded (AppOptions::vet_config): empty if so, else why not. Windows:
// a config that a principal other than SYSTEM, Administrators or TrustedInstaller can write is
// refused by the service and only warned about in a console run; Linux: always empty.
std::string vetConfigFile(const std::filesystem::path& config_path);

// A line of standard input without its line ending (nullopt at end of input). On a terminal it
// first writes `prompt` to stderr and reads without echo, as passwd and htpasswd do.
std::optional<std::string> readSecretLine(const std::string& prompt);

// Commands only this platform has (Windows: install, uninstall), with their --help text.
std::optional<int> runPlatformCommand(const std::vector<std::string>& args);
std::string platformHelp();

}  // namespace reachmon::service
