// Windows host: run under the Service Control Manager, or as a console program when not started
// by it. The SCM handler only records requests; the service thread (App::run) does the work and
// reports START_PENDING -> RUNNING once it serves, STOP_PENDING with checkpoints, then STOPPED.
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "../host.h"
#include "windows.h"

namespace reachmon::service {
namespace {

using win::kServiceName;

struct HostContext {
  HostContext(Control& c, const ServiceBody& b) : control(c), body(b) {}
  Control& control;
  const ServiceBody& body;
  SERVICE_STATUS_HANDLE status_handle = nullptr;
  std::mutex mutex;
  std::condition_variable finished_cv;
  bool finished = false;
  DWORD checkpoint = 0;
  int exit_code = 0;

  void report(DWORD state, DWORD wait_hint_ms = 0, int exit_code_value = 0) {
    std::lock_guard lock(mutex);
    SERVICE_STATUS s{};
    s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    s.dwCurrentState = state;
    s.dwControlsAccepted = state == SERVICE_RUNNING
                               ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                     SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                               : 0;
    const bool pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING;
    s.dwCheckPoint = pending ? ++checkpoint : 0;
    s.dwWaitHint = wait_hint_ms;
    s.dwWin32ExitCode = exit_code_value == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    s.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code_value);
    if (status_handle) SetServiceStatus(status_handle, &s);
  }
};

// The SCM calls ServiceMain and console control handlers without a context argument; this slot
// hands the one HostContext over. Set before the dispatcher starts, cleared when it returns.
std::atomic<HostContext*>& currentHost() {
  static std::atomic<HostContext*> host{nullptr};
  return host;
}

DWORD WINAPI controlHandler(DWORD code, DWORD, LPVOID, LPVOID context) {
  auto* host = static_cast<HostContext*>(context);
  switch (code) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
      host->report(SERVICE_STOP_PENDING, 5000);
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

// A service ignores console events: it may have inherited a console from whatever started the
// service manager, and the default handler would end the process when that console goes away.
// Stop and shutdown reach a service through the SCM only.
BOOL WINAPI ignoreConsoleEvents(DWORD) { return TRUE; }

void WINAPI serviceMain(DWORD, LPWSTR*) {
  SetConsoleCtrlHandler(&ignoreConsoleEvents, TRUE);
  HostContext* host = currentHost().load();
  host->status_handle = RegisterServiceCtrlHandlerExW(kServiceName, &controlHandler, host);
  if (!host->status_handle) return;
  host->report(SERVICE_START_PENDING, 10000);
  // While stopping, keep telling the SCM that progress is being made.
  std::thread ticker([host] {
    std::unique_lock lock(host->mutex);
    while (!host->finished_cv.wait_for(lock, std::chrono::milliseconds(500),
                                       [host] { return host->finished; })) {
      if (!host->control.stopRequested()) continue;
      lock.unlock();
      host->report(SERVICE_STOP_PENDING, 5000);
      lock.lock();
    }
  });
  const int rc = host->body([host] { host->report(SERVICE_RUNNING); });
  {
    std::lock_guard lock(host->mutex);
    host->finished = true;
  }
  host->finished_cv.notify_all();
  ticker.join();
  host->exit_code = rc;
  host->report(SERVICE_STOPPED, 0, rc);
}

BOOL WINAPI consoleHandler(DWORD) {
  if (HostContext* host = currentHost().load()) host->control.requestStop();
  return TRUE;
}

}  // namespace

int runHosted(Control& control, const ServiceBody& body) {
  HostContext host(control, body);
  currentHost().store(&host);
  SERVICE_TABLE_ENTRYW table[] = {{const_cast<LPWSTR>(kServiceName), &serviceMain},
                                  {nullptr, nullptr}};
  int rc = 0;
  if (StartServiceCtrlDispatcherW(table)) {
    rc = host.exit_code;
  } else if (const DWORD err = GetLastError(); err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
    SetConsoleCtrlHandler(&consoleHandler, TRUE);  // Ctrl-C, Ctrl-Break, closing the console
    rc = body([] {});
    SetConsoleCtrlHandler(&consoleHandler, FALSE);
  } else {
    spdlog::critical("cannot connect to the service control manager: {}", win::errorText(err));
    rc = 1;
  }
  currentHost().store(nullptr);
  return rc;
}

void prepareConfig(const std::string& config_path) {
  if (config_path != defaultConfigPath()) return;
  const std::wstring target = win::toWide(config_path);
  if (GetFileAttributesW(target.c_str()) != INVALID_FILE_ATTRIBUTES) return;
  std::wstring example(MAX_PATH, L'\0');
  example.resize(GetModuleFileNameW(nullptr, example.data(), MAX_PATH));
  example = example.substr(0, example.find_last_of(L'\\') + 1) + L"reachmon.example.json";
  // CopyFile with bFailIfExists: never replaces a file that appeared meanwhile.
  if (CopyFileW(example.c_str(), target.c_str(), TRUE)) {
    spdlog::info("created {} from {}", config_path, win::toUtf8(example));
  } else if (GetLastError() != ERROR_FILE_EXISTS) {
    spdlog::warn("no config at {} and cannot create it from {}: {}", config_path,
                 win::toUtf8(example), win::errorText(GetLastError()));
  }
}

std::string defaultConfigPath() { return win::toUtf8(win::dataDirectory() + L"\\reachmon.json"); }

}  // namespace reachmon::service
