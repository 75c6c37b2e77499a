// Custom actions of the reachmon MSI (installer/windows/reachmon.wxs). The MSI carries this DLL
// in its Binary table and never installs it. The actions do what the standard actions do not do
// the same way on Windows and under Wine, and what Debian's wixl cannot author
// (Permission/PermissionEx, ServiceConfig):
//
//   ConfigureService   "NAME|COMMAND LINE": sets the service's command line through the SCM
//                      (ChangeServiceConfig), quoted, whatever InstallServices wrote (Wine writes
//                      the key file's path unquoted), and its failure actions (restart after 5 s,
//                      three times, also on an error exit code), like `reachmon install`.
//   ProtectFolder      "FOLDER|SDDL": creates FOLDER and gives it the owner and protected DACL of
//                      SDDL; the files directly in it (a config or log left from before) get the
//                      same owner and the inherited DACL only, so nobody keeps write access that
//                      the folder does not grant. Logs the SDDL set and the one read back.
//   CreateConfig       "EXAMPLE|CONFIG": copies EXAMPLE to CONFIG unless CONFIG exists; an
//                      operator's config is never replaced.
//   ReportServiceStart "NAME|LOG FILE": after StartServices (which does not wait), waits up to
//                      30 s for the service to run or stop and says which in the MSI log; a
//                      service that did not start does not fail the installation.
//
// Deferred actions receive their data in CustomActionData (fields separated by '|', which
// neither paths nor SDDL contain) and write what they did to the MSI log (msiexec /l*v).
#include <aclapi.h>
#include <msi.h>
#include <msiquery.h>
#include <sddl.h>
#include <windows.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace {

// Writes "reachmon: TEXT" to the MSI log. TEXT goes in as a record field, so brackets in paths
// are never read as MSI formatting.
void log(MSIHANDLE install, const std::wstring& text) {
  MSIHANDLE record = MsiCreateRecord(1);
  MsiRecordSetStringW(record, 0, L"reachmon: [1]");
  MsiRecordSetStringW(record, 1, text.c_str());
  MsiProcessMessage(install, INSTALLMESSAGE_INFO, record);
  MsiCloseHandle(record);
}

std::wstring errorText(DWORD code) {
  wchar_t* buffer = nullptr;
  const DWORD n = FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
      nullptr, code, 0, reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
  std::wstring text = n ? std::wstring(buffer, n) : L"";
  if (buffer) LocalFree(buffer);
  while (!text.empty() && (text.back() == L'\n' || text.back() == L'\r' || text.back() == L' '))
    text.pop_back();
  return L"error " + std::to_wstring(code) + (text.empty() ? L"" : L" (" + text + L")");
}

std::vector<std::wstring> customActionData(MSIHANDLE install) {
  DWORD size = 0;
  wchar_t empty[1] = L"";
  std::wstring data;
  if (MsiGetPropertyW(install, L"CustomActionData", empty, &size) == ERROR_MORE_DATA) {
    data.resize(++size);
    if (MsiGetPropertyW(install, L"CustomActionData", data.data(), &size) != ERROR_SUCCESS)
      size = 0;
    data.resize(size);
  }
  std::vector<std::wstring> fields;
  std::size_t start = 0;
  for (std::size_t bar; (bar = data.find(L'|', start)) != std::wstring::npos; start = bar + 1)
    fields.push_back(data.substr(start, bar - start));
  fields.push_back(data.substr(start));
  return fields;
}

class ScHandle {
 public:
  explicit ScHandle(SC_HANDLE h) : h_(h) {}
  ScHandle(const ScHandle&) = delete;
  ScHandle& operator=(const ScHandle&) = delete;
  ~ScHandle() {
    if (h_) CloseServiceHandle(h_);
  }
  SC_HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  SC_HANDLE h_;
};

class LocalSd {
 public:
  LocalSd() = default;
  LocalSd(const LocalSd&) = delete;
  LocalSd& operator=(const LocalSd&) = delete;
  ~LocalSd() {
    if (sd_) LocalFree(sd_);
  }
  PSECURITY_DESCRIPTOR* out() { return &sd_; }
  PSECURITY_DESCRIPTOR get() const { return sd_; }

 private:
  PSECURITY_DESCRIPTOR sd_ = nullptr;
};

// SYSTEM may set another owner (Administrators) only with these privileges enabled; a failure
// shows in SetNamedSecurityInfo's result.
void enablePrivilege(const wchar_t* name) {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token)) return;
  TOKEN_PRIVILEGES privileges{};
  privileges.PrivilegeCount = 1;
  privileges.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
  if (LookupPrivilegeValueW(nullptr, name, &privileges.Privileges[0].Luid))
    AdjustTokenPrivileges(token, FALSE, &privileges, 0, nullptr, nullptr);
  CloseHandle(token);
}

std::wstring readBackSddl(const std::wstring& path) {
  PSECURITY_DESCRIPTOR sd = nullptr;
  if (GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT,
                            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, nullptr,
                            nullptr, nullptr, nullptr, &sd) != ERROR_SUCCESS)
    return L"(unreadable)";
  wchar_t* text = nullptr;
  std::wstring result = L"(unconvertible)";
  if (ConvertSecurityDescriptorToStringSecurityDescriptorW(
          sd, SDDL_REVISION_1, OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION, &text,
          nullptr)) {
    result = text;
    LocalFree(text);
  }
  LocalFree(sd);
  return result;
}

// The file keeps its content and gets OWNER and the DACL it inherits from its folder, nothing of
// its own.
DWORD inheritOnly(const std::wstring& path, PSID owner) {
  ACL empty{};
  if (!InitializeAcl(&empty, sizeof empty, ACL_REVISION)) return GetLastError();
  return SetNamedSecurityInfoW(const_cast<wchar_t*>(path.c_str()), SE_FILE_OBJECT,
                               OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
                                   UNPROTECTED_DACL_SECURITY_INFORMATION,
                               owner, nullptr, &empty, nullptr);
}

std::wstring withoutTrailingSlash(std::wstring path) {
  while (path.size() > 3 && (path.back() == L'\\' || path.back() == L'/')) path.pop_back();
  return path;
}

}  // namespace

extern "C" __declspec(dllexport) UINT __stdcall ConfigureService(MSIHANDLE install) {
  const auto data = customActionData(install);
  if (data.size() != 2) {
    log(install, L"ConfigureService: CustomActionData must be NAME|COMMAND LINE");
    return ERROR_INSTALL_FAILURE;
  }
  const std::wstring& name = data[0];
  const std::wstring& command = data[1];
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  ScHandle service(scm ? OpenServiceW(scm.get(), name.c_str(),
                                      SERVICE_CHANGE_CONFIG | SERVICE_QUERY_CONFIG | SERVICE_START)
                       : nullptr);
  if (!service) {
    log(install, L"cannot open the service " + name + L": " + errorText(GetLastError()));
    return ERROR_INSTALL_FAILURE;
  }
  if (!ChangeServiceConfigW(service.get(), SERVICE_NO_CHANGE, SERVICE_NO_CHANGE, SERVICE_NO_CHANGE,
                            command.c_str(), nullptr, nullptr, nullptr, nullptr, nullptr,
                            nullptr)) {
    log(install,
        L"cannot set the command line of the service " + name + L": " + errorText(GetLastError()));
    return ERROR_INSTALL_FAILURE;
  }
  log(install, L"service " + name + L" command line: " + command);
  // Restart 5 s after each of the first three failures (forgotten after a day), also when the
  // service stops with an error exit code. Not fatal: Wine, for one, does not store them.
  SC_ACTION actions[3] = {
      {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000}};
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = 24 * 3600;
  failure.cActions = 3;
  failure.lpsaActions = actions;
  SERVICE_FAILURE_ACTIONS_FLAG flag{TRUE};
  if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure)) {
    log(install, L"service " + name + L": failure actions not set: " + errorText(GetLastError()));
  } else if (!ChangeServiceConfig2W(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag)) {
    log(install, L"service " + name + L": failure actions set, but not for error exits: " +
                     errorText(GetLastError()));
  }
  return ERROR_SUCCESS;
}

extern "C" __declspec(dllexport) UINT __stdcall ProtectFolder(MSIHANDLE install) {
  const auto data = customActionData(install);
  if (data.size() != 2) {
    log(install, L"ProtectFolder: CustomActionData must be FOLDER|SDDL");
    return ERROR_INSTALL_FAILURE;
  }
  const std::wstring folder = withoutTrailingSlash(data[0]);
  const std::wstring& sddl = data[1];
  LocalSd sd;
  PSID owner = nullptr;
  PACL dacl = nullptr;
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, sd.out(),
                                                            nullptr) ||
      !GetSecurityDescriptorOwner(sd.get(), &owner, &defaulted) ||
      !GetSecurityDescriptorDacl(sd.get(), &present, &dacl, &defaulted) || !owner || !dacl) {
    log(install, L"ProtectFolder: invalid SDDL (owner and DACL needed): " + sddl);
    return ERROR_INSTALL_FAILURE;
  }
  if (!CreateDirectoryW(folder.c_str(), nullptr) && GetLastError() != ERROR_ALREADY_EXISTS) {
    log(install, L"cannot create " + folder + L": " + errorText(GetLastError()));
    return ERROR_INSTALL_FAILURE;
  }
  enablePrivilege(L"SeRestorePrivilege");
  enablePrivilege(L"SeTakeOwnershipPrivilege");
  const DWORD rc = SetNamedSecurityInfoW(
      const_cast<wchar_t*>(folder.c_str()), SE_FILE_OBJECT,
      OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
      owner, nullptr, dacl, nullptr);
  if (rc != ERROR_SUCCESS) {
    log(install, L"cannot protect " + folder + L": " + errorText(rc));
    return ERROR_INSTALL_FAILURE;
  }
  WIN32_FIND_DATAW entry;
  HANDLE find = FindFirstFileW((folder + L"\\*").c_str(), &entry);
  if (find != INVALID_HANDLE_VALUE) {
    do {
      if (entry.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) continue;
      const std::wstring file = folder + L"\\" + entry.cFileName;
      if (const DWORD err = inheritOnly(file, owner); err != ERROR_SUCCESS)
        log(install, L"cannot reset the permissions of " + file + L": " + errorText(err));
    } while (FindNextFileW(find, &entry));
    FindClose(find);
  }
  // Wine keeps no ACLs (it derives one from the Unix mode), so the read-back differs there.
  log(install,
      L"protected " + folder + L": " + sddl + L" (read back: " + readBackSddl(folder) + L")");
  return ERROR_SUCCESS;
}

extern "C" __declspec(dllexport) UINT __stdcall CreateConfig(MSIHANDLE install) {
  const auto data = customActionData(install);
  if (data.size() != 2) {
    log(install, L"CreateConfig: CustomActionData must be EXAMPLE|CONFIG");
    return ERROR_INSTALL_FAILURE;
  }
  const std::wstring& example = data[0];
  const std::wstring& config = data[1];
  // bFailIfExists: never replaces a config, not even one that appeared meanwhile.
  if (CopyFileW(example.c_str(), config.c_str(), TRUE)) {
    log(install, L"created " + config + L" from " + example);
  } else if (const DWORD err = GetLastError(); err == ERROR_FILE_EXISTS) {
    log(install, L"kept the existing " + config);
  } else {
    // The service then reports the missing config; the installation goes on.
    log(install, L"cannot create " + config + L" from " + example + L": " + errorText(err));
  }
  return ERROR_SUCCESS;
}

extern "C" __declspec(dllexport) UINT __stdcall ReportServiceStart(MSIHANDLE install) {
  const auto data = customActionData(install);
  const std::wstring name = data[0];
  const std::wstring logFile = data.size() > 1 ? data[1] : L"";
  ScHandle scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  ScHandle service(scm ? OpenServiceW(scm.get(), name.c_str(), SERVICE_QUERY_STATUS) : nullptr);
  if (!service) {
    log(install, L"cannot query the service " + name + L": " + errorText(GetLastError()));
    return ERROR_SUCCESS;
  }
  log(install, L"start of the service " + name + L" requested; waiting up to 30 s for it");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  SERVICE_STATUS_PROCESS status{};
  for (;;) {
    DWORD needed = 0;
    if (!QueryServiceStatusEx(service.get(), SC_STATUS_PROCESS_INFO,
                              reinterpret_cast<BYTE*>(&status), sizeof status, &needed)) {
      log(install, L"cannot query the service " + name + L": " + errorText(GetLastError()));
      return ERROR_SUCCESS;
    }
    if (status.dwCurrentState == SERVICE_RUNNING || status.dwCurrentState == SERVICE_STOPPED ||
        std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const std::wstring where = L"the reason is in the Event Log (Application, source " + name + L")" +
                             (logFile.empty() ? L"" : L" and in " + logFile);
  if (status.dwCurrentState == SERVICE_RUNNING) {
    log(install, L"the service " + name + L" is running");
  } else if (status.dwCurrentState == SERVICE_STOPPED) {
    const std::wstring code = status.dwWin32ExitCode == ERROR_SERVICE_SPECIFIC_ERROR
                                  ? std::to_wstring(status.dwServiceSpecificExitCode)
                                  : errorText(status.dwWin32ExitCode);
    log(install, L"the service " + name + L" did not start (it stopped, exit code " + code +
                     L"); the installation goes on; " + where +
                     L". Fix the cause, then start it: net start " + name);
  } else {
    log(install, L"the service " + name + L" is still starting after 30 s (state " +
                     std::to_wstring(status.dwCurrentState) + L"); if it stops, " + where);
  }
  return ERROR_SUCCESS;
}
