// `reachmon install` / `reachmon uninstall`: register or remove the Windows service and its
// Event Log source.
#include "install_win.h"

#include <spdlog/common.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <thread>

#include "../host.h"
#include "reachmon/config/loader.h"
#include "security_win.h"
#include "windows.h"

namespace reachmon::service {
namespace {

using win::errorText;
using win::ScHandle;

constexpr const wchar_t* kEventLogKey =
    L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\reachmon";
constexpr const wchar_t* kDescription =
    L"Measures reachability, latency and loss from every source interface to its targets and "
    L"serves them for Prometheus.";

int fail(const std::string& what, DWORD code) {
  std::cerr << "reachmon: " << what << ": " << errorText(code) << "\n";
  return 1;
}

std::wstring modulePath() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

void registerEventSource(const std::wstring& exe) {
  HKEY key = nullptr;
  if (RegCreateKeyExW(HKEY_LOCAL_MACHINE, kEventLogKey, 0, nullptr, 0, KEY_SET_VALUE, nullptr, &key,
                      nullptr) != ERROR_SUCCESS)
    return;
  // reachmon.exe carries a message table whose message 1000 is "%1" (service/src/win/messages.mc).
  RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ,
                 reinterpret_cast<const BYTE*>(exe.c_str()),
                 static_cast<DWORD>((exe.size() + 1) * sizeof(wchar_t)));
  const DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&types),
                 sizeof types);
  RegCloseKey(key);
}

int install(const std::string& config_arg, const std::string& listen) {
  std::wstring config = win::toWide(config_arg);
  const std::wstring exe = modulePath();
  std::wstring command = L"\"" + exe + L"\" run";  // quoted: Program Files has a space
  if (!config.empty()) {
    // Sized by a first call: a path may be longer than MAX_PATH.
    if (const DWORD n = GetFullPathNameW(config.c_str(), 0, nullptr, nullptr); n > 0) {
      std::wstring full(n, L'\0');
      const DWORD written = GetFullPathNameW(config.c_str(), n, full.data(), nullptr);
      if (written > 0 && written < n) config = full.substr(0, written);
    }
    command += L" --config \"" + config + L"\"";
  }
  if (!listen.empty()) command += L" --listen " + win::toWide(listen);  // validated: no spaces
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CREATE_SERVICE));
  if (!scm) return fail("cannot open the service control manager", GetLastError());
  ScHandle service(CreateServiceW(scm.get(), win::kServiceName, win::kDisplayName,
                                  SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START,
                                  SERVICE_ERROR_NORMAL, command.c_str(), nullptr, nullptr, nullptr,
                                  L"NT AUTHORITY\\LocalService", nullptr));
  if (!service) return fail("cannot create the service", GetLastError());
  const auto problems = win::configureService([&service](DWORD level, void* info) {
    return ChangeServiceConfig2W(service.get(), level, info);
  });
  for (const auto& problem : problems) std::cerr << "reachmon: warning: " << problem << "\n";
  registerEventSource(exe);
  // As an administrator, unlike the service (LocalService): the data folder with its protected
  // permissions and Administrators as owner, and the default config from the example.
  for (const auto& note : win::secureDataDirectory(win::dataDirectory()))
    (note.level >= spdlog::level::warn ? std::cerr : std::cout) << note.text << "\n";
  if (config.empty()) prepareConfig(defaultConfigPath());
  std::cout << "installed service reachmon: " << win::toUtf8(command) << "\n";
  return 0;
}

int uninstall() {
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return fail("cannot open the service control manager", GetLastError());
  ScHandle service(
      OpenServiceW(scm.get(), win::kServiceName, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (!service) return fail("cannot open the service", GetLastError());
  SERVICE_STATUS status{};
  if (ControlService(service.get(), SERVICE_CONTROL_STOP, &status)) {
    for (int i = 0; i < 100 && status.dwCurrentState != SERVICE_STOPPED; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (!QueryServiceStatus(service.get(), &status)) break;
    }
  }
  if (!DeleteService(service.get())) return fail("cannot delete the service", GetLastError());
  RegDeleteKeyW(HKEY_LOCAL_MACHINE, kEventLogKey);
  std::cout << "removed service reachmon\n";
  return 0;
}

// Waits until the service has stopped and its process has exited (at most 30 s). The MSI runs it
// between StopServices and RemoveFiles: Windows Installer's own wait covers only the STOPPED
// state, Wine's not even that, and a running reachmon.exe cannot be deleted.
int waitStopped() {
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return 0;
  ScHandle service(OpenServiceW(scm.get(), win::kServiceName, SERVICE_QUERY_STATUS));
  if (!service) return 0;  // not installed: nothing to wait for
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  DWORD pid = 0;
  for (;;) {
    SERVICE_STATUS_PROCESS status{};
    DWORD needed = 0;
    if (!QueryServiceStatusEx(service.get(), SC_STATUS_PROCESS_INFO,
                              reinterpret_cast<BYTE*>(&status), sizeof status, &needed))
      return 0;
    if (status.dwProcessId) pid = status.dwProcessId;
    if (status.dwCurrentState == SERVICE_STOPPED) break;
    if (std::chrono::steady_clock::now() > deadline) return 1;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (pid) {
    if (HANDLE process = OpenProcess(SYNCHRONIZE, FALSE, pid)) {
      WaitForSingleObject(process, 30000);
      CloseHandle(process);
    }
  }
  return 0;
}

}  // namespace

namespace win {

std::vector<std::string> configureService(const ChangeServiceConfig& change) {
  std::vector<std::string> problems;
  const auto apply = [&](DWORD level, void* info, const char* what) {
    if (!change(level, info))
      problems.push_back("cannot set " + std::string(what) + ": " + errorText(GetLastError()));
  };
  SERVICE_DESCRIPTIONW description{const_cast<LPWSTR>(kDescription)};
  apply(SERVICE_CONFIG_DESCRIPTION, &description, "the description");
  SC_ACTION actions[3] = {
      {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 24 * 3600;
  failure.cActions = 3;
  failure.lpsaActions = actions;
  apply(SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "the failure actions");
  SERVICE_FAILURE_ACTIONS_FLAG on_error_exit{TRUE};
  apply(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_error_exit,
        "the failure actions for error exits (SERVICE_CONFIG_FAILURE_ACTIONS_FLAG)");
  return problems;
}

}  // namespace win

void addPlatformCommands(CLI::App& app, std::function<int()>& action) {
  auto config = std::make_shared<std::string>();
  auto listen = std::make_shared<std::string>();
  auto* install_cmd = app.add_subcommand("install", "Register the Windows service \"reachmon\"");
  install_cmd->footer(
      "LocalService account, automatic start, restart on failure (also after an error exit),\n"
      "Event Log source. The service runs \"reachmon run [--config FILE] [--listen HOST:PORT]\".\n"
      "Also creates %ProgramData%\\reachmon and its logs\\ with permissions that let only SYSTEM\n"
      "and Administrators change them, and, without --config, reachmon.json there from the\n"
      "example.");
  install_cmd->add_option("-c,--config", *config, "Config file the service runs with")
      ->type_name("FILE");
  install_cmd->add_option("--listen", *listen, "HOST:PORT the service serves HTTP on")
      ->type_name("HOST:PORT")
      ->check(CLI::Validator(config::listenAddressError, ""));
  install_cmd->callback([config, listen, &action] {
    action = [config, listen] { return install(*config, *listen); };
  });
  app.add_subcommand("uninstall", "Stop and remove the service and its Event Log source")
      ->callback([&action] { action = uninstall; });
  app.add_subcommand("wait-stopped",
                     "Wait (up to 30 s) until the service has stopped and its process has exited "
                     "(the MSI runs it before removing files)")
      ->callback([&action] { action = waitStopped; });
}

}  // namespace reachmon::service
