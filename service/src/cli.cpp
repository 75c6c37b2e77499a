// The command line (CLI11): one subcommand per task, `--help` on each, `--opt=value` and
// `--opt value` alike, short options where ping and the Prometheus exporters have them.
#include "reachmon/service/cli.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <iostream>
#include <optional>

#include "basic_auth.h"
#include "commands.h"
#include "host.h"
#include "reachmon/config/loader.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/service/app.h"
#include "reachmon/service/http_server.h"
#include "tls_context.h"
#include "version.h"

namespace reachmon::service {
namespace {

constexpr const char* kFooter = R"(
Default config: /etc/reachmon/reachmon.json (Windows: %ProgramData%\reachmon\reachmon.json).
Durations look like 250ms, 1s, 1m30s, 1.5s. Every command takes --help.
Documentation: docs/config.md, docs/metrics.md; man reachmon.)";

// Usage errors exit 2, like ping's and most tools'.
int usageError(const std::string& command, const std::string& message) {
  std::cerr << "reachmon: " << message << "\nRun 'reachmon "
            << (command.empty() ? "" : command + " ") << "--help' for usage.\n";
  return 2;
}

int checkConfig(const std::string& file) {
  auto result = config::loadConfigFile(file);
  for (const auto& e : result.errors) std::cerr << file << ": " << e.str() << "\n";
  if (!result.ok()) {
    std::cerr << file << ": " << result.errors.size() << " error(s)\n";
    return 1;
  }
  // What only the HTTP server used to find out at `run`.
  if (const std::string why =
          unservable(result.config->listen, result.config->web.config.tls.has_value());
      !why.empty()) {
    std::cerr << file << ": $.listen: " << why << "\n" << file << ": 1 error(s)\n";
    return 1;
  }
  const config::Web& web = result.config->web;
  if (web.config.tls) {
    if (const std::string why = checkTls(*web.config.tls); !why.empty()) {
      std::cerr << file << ": $.web.config_file: " << web.config_path.string() << ": " << why
                << "\n";
      return 1;
    }
    for (const auto& w : certificateWarnings(*web.config.tls))
      std::cerr << file << ": warning: " << w << "\n";
  }
  for (const auto& w : config::platformWarnings(*result.config, kPlatform))
    std::cerr << file << ": warning: " << w.str() << "\n";
  // What only the Windows service refuses (a console run warns and uses the file).
  for (const auto& f : {std::filesystem::path(file), web.config_path}) {
    if (f.empty()) continue;
    if (const std::string why = serviceWouldRefuse(f); !why.empty())
      std::cerr << file << ": warning: " << why << "\n";
  }
  std::cout << file << ": OK (" << result.config->sources.size() << " sources, "
            << result.config->targets.size() << " targets; HTTP" << (web.config.tls ? "S" : "")
            << ", "
            << (web.config.basic_auth_users.empty()
                    ? std::string("no authentication")
                    : std::to_string(web.config.basic_auth_users.size()) + " basic auth user(s)")
            << ", reload over HTTP " << (web.enable_reload ? "enabled" : "disabled") << ")\n";
  return 0;
}

int hashPasswordCommand(int cost) {
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

struct RunOptions {
  std::string config = defaultConfigPath();
  std::string listen;
  std::string log_level = "info";
  std::string log_format = "text";
};

int run(const RunOptions& opts) {
  setupRunLogging(parseLogFormat(opts.log_format).value_or(LogFormat::kText));
  spdlog::set_level(spdlog::level::from_str(opts.log_level));
  prepareConfig(opts.config);
  Control control;
  return runHosted(control, [&](const HostHooks& hooks) {
    try {
      AppOptions options;
      options.config_path = opts.config;
      options.platform = kPlatform;
      options.listen_override = opts.listen;
      options.on_ready = [&](int port) {
        hooks.ready(fmt::format("probing; metrics on port {}", port));
      };
      options.on_reloading = hooks.reloading;
      options.on_reloaded = hooks.reloaded;
      options.on_alive = hooks.alive;
      options.on_stopping = hooks.stopping;
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

// CLI11 check: a valid listen address.
std::string listenCheck(const std::string& value) { return config::listenAddressError(value); }

void addRun(CLI::App& app, std::function<int()>& action) {
  auto opts = std::make_shared<RunOptions>();
  auto* cmd = app.add_subcommand("run", "Probe and serve the metrics until stopped");
  cmd->footer(
      "Runs in the foreground (or as the Windows service) until SIGTERM or SIGINT (Ctrl-C).\n"
      "SIGHUP, a service PARAMCHANGE, POST /-/reload or an edit of the config file reloads it.\n"
      "Under systemd (Type=notify) it reports ready, reloading and stopping, sends watchdog\n"
      "keep-alives while the probe loop makes progress, and logs to the journal with priorities.");
  cmd->add_option("-c,--config", opts->config, "Config file")
      ->type_name("FILE")
      ->capture_default_str();
  cmd->add_option("--listen", opts->listen,
                  "Serve HTTP on HOST:PORT (\"IPv4:port\" or \"[IPv6]:port\") instead of the "
                  "config's \"listen\"")
      ->type_name("HOST:PORT")
      ->check(CLI::Validator(listenCheck, ""));
  cmd->add_option("--log-level", opts->log_level, "Least severe level logged")
      ->type_name("LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  cmd->add_option("--log-format", opts->log_format,
                  "text (time level message) or json (one object per line: ts, level, msg)")
      ->type_name("FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->callback([opts, &action] { action = [opts] { return run(*opts); }; });
}

void addCheckConfig(CLI::App& app, std::function<int()>& action) {
  auto file = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("check-config", "Validate a config file and exit 0 (valid) or 1");
  cmd->footer(
      "Prints every error with its JSON path, and checks the web config file it names (loading\n"
      "its certificate and key) and whether this build can listen where it says.");
  cmd->add_option("FILE", *file, "The config file")->required();
  cmd->callback([file, &action] { action = [file] { return checkConfig(*file); }; });
}

void addProbe(CLI::App& app, std::function<int()>& action) {
  auto opts = std::make_shared<ProbeOptions>();
  auto positional = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("probe", "Probe one target like ping, from one source or all");
  cmd->footer(
      "Prints a line per probe (seq counts the probes in the order their outcomes came) and a\n"
      "summary per source at the end: after N probes with -c, else on Ctrl-C. With --udp, UDP\n"
      "datagrams to PORT: an echo from PORT or the target's port unreachable answers.\n"
      "Exit 0 when every source had a reply, 1 when one had none, 2 on errors.");
  cmd->add_option("TARGET", *positional, "Target address or DNS name (or --target)");
  cmd->add_option("--target", opts->target, "Target address or DNS name")->type_name("T");
  auto* source = cmd->add_option("-I,--source", opts->source,
                                 "Source address or interface name (like ping -I)")
                     ->type_name("S");
  cmd->add_flag("--all-sources", opts->all_sources,
                "Probe from every interface that is up and has an address of the target's "
                "family, at once")
      ->excludes(source);
  cmd->add_option("-c,--count", opts->count, "Stop after N probes per source (default: Ctrl-C)")
      ->type_name("N")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("-i,--interval", opts->interval, "Time between probes, 10ms to 1h")
      ->type_name("D")
      ->capture_default_str();
  cmd->add_option("-W,--timeout", opts->timeout, "Time to wait for a reply, 10ms to 1m")
      ->type_name("D")
      ->capture_default_str();
  cmd->add_option("--udp", opts->udp_port, "Probe with UDP datagrams to PORT")
      ->type_name("PORT")
      ->check(CLI::Range(1, 65535));
  cmd->callback([opts, positional, &action] {
    if (!positional->empty() && !opts->target.empty())
      throw CLI::ValidationError("TARGET", "give the target once: as TARGET or with --target");
    if (!positional->empty()) opts->target = *positional;
    if (opts->target.empty()) throw CLI::RequiredError("TARGET (or --target)");
    if (opts->source.empty() && !opts->all_sources)
      throw CLI::RequiredError("--source (or --all-sources)");
    action = [opts] {
      Control control;
      return runHosted(control, [&](const HostHooks&) { return probeCommand(*opts, control); });
    };
  });
}

void addHashPassword(CLI::App& app, std::function<int()>& action) {
  auto cost = std::make_shared<int>(10);
  auto* cmd = app.add_subcommand(
      "hash-password", "Print the bcrypt hash of a password for the web config's basic_auth_users");
  cmd->footer(
      "On a terminal it asks twice without echo; from a pipe it reads one line (a second,\n"
      "different line is an error). At most 72 bytes.");
  cmd->add_option("--cost", *cost, "bcrypt cost, 4 to 31")
      ->type_name("N")
      ->check(CLI::Range(4, 31))
      ->capture_default_str();
  cmd->callback([cost, &action] { action = [cost] { return hashPasswordCommand(*cost); }; });
}

// The command a usage error is about, for "Run 'reachmon CMD --help'".
std::string commandOf(const CLI::App& app) {
  for (const auto* sub : app.get_subcommands()) return sub->get_name();
  return "";
}

}  // namespace

int runCli(const std::vector<std::string>& args) {
  spdlog::set_formatter(makeLogFormatter(LogFormat::kText));
  CLI::App app("reachmon " + std::string(kVersion) +
                   " - per-source reachability, latency and loss for Prometheus",
               "reachmon");
  app.allow_windows_style_options(false);  // "/path" is a path, on Windows too
  app.require_subcommand(1);
  app.set_version_flag("-V,--version", "reachmon " + std::string(kVersion));
  app.footer(kFooter);
  std::function<int()> action;
  addRun(app, action);
  addCheckConfig(app, action);
  addProbe(app, action);
  app.add_subcommand("interfaces",
                     "List the interfaces usable as sources: name, index, state, "
                     "addresses")
      ->callback([&action] { action = interfaces; });
  addHashPassword(app, action);
  addPlatformCommands(app, action);

  // An unknown word where the command goes: say so plainly (CLI11 would call it an extra
  // argument).
  if (!args.empty() && !args[0].empty() && args[0][0] != '-' && args[0] != "help") {
    const auto subs = app.get_subcommands([&](CLI::App* s) { return s->get_name() == args[0]; });
    if (subs.empty()) return usageError("", "unknown command '" + args[0] + "'");
  }
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // what CLI11's parse takes
  if (!args.empty() && args[0] == "help") reversed.back() = "--help";
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    if (args.empty()) return usageError("", "no command given");
    return usageError(commandOf(app), e.what());
  }
  return action ? action() : usageError("", "no command given");
}

}  // namespace reachmon::service
