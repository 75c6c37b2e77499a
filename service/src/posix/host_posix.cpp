// Linux host: SIGTERM/SIGINT stop, SIGHUP reloads. Signals are blocked in every thread and taken
// synchronously by one thread with sigwait, so no work runs in a signal handler.
#include <pthread.h>
#include <signal.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>
#include <thread>

#include "../host.h"

namespace reachmon::service {

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
  const int rc = body([] {});
  pthread_kill(waiter.native_handle(), SIGUSR1);
  waiter.join();
  return rc;
}

void setupRunLogging() {}  // stderr: journald adds time and unit

std::string defaultConfigPath() { return "/etc/reachmon/reachmon.json"; }

void prepareConfig(const std::string&) {}  // the .deb installs /etc/reachmon/reachmon.json

std::string vetConfigFile(const std::filesystem::path&) { return ""; }  // no check on Linux

std::optional<int> runPlatformCommand(const std::vector<std::string>&) { return std::nullopt; }

std::string platformHelp() { return ""; }

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
