// Windows host: run under the Service Control Manager, or as a console program when not started
// by it. The SCM handler only records requests; the service thread (App::run) does the work, and
// StatusReporter (scm_host.h) says START_PENDING -> RUNNING -> STOP_PENDING -> STOPPED.
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <iostream>
#include <memory>
#include <mutex>
#include <thread>

#include "../host.h"
#include "scm_host.h"
#include "security_win.h"
#include "windows.h"

namespace reachmon::service {
namespace {

using win::kServiceName;

// One per runHosted() call. Shared (std::shared_ptr) by runHosted, serviceMain and the console
// handler, so it lives until the last of them is done with it: serviceMain's reports after the
// SCM has let runHosted return included. `control` and `body` belong to runHosted's caller and
// are used only while runHosted runs.
struct HostContext {
  HostContext(Control& c, const ServiceBody& b)
      : control(c),
        body(b),
        status(c,
               [this](SERVICE_STATUS s) {
                 if (SERVICE_STATUS_HANDLE h = status_handle.load()) SetServiceStatus(h, &s);
               }),
        console(c) {}
  Control& control;
  const ServiceBody& body;
  std::atomic<SERVICE_STATUS_HANDLE> status_handle{nullptr};
  std::atomic<bool> as_service{false};  // started by the SCM (vetConfigFile refuses, not warns)
  std::atomic<int> exit_code{0};
  win::StatusReporter status;
  win::ConsoleStop console;
};

// The SCM calls ServiceMain, and Windows console handlers, without a context argument: this slot
// hands the HostContext over while runHosted runs.
class HostSlot {
 public:
  std::shared_ptr<HostContext> get() {
    std::lock_guard lock(mutex_);
    return host_;
  }
  void set(std::shared_ptr<HostContext> host) {
    std::lock_guard lock(mutex_);
    host_ = std::move(host);
  }

 private:
  std::mutex mutex_;
  std::shared_ptr<HostContext> host_;
};

HostSlot& currentHost() {
  static HostSlot slot;
  return slot;
}

// Sets the slot for a scope.
class SlotScope {
 public:
  explicit SlotScope(std::shared_ptr<HostContext> host) { currentHost().set(std::move(host)); }
  SlotScope(const SlotScope&) = delete;
  SlotScope& operator=(const SlotScope&) = delete;
  ~SlotScope() { currentHost().set(nullptr); }
};

// Calls status.tick() every StatusReporter::kTickInterval until destroyed.
class Ticker {
 public:
  explicit Ticker(win::StatusReporter& status)
      : thread_([this, &status] {
          std::unique_lock lock(mutex_);
          while (!done_cv_.wait_for(lock, win::StatusReporter::kTickInterval,
                                    [this] { return done_; })) {
            lock.unlock();
            status.tick();
            lock.lock();
          }
        }) {}
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;
  ~Ticker() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

// Runs on the dispatcher thread, inside StartServiceCtrlDispatcherW: runHosted holds the
// context meanwhile.
DWORD WINAPI controlHandler(DWORD code, DWORD, LPVOID, LPVOID context) {
  auto* host = static_cast<HostContext*>(context);
  switch (code) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
      host->status.stopRequested();
      host->control.requestStop();
      return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
      host->control.requestReload("PARAMCHANGE");
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

// Nothing to tell a console; the SCM takes only RUNNING (and the stop's progress).
HostHooks consoleHooks() {
  HostHooks hooks;
  hooks.ready = [](const std::string&) {};
  hooks.reloading = [] {};
  hooks.reloaded = [](const std::string&) {};
  hooks.alive = [] {};
  hooks.stopping = [] {};
  return hooks;
}

// A service ignores console events: it may have inherited a console from whatever started the
// service manager, and the default handler would end the process when that console goes away.
// Stop and shutdown reach a service through the SCM only.
BOOL WINAPI ignoreConsoleEvents(DWORD) { return TRUE; }

void WINAPI serviceMain(DWORD, LPWSTR*) {
  SetConsoleCtrlHandler(&ignoreConsoleEvents, TRUE);
  const std::shared_ptr<HostContext> host = currentHost().get();  // ours until we return
  if (!host) return;
  host->as_service = true;
  host->status_handle = RegisterServiceCtrlHandlerExW(kServiceName, &controlHandler, host.get());
  if (!host->status_handle) return;
  host->status.starting();
  int rc = 0;
  {
    const Ticker ticker(host->status);  // START_PENDING and STOP_PENDING while they last
    HostHooks hooks = consoleHooks();
    hooks.ready = [&host](const std::string&) { host->status.running(); };
    rc = host->body(hooks);
  }
  host->exit_code = rc;
  host->status.stopped(rc);  // the SCM may now end the process, or let runHosted return
}

BOOL WINAPI consoleHandler(DWORD event) {
  const std::shared_ptr<HostContext> host = currentHost().get();
  return host ? host->console.handle(event) : FALSE;
}

}  // namespace

int runHosted(Control& control, const ServiceBody& body) {
  const auto host = std::make_shared<HostContext>(control, body);
  const SlotScope slot(host);
  SERVICE_TABLE_ENTRYW table[] = {{const_cast<LPWSTR>(kServiceName), &serviceMain},
                                  {nullptr, nullptr}};
  if (StartServiceCtrlDispatcherW(table)) return host->exit_code;
  if (const DWORD err = GetLastError(); err != ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
    spdlog::critical("cannot connect to the service control manager: {}", win::errorText(err));
    return 1;
  }
  // Ctrl-C, Ctrl-Break, closing the console, logging off, shutting down.
  SetConsoleCtrlHandler(&consoleHandler, TRUE);
  const int rc = body(consoleHooks());
  host->console.finished();
  SetConsoleCtrlHandler(&consoleHandler, FALSE);
  return rc;
}

std::string vetConfigFile(const std::filesystem::path& config_path) {
  const std::string writers = win::configWriters(config_path.wstring());
  if (writers.empty()) return "";
  const auto host = currentHost().get();
  if (host && host->as_service)
    return "refusing the config: " + writers +
           "; only SYSTEM, Administrators and TrustedInstaller may change the service's config";
  spdlog::warn(
      "{}; the service would refuse it (only SYSTEM, Administrators and TrustedInstaller may "
      "change its config), this console run uses it",
      writers);
  return "";
}

std::string serviceWouldRefuse(const std::filesystem::path& config_path) {
  const std::string writers = win::configWriters(config_path.wstring());
  if (writers.empty()) return "";
  return writers +
         "; the service would refuse it (only SYSTEM, Administrators and TrustedInstaller may "
         "change its config)";
}

void prepareConfig(const std::string& config_path) {
  if (config_path != defaultConfigPath()) return;
  const std::wstring target = win::toWide(config_path);
  if (GetFileAttributesW(target.c_str()) != INVALID_FILE_ATTRIBUTES) return;
  std::wstring example(MAX_PATH, L'\0');
  example.resize(GetModuleFileNameW(nullptr, example.data(), MAX_PATH));
  example = example.substr(0, example.find_last_of(L'\\') + 1) + L"reachmon.example.json";
  // CopyFile with bFailIfExists: never replaces a file that appeared meanwhile. The copy inherits
  // the data folder's protected permissions (secureDataDirectory).
  if (CopyFileW(example.c_str(), target.c_str(), TRUE)) {
    spdlog::info("created {} from {}", config_path, win::toUtf8(example));
  } else if (GetLastError() != ERROR_FILE_EXISTS) {
    spdlog::warn("no config at {} and cannot create it from {}: {}", config_path,
                 win::toUtf8(example), win::errorText(GetLastError()));
  }
}

std::string defaultConfigPath() { return win::toUtf8(win::dataDirectory() + L"\\reachmon.json"); }

std::optional<std::string> readSecretLine(const std::string& prompt) {
  const HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
  DWORD saved = 0;
  const bool console = in != INVALID_HANDLE_VALUE && GetConsoleMode(in, &saved) != 0;
  if (console) {
    std::cerr << prompt << std::flush;
    SetConsoleMode(in, saved & ~static_cast<DWORD>(ENABLE_ECHO_INPUT));
  }
  std::string line;
  const bool got = static_cast<bool>(std::getline(std::cin, line));
  if (console) {
    SetConsoleMode(in, saved);
    std::cerr << "\n";
  }
  if (!got) return std::nullopt;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace reachmon::service
