// What the operating system's service host provides to the CLI (service/src/posix, src/win).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace CLI {
class App;
}

#include "log_format.h"
#include "reachmon/service/control.h"

namespace reachmon::service {

// What the body of `reachmon run` tells the OS's service manager. Any thread may call them.
// systemd (Type=notify, NOTIFY_SOCKET): READY=1, RELOADING=1 ... READY=1, WATCHDOG=1 and
// STOPPING=1. The SCM: RUNNING once ready (it has no reload or watchdog). Otherwise nothing.
struct HostHooks {
  std::function<void(const std::string& status)> ready;     // probing and serving HTTP
  std::function<void()> reloading;                          // a reload starts
  std::function<void(const std::string& status)> reloaded;  // it ended, applied or refused
  std::function<void()> alive;  // the probe loop makes progress (the watchdog's keep-alive)
  std::function<void()> stopping;
};

// The body of `reachmon run` (or of another command that stops on Ctrl-C, with hooks it ignores).
using ServiceBody = std::function<int(const HostHooks& hooks)>;

// Runs `body`, routing the OS's stop and reload requests (signals, Ctrl-C, the SCM) into
// `control`, and reporting readiness and exit to the OS where it wants to know.
int runHosted(Control& control, const ServiceBody& body);

// Logging for `reachmon run`, every line in `format`: stderr, or, when stderr is the systemd
// journal (JOURNAL_STREAM), the journal's native protocol, so that each line keeps its priority;
// on Windows also the Event Log (source "reachmon", message only) and a rotating file under
// %ProgramData%\reachmon\logs.
void setupRunLogging(LogFormat format);

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

// What `reachmon check-config` warns about `config_path` because the service would refuse it,
// or empty. Windows: who besides SYSTEM, Administrators and TrustedInstaller can write it;
// Linux: always empty.
std::string serviceWouldRefuse(const std::filesystem::path& config_path);

// A line of standard input without its line ending (nullopt at end of input). On a terminal it
// first writes `prompt` to stderr and reads without echo, as passwd and htpasswd do.
std::optional<std::string> readSecretLine(const std::string& prompt);

// Adds the commands only this platform has (Windows: install, uninstall, wait-stopped) to `app`;
// the one parsed sets `action`, which runs it and returns the exit code.
void addPlatformCommands(CLI::App& app, std::function<int()>& action);

}  // namespace reachmon::service
