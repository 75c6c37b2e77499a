// Who may write reachmon's files on Windows: the protected ACLs of %ProgramData%\reachmon and of
// its logs\ folder, and the check that refuses a config file that non-administrators can change
// (the service reloads whatever is saved there, and runs with what it says).
#pragma once

#include <spdlog/common.h>

#include <functional>
#include <string>
#include <vector>

#include "windows.h"

namespace reachmon::service::win {

// %ProgramData%\reachmon: owner Administrators, and a protected DACL (nothing inherited from
// ProgramData, where every user may create files) that everything created below inherits:
// SYSTEM and Administrators full control, Users read & execute. The MSI sets the same.
inline constexpr const wchar_t* kDataDirSddl =
    L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";
// logs\: the same, plus modify for LocalService, the service's account, which writes the log.
inline constexpr const wchar_t* kLogsDirSddl =
    L"O:BAD:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)(A;OICI;0x1301bf;;;LS)";

// A security descriptor parsed from SDDL; throws std::runtime_error if Windows rejects the text.
LocalPtr<PSECURITY_DESCRIPTOR> securityDescriptor(const wchar_t* sddl);

// Something to log once logging is set up: the data folder is secured before it is.
struct LogNote {
  spdlog::level::level_enum level;
  std::string text;
};

// Sets the owner and/or DACL of a path: SetNamedSecurityInfoW; tests record the calls instead.
using SetSecurity = std::function<DWORD(const std::wstring& path, SECURITY_INFORMATION what,
                                        PSID owner, PACL dacl)>;
DWORD setNamedSecurity(const std::wstring& path, SECURITY_INFORMATION what, PSID owner, PACL dacl);

// Creates `dir` and `dir`\logs when missing, with their protected DACLs (kDataDirSddl,
// kLogsDirSddl), sets those DACLs on folders that have other ones (created by someone else, or by
// an older reachmon with inherited ACLs), and makes Administrators the owner where another
// principal is, when this process may (an administrator may; LocalService may not, and needs
// not: the MSI and `reachmon install` create the folders). Returns what it did or could not do.
std::vector<LogNote> secureDataDirectory(const std::wstring& dir,
                                         const SetSecurity& set = setNamedSecurity);

// Whether `sid` may write the service's config: SYSTEM, Administrators, TrustedInstaller, and the
// account this process runs as if it is an administrator (its token has the Administrators group
// enabled: it could replace reachmon.exe anyway).
bool isTrustedWriter(PSID sid);

// Who besides trusted principals can change a file with this security descriptor, each as
// "NAME (rights)": an untrusted owner (an owner may always rewrite the DACL); every allow ACE that
// grants write data, append data, WRITE_DAC, WRITE_OWNER, GENERIC_WRITE or GENERIC_ALL to an
// untrusted principal (OWNER RIGHTS counts as the owner; inherit-only ACEs are for children;
// deny ACEs are not subtracted, so a doubt refuses); Everyone for a NULL DACL.
std::vector<std::string> untrustedWriters(
    PSECURITY_DESCRIPTOR sd, const std::function<bool(PSID)>& trusted = isTrustedWriter);

// Empty when only trusted principals can change `file`, or when it does not exist (the loader
// reports that); else "FILE can be changed by NAME (rights), ...", or why its permissions could
// not be read.
std::string configWriters(const std::wstring& file);

// "DOMAIN\name" ("BUILTIN\Users", "Everyone"), or the SID's string when it has no name here.
std::string accountName(PSID sid);

}  // namespace reachmon::service::win
