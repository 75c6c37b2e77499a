#include "reachmon/service/cli.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <optional>

#include "basic_auth.h"
#include "commands.h"
#include "host.h"
#include "reachmon/config/loader.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/service/app.h"
#include "tls_context.h"
#include "version.h"

namespace reachmon::service {
namespace {

constexpr const char* kHelp = R"(reachmon - per-source reachability, latency and loss for Prometheus

Usage:
  reachmon run [--config FILE] [--log-level LEVEL]
      Probe in the foreground (or as the Windows service) until stopped; SIGHUP, a service
      PARAMCHANGE, POST /-/reload or an edit of the config file reloads it.
      Default config: /etc/reachmon/reachmon.json (Windows: %ProgramData%\reachmon\reachmon.json).
  reachmon check-config FILE
      Validate FILE (and the web config file it names, loading its certificate and key) and
      print every error with its JSON path. Exit 0 if valid, 1 if not.
  reachmon hash-password [--cost N]
      Read a password and print its bcrypt hash for the web config file's basic_auth_users. On
      a terminal it asks twice without echo; from a pipe it reads one line (a second, different
      line is an error). N is the bcrypt cost, 4 to 31 (default 10); at most 72 bytes.
  reachmon interfaces
      List the interfaces usable as sources: name, index, state and addresses.
  reachmon probe --source S --target T [--count N] [--interval D] [--timeout D] [--udp PORT]
      One-off probes from source S (an address or an interface) to target T, like `ping -S`.
      With --udp, UDP datagrams to PORT instead of ICMP echo requests: a reply is an echo
      from PORT or the target's ICMP port unreachable (a closed port answers too).
  reachmon --version | --help
)";

constexpr const char* kHelpEnd = R"(

LEVEL is one of trace, debug, info, warn, error (default info). Durations look like 250ms, 1s.
Documentation: docs/config.md, docs/metrics.md.
)";

int usageError(const std::string& message) {
  std::cerr << "reachmon: " << message << "\nRun 'reachmon --help' for usage.\n";
  return 2;
}

// Takes "--name VALUE" pairs from args[start..]; returns an error message or empty.
std::string takeOptions(const std::vector<std::string>& args, std::size_t start,
                        std::map<std::string, std::string>& out) {
  for (std::size_t i = start; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (!out.count(a)) return "unknown option '" + a + "'";
    if (i + 1 >= args.size()) return "option '" + a + "' needs a value";
    out[a] = args[++i];
  }
  return "";
}

int checkConfig(const std::vector<std::string>& args) {
  if (args.size() != 2) return usageError("check-config takes exactly one FILE");
  auto result = config::loadConfigFile(args[1]);
  for (const auto& e : result.errors) std::cerr << args[1] << ": " << e.str() << "\n";
  if (!result.ok()) {
    std::cerr << args[1] << ": " << result.errors.size() << " error(s)\n";
    return 1;
  }
  const config::Web& web = result.config->web;
  if (web.config.tls) {
    if (const std::string why = checkTls(*web.config.tls); !why.empty()) {
      std::cerr << args[1] << ": $.web.config_file: " << web.config_path.string() << ": " << why
                << "\n";
      return 1;
    }
    for (const auto& w : certificateWarnings(*web.config.tls))
      std::cerr << args[1] << ": warning: " << w << "\n";
  }
  for (const auto& w : config::platformWarnings(*result.config, kPlatform))
    std::cerr << args[1] << ": warning: " << w.str() << "\n";
  std::cout << args[1] << ": OK (" << result.config->sources.size() << " sources, "
            << result.config->targets.size() << " targets; HTTP" << (web.config.tls ? "S" : "")
            << ", "
            << (web.config.basic_auth_users.empty()
                    ? std::string("no authentication")
                    : std::to_string(web.config.basic_auth_users.size()) + " basic auth user(s)")
            << ", reload over HTTP " << (web.enable_reload ? "enabled" : "disabled") << ")\n";
  return 0;
}

int hashPasswordCommand(const std::vector<std::string>& args) {
  std::map<std::string, std::string> opts = {{"--cost", "10"}};
  if (auto err = takeOptions(args, 1, opts); !err.empty()) return usageError(err);
  int cost = 0;
  const std::string& c = opts["--cost"];
  if (c.size() > 2 || c.empty() || c.find_first_not_of("0123456789") != std::string::npos ||
      (cost = std::stoi(c)) < 4 || cost > 31)
    return usageError("--cost must be a whole number from 4 to 31, not '" + c + "'");
  const auto password = readSecretLine("Password: ");
  if (!password) {
    std::cerr << "reachmon: hash-password: no password on standard input\n";
    return 1;
  }
  if (password->empty()) {
    std::cerr << "reachmon: hash-password: the password is empty\n";
    return 1;
  }
  // On a terminal: typed twice, as htpasswd asks. From a pipe: one line and nothing after it
  // (a wrapped `openssl rand -base64 60` would otherwise hash its first line only).
  if (const auto again = readSecretLine("Again: "); again && !again->empty()) {
    if (*again != *password) {
      std::cerr << "reachmon: hash-password: the passwords differ (or standard input has more "
                   "than one line: give the password on one line)\n";
      return 1;
    }
  }
  try {
    std::cout << hashPassword(*password, cost) << "\n";
  } catch (const std::exception& e) {
    std::cerr << "reachmon: hash-password: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

int interfaces() {
  for (const auto& ifc : core::listInterfaces()) {
    std::cout << ifc.name << "  index " << ifc.index << "  " << (ifc.up ? "up" : "down");
    if (ifc.luid) std::cout << fmt::format("  luid 0x{:016x}", ifc.luid);
    if (!ifc.guid.empty()) std::cout << "  guid " << ifc.guid;
    std::cout << "\n";
    for (const auto& a : ifc.addresses)
      std::cout << "    " << core::familyName(a.family) << "  " << core::formatIpAddress(a) << "\n";
  }
  return 0;
}

int run(const std::vector<std::string>& args) {
  std::map<std::string, std::string> opts = {{"--config", defaultConfigPath()},
                                             {"--log-level", "info"}};
  if (auto err = takeOptions(args, 1, opts); !err.empty()) return usageError(err);
  const auto level = spdlog::level::from_str(opts["--log-level"]);
  if (level == spdlog::level::off && opts["--log-level"] != "off")
    return usageError("unknown log level '" + opts["--log-level"] + "'");
  setupRunLogging();
  spdlog::set_level(level);
  prepareConfig(opts["--config"]);
  Control control;
  return runHosted(control, [&](const std::function<void()>& ready) {
    try {
      AppOptions options;
      options.config_path = opts["--config"];
      options.platform = kPlatform;
      options.on_ready = [&](int) { ready(); };
      options.vet_config = vetConfigFile;
      App app(std::move(options));
      app.run(control);
      return 0;
    } catch (const std::exception& e) {
      spdlog::critical("{}", e.what());
      return 1;
    }
  });
}

}  // namespace

int runCli(const std::vector<std::string>& args) {
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  if (args.empty()) return usageError("no command given");
  const std::string& cmd = args[0];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::cout << kHelp << platformHelp() << kHelpEnd;
    return 0;
  }
  if (cmd == "--version") {
    std::cout << "reachmon " << kVersion << "\n";
    return 0;
  }
  if (cmd == "run") return run(args);
  if (cmd == "check-config") return checkConfig(args);
  if (cmd == "interfaces") return interfaces();
  if (cmd == "hash-password") return hashPasswordCommand(args);
  if (auto rc = runPlatformCommand(args)) return *rc;
  if (cmd == "probe") {
    std::map<std::string, std::string> opts = {{"--source", ""},    {"--target", ""},
                                               {"--count", "4"},    {"--interval", "1s"},
                                               {"--timeout", "1s"}, {"--udp", ""}};
    if (auto err = takeOptions(args, 1, opts); !err.empty()) return usageError(err);
    return probeCommand(opts);
  }
  return usageError("unknown command '" + cmd + "'");
}

}  // namespace reachmon::service
