// The reachmon service: owns the config, the probe engine and the HTTP endpoints. One App::run()
// serves the console, systemd and the Windows service (through service/src/{posix,win}/host_*).
// Threads: run() on the caller's; reload() also from HTTP workers; the probe thread is the
// Monitor's; DNS names resolve on the TargetResolver's threads, which apply their results.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "reachmon/config/config.h"
#include "reachmon/core/address.h"
#include "reachmon/core/metrics_collector.h"
#include "reachmon/core/monitor.h"
#include "reachmon/service/control.h"
#include "reachmon/service/path_plan.h"

namespace reachmon::service {

class HttpServer;
struct HttpAccess;
class TargetResolver;

struct AppOptions {
  std::filesystem::path config_path;
  std::string platform = "linux";
  // Called once probing and HTTP are up (systemd notify, SCM RUNNING, tests).
  std::function<void(int http_port)> on_ready;
  // What a service manager may want to know besides (systemd's sd_notify; HostHooks): a reload
  // starting, and ended (applied or refused, with a one-line status); "alive" about once a second
  // while the probe loop makes progress, and never while it stalls (/-/healthy's 503), so that a
  // watchdog restarts a stalled monitor; the stop starting. Reloads call from their thread (HTTP
  // workers included), the others from run()'s.
  std::function<void()> on_reloading;
  std::function<void(const std::string& status)> on_reloaded;
  std::function<void()> on_alive;
  std::function<void()> on_stopping;
  // Replaces the config file's "listen" (`reachmon run --listen`), at start and at every reload.
  // Must be valid (config::listenAddressError).
  std::string listen_override;
  // Makes the probe engine; core::Monitor::create by default, a fake in tests.
  std::function<std::unique_ptr<core::Monitor>()> make_monitor;
  // Vets the config file before every load, and the web config file it names after, at start and
  // at each reload: a non-empty result says why the file must not be used (start fails, a reload
  // is refused and the running config stays). The Windows service refuses a file that
  // non-administrators can write. Called on run()'s thread and on HTTP threads.
  std::function<std::string(const std::filesystem::path&)> vet_config;
  // Resolves a target's DNS name: blocking, on a worker thread that may outlive the App (so it
  // must own what it uses). core::resolveHost by default, a fake in tests.
  std::function<std::variant<core::IpAddress, std::string>(const std::string&, core::Family)>
      resolve_host;
  // How long one lookup may take before it counts as failed (the target keeps its last address).
  std::chrono::milliseconds resolve_deadline{5000};
};

class App {
 public:
  explicit App(AppOptions options);
  ~App();
  // Runs until control.requestStop(), noting each step of its stop sequence in
  // control.noteStopProgress(). Throws std::runtime_error when it cannot start (invalid
  // config, no ICMP socket, port in use): the caller prints the message and exits non-zero.
  void run(Control& control);
  // Re-reads (and vets) the config file; on any error the running config stays. Thread-safe.
  std::pair<bool, std::string> reload(const std::string& trigger);

 private:
  std::pair<bool, std::string> reloadLocked(const std::string& trigger);  // under reload_mutex_
  std::pair<bool, std::string> healthy() const;
  // "probing N paths, config loaded" (or "reload failed ..."): the service manager's status.
  std::string statusLine() const;
  // options_.vet_config's verdict on the config file or the web config file it names: empty when
  // it may be loaded (or when `file` is empty).
  std::string vetConfig(const std::filesystem::path& file) const;
  // Hands the names to the resolver, builds the path set with the addresses known now and hands
  // it over; returns how many paths it has. Under reload_mutex_; never waits for DNS.
  std::size_t applyConfig(const config::Config& cfg);
  static HttpAccess httpAccess(const config::Config& cfg);
  // Logs what an operator must know about who may now read and reload: authentication turned
  // off, passwords over plain HTTP. `running`: the config before, null at start-up.
  static void warnAboutAccess(const config::Config* running, const config::Config& next);
  // What the file watch compares: the config file's text and, when the running config names one,
  // the web config file's. Under reload_mutex_.
  std::string watchedText(const std::string& config_text) const;
  // The resolver's callback (its thread): addresses changed, rebuild the path set.
  void onResolved();
  // Ends the resolver without waiting for a lookup; never under reload_mutex_.
  void stopResolver();

  AppOptions options_;
  std::mutex reload_mutex_;  // serialises reloads from HTTP, signals and the file watcher,
                             // and guards config_, last_seen_text_ and resolver_ (the
                             // pointer; the resolver itself is thread-safe)
  std::optional<config::Config> config_;
  std::string last_seen_text_;
  std::unique_ptr<core::Monitor> monitor_;
  core::ReloadStatus reload_status_;
  std::shared_ptr<core::MetricsCollector> collector_;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<TargetResolver> resolver_;  // last: its callback uses the members above
};

}  // namespace reachmon::service
