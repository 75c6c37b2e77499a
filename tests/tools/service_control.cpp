// Test helper for Wine: what the Windows tests need from the system that Wine's own tools lack.
//   service_control NAME paramchange|stop   send a control code ("sc control" is missing in Wine)
//   service_control NAME status             print STATE CHECKPOINT WAIT_HINT EXIT SPECIFIC_EXIT
//   service_control NAME failure-flag       print SERVICE_CONFIG_FAILURE_ACTIONS_FLAG (0 or 1)
//   service_control acl PATH                print PATH's owner and DACL as SDDL
//                                           (GetNamedSecurityInfoW)
//   service_control set-acl PATH SDDL       set the owner (if the SDDL has one) and the DACL
//                                           (SetNamedSecurityInfoW)
// Exit code 0 on success; 1 with the Windows error on stderr otherwise.
#include <windows.h>
// clang-format off
#include <aclapi.h>
#include <sddl.h>
// clang-format on

#include <cstdio>
#include <cwchar>
#include <string>

namespace {

int failed(const char* what) {
  std::fprintf(stderr, "%s failed: %lu\n", what, GetLastError());
  return 1;
}

// Owns a service manager or service handle.
class Sc {
 public:
  explicit Sc(SC_HANDLE h) : h_(h) {}
  Sc(const Sc&) = delete;
  Sc& operator=(const Sc&) = delete;
  ~Sc() {
    if (h_) CloseServiceHandle(h_);
  }
  SC_HANDLE get() const { return h_; }

 private:
  SC_HANDLE h_;
};

// Owns LocalAlloc'ed memory.
template <typename T>
class Local {
 public:
  Local() = default;
  Local(const Local&) = delete;
  Local& operator=(const Local&) = delete;
  ~Local() {
    if (p_) LocalFree(reinterpret_cast<HLOCAL>(p_));
  }
  T* out() { return &p_; }
  T get() const { return p_; }

 private:
  T p_ = nullptr;
};

int control(const wchar_t* name, DWORD code) {
  Sc scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.get()) return failed("OpenSCManager");
  Sc svc(OpenServiceW(scm.get(), name, SERVICE_PAUSE_CONTINUE | SERVICE_STOP));
  if (!svc.get()) return failed("OpenService");
  SERVICE_STATUS status{};
  return ControlService(svc.get(), code, &status) ? 0 : failed("ControlService");
}

int status(const wchar_t* name) {
  Sc scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.get()) return failed("OpenSCManager");
  Sc svc(OpenServiceW(scm.get(), name, SERVICE_QUERY_STATUS));
  if (!svc.get()) return failed("OpenService");
  SERVICE_STATUS s{};
  if (!QueryServiceStatus(svc.get(), &s)) return failed("QueryServiceStatus");
  std::printf("%lu %lu %lu %lu %lu\n", s.dwCurrentState, s.dwCheckPoint, s.dwWaitHint,
              s.dwWin32ExitCode, s.dwServiceSpecificExitCode);
  return 0;
}

int failureFlag(const wchar_t* name) {
  Sc scm(OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm.get()) return failed("OpenSCManager");
  Sc svc(OpenServiceW(scm.get(), name, SERVICE_QUERY_CONFIG));
  if (!svc.get()) return failed("OpenService");
  SERVICE_FAILURE_ACTIONS_FLAG flag{};
  DWORD needed = 0;
  if (!QueryServiceConfig2W(svc.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG,
                            reinterpret_cast<BYTE*>(&flag), sizeof flag, &needed))
    return failed("QueryServiceConfig2W(SERVICE_CONFIG_FAILURE_ACTIONS_FLAG)");
  std::printf("%d\n", flag.fFailureActionsOnNonCrashFailures ? 1 : 0);
  return 0;
}

int acl(const wchar_t* path) {
  Local<PSECURITY_DESCRIPTOR> sd;
  const SECURITY_INFORMATION what = OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
  const DWORD err = GetNamedSecurityInfoW(path, SE_FILE_OBJECT, what, nullptr, nullptr, nullptr,
                                          nullptr, sd.out());
  if (err != ERROR_SUCCESS) {
    SetLastError(err);
    return failed("GetNamedSecurityInfoW");
  }
  Local<LPWSTR> text;
  if (!ConvertSecurityDescriptorToStringSecurityDescriptorW(sd.get(), SDDL_REVISION_1, what,
                                                            text.out(), nullptr))
    return failed("ConvertSecurityDescriptorToStringSecurityDescriptorW");
  std::printf("%ls\n", text.get());
  return 0;
}

int setAcl(const wchar_t* path, const wchar_t* sddl) {
  Local<PSECURITY_DESCRIPTOR> sd;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, sd.out(),
                                                            nullptr))
    return failed("ConvertStringSecurityDescriptorToSecurityDescriptorW");
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL dacl = nullptr;
  PSID owner = nullptr;
  GetSecurityDescriptorDacl(sd.get(), &present, &dacl, &defaulted);
  GetSecurityDescriptorOwner(sd.get(), &owner, &defaulted);
  SECURITY_INFORMATION what = DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION;
  if (owner) what |= OWNER_SECURITY_INFORMATION;
  const DWORD err = SetNamedSecurityInfoW(const_cast<LPWSTR>(path), SE_FILE_OBJECT, what, owner,
                                          nullptr, dacl, nullptr);
  if (err != ERROR_SUCCESS) {
    SetLastError(err);
    return failed("SetNamedSecurityInfoW");
  }
  return 0;
}

int usage() {
  std::fprintf(stderr,
               "usage: service_control NAME paramchange|stop|status|failure-flag\n"
               "       service_control acl PATH\n"
               "       service_control set-acl PATH SDDL\n");
  return 2;
}

}  // namespace

int wmain(int argc, wchar_t** argv) {
  if (argc < 3) return usage();
  const std::wstring first = argv[1];
  const std::wstring second = argv[2];
  if (first == L"acl" && argc == 3) return acl(argv[2]);
  if (first == L"set-acl" && argc == 4) return setAcl(argv[2], argv[3]);
  if (argc != 3) return usage();
  if (second == L"paramchange") return control(argv[1], SERVICE_CONTROL_PARAMCHANGE);
  if (second == L"stop") return control(argv[1], SERVICE_CONTROL_STOP);
  if (second == L"status") return status(argv[1]);
  if (second == L"failure-flag") return failureFlag(argv[1]);
  return usage();
}
