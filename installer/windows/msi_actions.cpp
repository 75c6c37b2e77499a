// Custom actions of the reachmon MSI (installer/windows/reachmon.wxs). The MSI carries this DLL
// in its Binary table and never installs it. The actions do what the standard actions do not do
// the same way on Windows and under Wine, and what Debian's wixl cannot author
// (Permission/PermissionEx, ServiceConfig, firewall rules):
//
//   PrepareInstall     (immediate, before anything changes) reads the public properties LISTEN,
//                      CONFIG and FIREWALL, or for each one not given the value the installed
//                      reachmon was installed with (HKLM\Software\reachmon, InstallProperties),
//                      checks them (msi_settings.h) and fails the installation with a message
//                      naming every invalid one; else it sets the data of the deferred actions
//                      below and ReachmonProperties, which the registry then remembers.
//   ConfigureService   "NAME|COMMAND LINE": sets the service's command line through the SCM
//                      (ChangeServiceConfig), quoted, whatever InstallServices wrote (Wine writes
//                      the key file's path unquoted), and its failure actions (restart after 5 s,
//                      three times, also on an error exit code), like `reachmon install`.
//   ProtectFolder      "FOLDER|SDDL": creates FOLDER and gives it the owner and protected DACL of
//                      SDDL; the files directly in it (a config or log left from before) get the
//                      same owner and the inherited DACL only, so nobody keeps write access that
//                      the folder does not grant. Logs the SDDL set and the one read back.
//   CreateConfig       "EXAMPLE|CONFIG[|SDDL]": copies EXAMPLE to CONFIG unless CONFIG exists (an
//                      operator's config is never replaced), creating CONFIG's folders; with SDDL
//                      (a CONFIG outside %ProgramData%\reachmon), the new file gets its owner and
//                      protected DACL, since the folder's may let others write it.
//   ReportServiceStart "NAME|LOG FILE": after StartServices (which does not wait), waits up to
//                      30 s for the service to run or stop and says which in the MSI log; a
//                      service that did not start does not fail the installation.
//   AddFirewallRule    "PROGRAM|PORT|ADDRESS": replaces the inbound Windows Firewall rule
//                      "reachmon" (INetFwPolicy2): TCP to PORT on ADDRESS ("*": any) for PROGRAM,
//                      every profile.
//   RemoveFirewallRule removes the rules named "reachmon" (uninstall, and rollback of the add).
//
// Deferred actions receive their data in CustomActionData (fields separated by '|', which
// neither paths nor SDDL contain) and write what they did to the MSI log (msiexec /l*v).
#include <aclapi.h>
#include <initguid.h>  // before netfw.h: defines the firewall's CLSIDs and IIDs here
#include <msi.h>
#include <msiquery.h>
#include <netfw.h>
#include <sddl.h>
#include <windows.h>

#include <array>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "msi_settings.h"

namespace {

// TEXT for a record field of a message: the installer formats a message once its fields are in
// ("[IPv6]" would become the empty value of a property IPv6), so brackets go in as the escapes
// [\[] and [\]].
std::wstring literal(const std::wstring& text) {
  std::wstring out;
  for (const wchar_t c : text) {
    if (c == L'[' || c == L']')
      out += std::wstring(L"[\\") + c + L"]";
    else
      out += c;
  }
  return out;
}

// Writes "reachmon: TEXT" to the MSI log.
void log(MSIHANDLE install, const std::wstring& text) {
  MSIHANDLE record = MsiCreateRecord(1);
  MsiRecordSetStringW(record, 0, L"reachmon: [1]");
  MsiRecordSetStringW(record, 1, literal(text).c_str());
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

std::wstring property(MSIHANDLE install, const wchar_t* name) {
  DWORD size = 0;
  wchar_t empty[1] = L"";
  std::wstring value;
  if (MsiGetPropertyW(install, name, empty, &size) == ERROR_MORE_DATA) {
    value.resize(++size);
    if (MsiGetPropertyW(install, name, value.data(), &size) != ERROR_SUCCESS) size = 0;
    value.resize(size);
  }
  return value;
}

std::vector<std::wstring> splitFields(const std::wstring& data) {
  std::vector<std::wstring> fields;
  std::size_t start = 0;
  for (std::size_t bar; (bar = data.find(L'|', start)) != std::wstring::npos; start = bar + 1)
    fields.push_back(data.substr(start, bar - start));
  fields.push_back(data.substr(start));
  return fields;
}

std::vector<std::wstring> customActionData(MSIHANDLE install) {
  return splitFields(property(install, L"CustomActionData"));
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

// The owner and protected DACL of an SDDL string, given to files and folders.
class Protection {
 public:
  bool parse(const std::wstring& sddl) {
    BOOL present = FALSE;
    BOOL defaulted = FALSE;
    return ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1,
                                                                sd_.out(), nullptr) &&
           GetSecurityDescriptorOwner(sd_.get(), &owner_, &defaulted) &&
           GetSecurityDescriptorDacl(sd_.get(), &present, &dacl_, &defaulted) && owner_ && dacl_;
  }
  PSID owner() const { return owner_; }
  DWORD applyTo(const std::wstring& path) const {
    enablePrivilege(L"SeRestorePrivilege");
    enablePrivilege(L"SeTakeOwnershipPrivilege");
    return SetNamedSecurityInfoW(const_cast<wchar_t*>(path.c_str()), SE_FILE_OBJECT,
                                 OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION |
                                     PROTECTED_DACL_SECURITY_INFORMATION,
                                 owner_, nullptr, dacl_, nullptr);
  }

 private:
  LocalSd sd_;
  PSID owner_ = nullptr;
  PACL dacl_ = nullptr;
};

std::wstring withoutTrailingSlash(std::wstring path) {
  while (path.size() > 3 && (path.back() == L'\\' || path.back() == L'/')) path.pop_back();
  return path;
}

std::string utf8(const std::wstring& text) {
  if (text.empty()) return "";
  const int n = WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr,
                                    0, nullptr, nullptr);
  std::string out(static_cast<std::size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n,
                      nullptr, nullptr);
  return out;
}

std::wstring wide(const std::string& text) {
  if (text.empty()) return L"";
  const int n =
      MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), nullptr, 0);
  std::wstring out(static_cast<std::size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, text.data(), static_cast<int>(text.size()), out.data(), n);
  return out;
}

// TEXT with the installer's [Property] and [#File] references resolved.
std::wstring formatted(MSIHANDLE install, const std::wstring& text) {
  MSIHANDLE record = MsiCreateRecord(0);
  MsiRecordSetStringW(record, 0, text.c_str());
  DWORD size = 0;
  wchar_t empty[1] = L"";
  std::wstring out;
  if (MsiFormatRecordW(install, record, empty, &size) == ERROR_MORE_DATA) {
    out.resize(++size);
    if (MsiFormatRecordW(install, record, out.data(), &size) != ERROR_SUCCESS) size = 0;
    out.resize(size);
  }
  MsiCloseHandle(record);
  return out;
}

// An error the installation stops on: in the MSI log, and in a message box when msiexec shows
// one (not with /qn).
void reportError(MSIHANDLE install, const std::wstring& text) {
  log(install, text);
  MSIHANDLE record = MsiCreateRecord(1);
  MsiRecordSetStringW(record, 0, L"[1]");
  MsiRecordSetStringW(record, 1, literal(text).c_str());
  MsiProcessMessage(install, static_cast<INSTALLMESSAGE>(INSTALLMESSAGE_ERROR | MB_OK), record);
  MsiCloseHandle(record);
}

// Where the installed reachmon remembers the properties it was installed with (reachmon.wxs,
// component Settings): LISTEN|CONFIG|FIREWALL.
constexpr wchar_t kSettingsKey[] = L"Software\\reachmon";
constexpr wchar_t kSettingsValue[] = L"InstallProperties";

std::vector<std::wstring> rememberedProperties() {
  HKEY key = nullptr;
  std::wstring value;
  if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, kSettingsKey, 0, KEY_QUERY_VALUE | KEY_WOW64_64KEY, &key) ==
      ERROR_SUCCESS) {
    DWORD type = 0;
    DWORD bytes = 0;
    if (RegQueryValueExW(key, kSettingsValue, nullptr, &type, nullptr, &bytes) == ERROR_SUCCESS &&
        type == REG_SZ && bytes > 0) {
      value.resize(bytes / sizeof(wchar_t) + 1);
      if (RegQueryValueExW(key, kSettingsValue, nullptr, nullptr,
                           reinterpret_cast<BYTE*>(value.data()), &bytes) != ERROR_SUCCESS)
        bytes = 0;
      value.resize(bytes / sizeof(wchar_t));
      while (!value.empty() && value.back() == L'\0') value.pop_back();
    }
    RegCloseKey(key);
  }
  auto fields = splitFields(value);
  fields.resize(3);
  return fields;
}

// The protected DACL a config the MSI creates outside %ProgramData%\reachmon gets (that of
// %ProgramData%\reachmon, ProtectDataFolder in reachmon.wxs): the service refuses a config that
// others than SYSTEM and Administrators can write.
constexpr wchar_t kConfigFileSddl[] = L"O:BAG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;0x1200a9;;;BU)";

bool sameFolder(const std::wstring& file, const std::wstring& folder) {
  const auto slash = file.find_last_of(L"\\/");
  if (slash == std::wstring::npos) return false;
  return CompareStringOrdinal(file.c_str(), static_cast<int>(slash),
                              withoutTrailingSlash(folder).c_str(), -1, TRUE) == CSTR_EQUAL;
}

// Creates every missing folder above FILE, below its drive (C:\) or share (\\server\share\).
DWORD createFoldersFor(const std::wstring& file) {
  constexpr wchar_t kSeparators[] = L"\\/";
  std::size_t next = 3;                        // past C:\ (a path PrepareInstall accepted)
  if (file.find_first_of(kSeparators) == 0) {  // \\server\share\...
    const std::size_t server_end = file.find_first_of(kSeparators, 2);
    const std::size_t share_end = server_end == std::wstring::npos
                                      ? std::wstring::npos
                                      : file.find_first_of(kSeparators, server_end + 1);
    next = share_end == std::wstring::npos ? std::wstring::npos : share_end + 1;
  }
  for (std::size_t i = file.find_first_of(kSeparators, next); i != std::wstring::npos;
       i = file.find_first_of(kSeparators, i + 1)) {
    const std::wstring folder = file.substr(0, i);
    if (!CreateDirectoryW(folder.c_str(), nullptr) && GetLastError() != ERROR_ALREADY_EXISTS)
      return GetLastError();
  }
  return ERROR_SUCCESS;
}

std::wstring hresultText(HRESULT hr) {
  wchar_t hex[16];
  swprintf(hex, 16, L"0x%08lx", static_cast<unsigned long>(hr));
  std::wstring text = errorText(static_cast<DWORD>(hr));
  const auto paren = text.find(L" (");
  return std::wstring(L"HRESULT ") + hex + (paren == std::wstring::npos ? L"" : text.substr(paren));
}

template <typename T>
class ComPtr {
 public:
  ComPtr() = default;
  ComPtr(const ComPtr&) = delete;
  ComPtr& operator=(const ComPtr&) = delete;
  ~ComPtr() {
    if (p_) p_->Release();
  }
  T** out() { return &p_; }
  void** outVoid() { return reinterpret_cast<void**>(&p_); }
  T* operator->() const { return p_; }
  T* get() const { return p_; }

 private:
  T* p_ = nullptr;
};

class Bstr {
 public:
  explicit Bstr(const std::wstring& text) : b_(SysAllocString(text.c_str())) {}
  Bstr(const Bstr&) = delete;
  Bstr& operator=(const Bstr&) = delete;
  ~Bstr() { SysFreeString(b_); }
  BSTR get() const { return b_; }

 private:
  BSTR b_;
};

class ComScope {
 public:
  ComScope() : hr_(CoInitializeEx(nullptr, COINIT_APARTMENTTHREADED)) {}
  ComScope(const ComScope&) = delete;
  ComScope& operator=(const ComScope&) = delete;
  ~ComScope() {
    if (SUCCEEDED(hr_)) CoUninitialize();
  }

 private:
  HRESULT hr_;  // RPC_E_CHANGED_MODE: COM is usable all the same
};

constexpr wchar_t kRuleName[] = L"reachmon";

HRESULT firewallRules(ComPtr<INetFwRules>& rules) {
  ComPtr<INetFwPolicy2> policy;
  HRESULT hr = CoCreateInstance(CLSID_NetFwPolicy2, nullptr, CLSCTX_INPROC_SERVER,
                                IID_INetFwPolicy2, policy.outVoid());
  if (SUCCEEDED(hr)) hr = policy->get_Rules(rules.out());
  return hr;
}

// Removes every rule named kRuleName: Remove takes one at a time, and does nothing (S_OK) when
// there is none. Bounded, in case a policy keeps answering Item.
HRESULT removeRules(INetFwRules* rules) {
  const Bstr name(kRuleName);
  for (int i = 0; i < 64; ++i) {
    if (const HRESULT hr = rules->Remove(name.get()); FAILED(hr)) return hr;
    ComPtr<INetFwRule> left;
    if (FAILED(rules->Item(name.get(), left.out()))) break;
  }
  return S_OK;
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
  Protection protection;
  if (!protection.parse(sddl)) {
    log(install, L"ProtectFolder: invalid SDDL (owner and DACL needed): " + sddl);
    return ERROR_INSTALL_FAILURE;
  }
  if (!CreateDirectoryW(folder.c_str(), nullptr) && GetLastError() != ERROR_ALREADY_EXISTS) {
    log(install, L"cannot create " + folder + L": " + errorText(GetLastError()));
    return ERROR_INSTALL_FAILURE;
  }
  if (const DWORD rc = protection.applyTo(folder); rc != ERROR_SUCCESS) {
    log(install, L"cannot protect " + folder + L": " + errorText(rc));
    return ERROR_INSTALL_FAILURE;
  }
  WIN32_FIND_DATAW entry;
  HANDLE find = FindFirstFileW((folder + L"\\*").c_str(), &entry);
  if (find != INVALID_HANDLE_VALUE) {
    do {
      if (entry.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY) continue;
      const std::wstring file = folder + L"\\" + entry.cFileName;
      if (const DWORD err = inheritOnly(file, protection.owner()); err != ERROR_SUCCESS)
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
  if (data.size() != 2 && data.size() != 3) {
    log(install, L"CreateConfig: CustomActionData must be EXAMPLE|CONFIG[|SDDL]");
    return ERROR_INSTALL_FAILURE;
  }
  const std::wstring& example = data[0];
  const std::wstring& config = data[1];
  if (const DWORD err = createFoldersFor(config); err != ERROR_SUCCESS)
    log(install, L"cannot create the folder of " + config + L": " + errorText(err));
  // bFailIfExists: never replaces a config, not even one that appeared meanwhile.
  if (CopyFileW(example.c_str(), config.c_str(), TRUE)) {
    log(install, L"created " + config + L" from " + example);
    Protection protection;
    if (data.size() == 3 && !protection.parse(data[2])) {
      log(install, L"CreateConfig: invalid SDDL (owner and DACL needed): " + data[2]);
    } else if (data.size() == 3) {
      // If this fails, the service refuses the file and says why (docs/windows.md).
      if (const DWORD rc = protection.applyTo(config); rc != ERROR_SUCCESS)
        log(install, L"cannot protect " + config + L": " + errorText(rc));
      else
        log(install, L"protected " + config + L": " + data[2] + L" (read back: " +
                         readBackSddl(config) + L")");
    }
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

extern "C" __declspec(dllexport) UINT __stdcall PrepareInstall(MSIHANDLE install) {
  constexpr std::array<const wchar_t*, 3> kNames = {L"LISTEN", L"CONFIG", L"FIREWALL"};
  const auto remembered = rememberedProperties();
  std::array<std::string, 3> values;
  for (std::size_t i = 0; i < kNames.size(); ++i) {
    std::wstring value = property(install, kNames[i]);
    if (value.empty() && !remembered[i].empty()) {
      value = remembered[i];
      log(install, std::wstring(kNames[i]) + L"=" + value +
                       L": as the installed reachmon was installed (give " + kNames[i] +
                       L"=... to change it)");
    }
    values[i] = utf8(value);
  }
  const reachmon::installer::MsiProperties given{values[0], values[1], values[2]};
  if (const auto errors = reachmon::installer::propertyErrors(given); !errors.empty()) {
    std::wstring text = L"reachmon cannot be installed with these properties:";
    for (const auto& e : errors) text += L"\n" + wide(e);
    reportError(install, text);
    return ERROR_INSTALL_FAILURE;
  }
  const auto settings = reachmon::installer::serviceSettings(given);
  const std::wstring exe = formatted(install, L"[#ReachmonExe]");
  const std::wstring command = L"\"" + exe + L"\" " + wide(settings.arguments);
  const std::wstring data_dir = formatted(install, L"[DATADIR]");
  const std::wstring config =
      given.config.empty() ? data_dir + L"reachmon.json" : wide(given.config);
  std::wstring create_config = formatted(install, L"[#Example]") + L"|" + config;
  if (!sameFolder(config, data_dir)) create_config += std::wstring(L"|") + kConfigFileSddl;
  const std::array<std::pair<const wchar_t*, std::wstring>, 4> set = {{
      {L"ConfigureService", L"reachmon|" + command},
      {L"CreateConfig", create_config},
      {L"AddFirewallRule", settings.firewall_rule
                               ? exe + L"|" + wide(settings.firewall_rule->local_port) + L"|" +
                                     wide(settings.firewall_rule->local_address)
                               : L""},
      // What the registry remembers for the next upgrade or repair (component Settings).
      {L"ReachmonProperties",
       wide(given.listen) + L"|" + wide(given.config) + L"|" + wide(given.firewall)},
  }};
  for (const auto& [name, value] : set) {
    if (const UINT rc = MsiSetPropertyW(install, name, value.c_str()); rc != ERROR_SUCCESS) {
      reportError(install,
                  L"cannot set the property " + std::wstring(name) + L": " + errorText(rc));
      return ERROR_INSTALL_FAILURE;
    }
  }
  log(install, L"the service will run: " + command);
  if (!settings.firewall_note.empty()) log(install, wide(settings.firewall_note));
  return ERROR_SUCCESS;
}

extern "C" __declspec(dllexport) UINT __stdcall AddFirewallRule(MSIHANDLE install) {
  const auto data = customActionData(install);
  if (data.size() != 3) {
    log(install, L"AddFirewallRule: CustomActionData must be PROGRAM|PORT|ADDRESS");
    return ERROR_INSTALL_FAILURE;
  }
  const std::wstring& program = data[0];
  const std::wstring& port = data[1];
  const std::wstring& address = data[2];
  const std::wstring what = L"inbound TCP to port " + port + L" on " +
                            (address == L"*" ? L"any local address" : address) + L" for " +
                            program + L", every profile";
  ComScope com;
  ComPtr<INetFwRules> rules;
  ComPtr<INetFwRule> rule;
  HRESULT hr = firewallRules(rules);
  if (SUCCEEDED(hr)) hr = removeRules(rules.get());  // a repair or reinstall replaces it
  if (SUCCEEDED(hr))
    hr = CoCreateInstance(CLSID_NetFwRule, nullptr, CLSCTX_INPROC_SERVER, IID_INetFwRule,
                          rule.outVoid());
  const Bstr name(kRuleName);
  const Bstr description(L"Prometheus scrapes of reachmon (added by its MSI: FIREWALL=1)");
  const Bstr application(program);
  const Bstr ports(port);
  const Bstr addresses(address);
  const Bstr grouping(L"reachmon");
  // Each setter in turn, stopping at the first failure.
  for (const auto& step : std::array<std::function<HRESULT()>, 11>{
           [&] { return rule->put_Name(name.get()); },
           [&] { return rule->put_Description(description.get()); },
           [&] { return rule->put_ApplicationName(application.get()); },
           [&] { return rule->put_Protocol(NET_FW_IP_PROTOCOL_TCP); },
           [&] { return rule->put_LocalPorts(ports.get()); },
           [&] { return rule->put_LocalAddresses(addresses.get()); },
           [&] { return rule->put_Direction(NET_FW_RULE_DIR_IN); },
           [&] { return rule->put_Action(NET_FW_ACTION_ALLOW); },
           [&] { return rule->put_Profiles(NET_FW_PROFILE2_ALL); },
           [&] { return rule->put_Grouping(grouping.get()); },
           [&] { return rule->put_Enabled(VARIANT_TRUE); }}) {
    if (SUCCEEDED(hr)) hr = step();
  }
  if (SUCCEEDED(hr)) hr = rules->Add(rule.get());
  if (FAILED(hr)) {
    log(install, L"cannot add the firewall rule \"reachmon\" (" + what + L"): " + hresultText(hr) +
                     L"; is the Windows Defender Firewall service (mpssvc) running?");
    return ERROR_INSTALL_FAILURE;
  }
  ComPtr<INetFwRule> added;
  const HRESULT check = rules->Item(name.get(), added.out());
  log(install,
      L"added the firewall rule \"reachmon\": " + what +
          (SUCCEEDED(check) ? L" (read back)" : L" (not read back: " + hresultText(check) + L")"));
  return ERROR_SUCCESS;
}

// Uninstall, and rollback of AddFirewallRule: never fails the operation.
extern "C" __declspec(dllexport) UINT __stdcall RemoveFirewallRule(MSIHANDLE install) {
  ComScope com;
  ComPtr<INetFwRules> rules;
  HRESULT hr = firewallRules(rules);
  if (SUCCEEDED(hr)) hr = removeRules(rules.get());
  if (FAILED(hr))
    log(install, L"cannot remove the firewall rule \"reachmon\": " + hresultText(hr));
  else
    log(install, L"removed the firewall rule \"reachmon\" (if there was one)");
  return ERROR_SUCCESS;
}
