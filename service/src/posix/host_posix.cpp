// Linux host: SIGTERM/SIGINT stop, SIGHUP reloads. Signals are blocked in every thread and taken
// synchronously by one thread with sigwait, so no work runs in a signal handler. Under systemd
// (Type=notify) it reports readiness, reloads, stopping and the watchdog's keep-alives with
// sd_notify, and logs through the journal's native protocol, which keeps each line's priority.
#include <pthread.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/systemd_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <string>
#include <thread>

#include "../host.h"

namespace reachmon::service {
namespace {

// sd_notify does nothing (and returns 0) when NOTIFY_SOCKET is unset: outside systemd, or under
// a unit that is not Type=notify.
void notify(const std::string& state) { sd_notify(0, state.c_str()); }

std::string monotonicUsec() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return std::to_string(static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000);
}

HostHooks systemdHooks() {
  std::uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  // App::run reports progress about once a second: a shorter watchdog would kill a healthy loop.
  if (watchdog && watchdog_usec < 3'000'000)
    spdlog::warn(
        "WatchdogSec={} ms is too short: keep-alives come about once a second while the probe "
        "loop makes progress; use 3s or more",
        watchdog_usec / 1000);
  HostHooks hooks;
  hooks.ready = [](const std::string& status) { notify("READY=1\nSTATUS=" + status); };
  // MONOTONIC_USEC: what systemd 253's Type=notify-reload asks for; older ones ignore it.
  hooks.reloading = [] { notify("RELOADING=1\nMONOTONIC_USEC=" + monotonicUsec()); };
  hooks.reloaded = [](const std::string& status) { notify("READY=1\nSTATUS=" + status); };
  hooks.alive = [watchdog] {
    if (watchdog) notify("WATCHDOG=1");
  };
  hooks.stopping = [] { notify("STOPPING=1\nSTATUS=stopping"); };
  return hooks;
}

// Whether stderr is the journal: systemd sets JOURNAL_STREAM to its device and inode.
bool stderrIsJournal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  struct stat st {};
  if (!stream || fstat(STDERR_FILENO, &st) != 0) return false;
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) == stream;
}

}  // namespace

int runHosted(Control& control, const ServiceBody& body) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);                   // internal: ends the signal thread
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // inherited by every thread started after this
  std::thread waiter([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGUSR1) return;
      if (sig == SIGHUP) {
        control.requestReload("SIGHUP");
      } else {
        control.requestStop();
      }
    }
  });
  const int rc = body(systemdHooks());
  pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  return rc;
}

void setupRunLogging(LogFormat format) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (stderrIsJournal()) {
    // The journal records the time, unit and priority itself: the message alone in text format,
    // the whole object (for log shippers reading the journal) in JSON.
    sink = std::make_shared<spdlog::sinks::systemd_sink_mt>("reachmon", format == LogFormat::kJson);
    if (format == LogFormat::kJson) sink->set_formatter(makeLogFormatter(format, false));
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(makeLogFormatter(format));
  }
  auto logger = std::make_shared<spdlog::logger>("reachmon", sink);
  logger->set_level(spdlog::default_logger()->level());
  spdlog::set_default_logger(std::move(logger));
}

std::string defaultConfigPath() { return "/etc/reachmon/reachmon.json"; }

void prepareConfig(const std::string&) {}  // the .deb installs /etc/reachmon/reachmon.json

std::string vetConfigFile(const std::filesystem::path&) { return ""; }  // no check on Linux

std::string serviceWouldRefuse(const std::filesystem::path&) { return ""; }

void addPlatformCommands(CLI::App&, std::function<int()>&) {}  // none on Linux

std::optional<std::string> readSecretLine(const std::string& prompt) {
  termios saved{};
  const bool terminal = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (terminal) {
    std::cerr << prompt << std::flush;
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (terminal) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    std::cerr << "\n";
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace reachmon::service
