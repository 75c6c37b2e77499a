#include "security_win.h"

#include <memory>
#include <stdexcept>
#include <utility>

namespace reachmon::service::win {
namespace {

// TrustedInstaller (NT SERVICE\TrustedInstaller) has no WELL_KNOWN_SID_TYPE in MinGW's headers.
constexpr const wchar_t* kTrustedInstallerSid =
    L"S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464";

// The rights that change a file's content, or let the holder grant itself that.
constexpr DWORD kWriteRights =
    FILE_WRITE_DATA | FILE_APPEND_DATA | WRITE_DAC | WRITE_OWNER | GENERIC_WRITE | GENERIC_ALL;

std::string rightsText(DWORD mask) {
  static constexpr std::pair<DWORD, const char*> kNames[] = {
      {FILE_WRITE_DATA, "write"},        {FILE_APPEND_DATA, "append"},
      {WRITE_DAC, "change permissions"}, {WRITE_OWNER, "take ownership"},
      {GENERIC_WRITE, "generic write"},  {GENERIC_ALL, "generic all"}};
  std::string out;
  for (const auto& [bit, name] : kNames) {
    if (!(mask & bit)) continue;
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

bool sidIs(PSID sid, const wchar_t* text) {
  LocalPtr<PSID> other;
  return ConvertStringSidToSidW(text, other.out()) && EqualSid(sid, other.get());
}

// The account this process runs as, if its token has the Administrators group enabled.
bool isOwnAdministratorAccount(PSID sid) {
  HANDLE raw = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &raw)) return false;
  const std::unique_ptr<void, decltype(&CloseHandle)> token(raw, &CloseHandle);
  DWORD size = 0;
  GetTokenInformation(token.get(), TokenUser, nullptr, 0, &size);
  std::vector<BYTE> buffer(size);
  if (!size || !GetTokenInformation(token.get(), TokenUser, buffer.data(), size, &size))
    return false;
  if (!EqualSid(sid, reinterpret_cast<TOKEN_USER*>(buffer.data())->User.Sid)) return false;
  BYTE admins[SECURITY_MAX_SID_SIZE];
  DWORD admins_size = sizeof admins;
  BOOL member = FALSE;
  return CreateWellKnownSid(WinBuiltinAdministratorsSid, nullptr, admins, &admins_size) &&
         CheckTokenMembership(nullptr, admins, &member) && member;
}

bool isProtected(PSECURITY_DESCRIPTOR sd) {
  SECURITY_DESCRIPTOR_CONTROL control = 0;
  DWORD revision = 0;
  return GetSecurityDescriptorControl(sd, &control, &revision) && (control & SE_DACL_PROTECTED);
}

// Same allow ACEs in the same order (type, flags, rights, principal).
bool sameAces(PACL a, PACL b) {
  if (!a || !b || a->AceCount != b->AceCount) return false;
  for (DWORD i = 0; i < a->AceCount; ++i) {
    void* x = nullptr;
    void* y = nullptr;
    if (!GetAce(a, i, &x) || !GetAce(b, i, &y)) return false;
    const auto* ax = static_cast<ACCESS_ALLOWED_ACE*>(x);
    const auto* ay = static_cast<ACCESS_ALLOWED_ACE*>(y);
    if (ax->Header.AceType != ACCESS_ALLOWED_ACE_TYPE ||
        ay->Header.AceType != ACCESS_ALLOWED_ACE_TYPE ||
        ax->Header.AceFlags != ay->Header.AceFlags || ax->Mask != ay->Mask ||
        !EqualSid(const_cast<DWORD*>(&ax->SidStart), const_cast<DWORD*>(&ay->SidStart)))
      return false;
  }
  return true;
}

void protectFolder(const std::wstring& path, const wchar_t* sddl, const SetSecurity& set,
                   std::vector<LogNote>& notes) {
  const auto wanted = securityDescriptor(sddl);
  BOOL present = FALSE;
  BOOL defaulted = FALSE;
  PACL wanted_dacl = nullptr;
  PSID administrators = nullptr;
  GetSecurityDescriptorDacl(wanted.get(), &present, &wanted_dacl, &defaulted);
  GetSecurityDescriptorOwner(wanted.get(), &administrators, &defaulted);
  const std::string name = toUtf8(path);

  // Created with the DACL only: an owner this process may not set would fail the creation.
  SECURITY_DESCRIPTOR create_sd{};
  InitializeSecurityDescriptor(&create_sd, SECURITY_DESCRIPTOR_REVISION);
  SetSecurityDescriptorDacl(&create_sd, TRUE, wanted_dacl, FALSE);
  SetSecurityDescriptorControl(&create_sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED);
  SECURITY_ATTRIBUTES attributes{sizeof attributes, &create_sd, FALSE};
  if (CreateDirectoryW(path.c_str(), &attributes)) {
    notes.push_back({spdlog::level::info, "created " + name});
  } else if (const DWORD err = GetLastError(); err != ERROR_ALREADY_EXISTS) {
    notes.push_back({spdlog::level::err, "cannot create " + name + ": " + errorText(err)});
    return;
  }

  LocalPtr<PSECURITY_DESCRIPTOR> current;
  PSID owner = nullptr;
  PACL dacl = nullptr;
  const DWORD read = GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT,
                                           OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                           &owner, nullptr, &dacl, nullptr, current.out());
  if (read != ERROR_SUCCESS || !isProtected(current.get()) || !sameAces(dacl, wanted_dacl)) {
    const DWORD err = set(path, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                          nullptr, wanted_dacl);
    if (err == ERROR_SUCCESS) {
      notes.push_back({spdlog::level::info, "set the protected permissions of " + name});
    } else {
      notes.push_back({spdlog::level::warn,
                       "cannot set the protected permissions of " + name + ": " + errorText(err) +
                           "; run `reachmon install` (or repair the MSI) as an administrator"});
    }
  }
  if (read == ERROR_SUCCESS && owner && !EqualSid(owner, administrators)) {
    const DWORD err = set(path, OWNER_SECURITY_INFORMATION, administrators, nullptr);
    if (err != ERROR_SUCCESS && !isTrustedWriter(owner)) {
      notes.push_back({spdlog::level::warn, name + " is owned by " + accountName(owner) +
                                                ", who may change its permissions: make "
                                                "Administrators its owner (" +
                                                errorText(err) + ")"});
    }
  }
}

}  // namespace

LocalPtr<PSECURITY_DESCRIPTOR> securityDescriptor(const wchar_t* sddl) {
  LocalPtr<PSECURITY_DESCRIPTOR> sd;
  if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl, SDDL_REVISION_1, sd.out(),
                                                            nullptr))
    throw std::runtime_error("invalid security descriptor " + toUtf8(sddl) + ": " +
                             errorText(GetLastError()));
  return sd;
}

DWORD setNamedSecurity(const std::wstring& path, SECURITY_INFORMATION what, PSID owner, PACL dacl) {
  return SetNamedSecurityInfoW(const_cast<LPWSTR>(path.c_str()), SE_FILE_OBJECT, what, owner,
                               nullptr, dacl, nullptr);
}

std::vector<LogNote> secureDataDirectory(const std::wstring& dir, const SetSecurity& set) {
  std::vector<LogNote> notes;
  protectFolder(dir, kDataDirSddl, set, notes);
  protectFolder(dir + L"\\logs", kLogsDirSddl, set, notes);
  return notes;
}

bool isTrustedWriter(PSID sid) {
  return IsWellKnownSid(sid, WinLocalSystemSid) ||
         IsWellKnownSid(sid, WinBuiltinAdministratorsSid) || sidIs(sid, kTrustedInstallerSid) ||
         isOwnAdministratorAccount(sid);
}

std::vector<std::string> untrustedWriters(PSECURITY_DESCRIPTOR sd,
                                          const std::function<bool(PSID)>& trusted) {
  std::vector<std::string> out;
  BOOL defaulted = FALSE;
  PSID owner = nullptr;
  GetSecurityDescriptorOwner(sd, &owner, &defaulted);
  const bool owner_trusted = owner && trusted(owner);
  if (owner && !owner_trusted) out.push_back(accountName(owner) + " (owner: change permissions)");
  BOOL present = FALSE;
  PACL dacl = nullptr;
  if (!GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) || !present || !dacl) {
    out.push_back("Everyone (no DACL: full control)");
    return out;
  }
  for (DWORD i = 0; i < dacl->AceCount; ++i) {
    void* raw = nullptr;
    if (!GetAce(dacl, i, &raw)) continue;
    const auto* ace = static_cast<ACCESS_ALLOWED_ACE*>(raw);
    // ACCESS_ALLOWED_CALLBACK_ACE has the same layout: a condition may grant the rights too.
    if (ace->Header.AceType != ACCESS_ALLOWED_ACE_TYPE &&
        ace->Header.AceType != ACCESS_ALLOWED_CALLBACK_ACE_TYPE)
      continue;
    if (ace->Header.AceFlags & INHERIT_ONLY_ACE) continue;
    const DWORD rights = ace->Mask & kWriteRights;
    if (!rights) continue;
    PSID sid = const_cast<DWORD*>(&ace->SidStart);
    const bool is_owner_rights = IsWellKnownSid(sid, WinCreatorOwnerRightsSid);
    if (is_owner_rights ? owner_trusted : trusted(sid)) continue;
    out.push_back((is_owner_rights && owner ? accountName(owner) : accountName(sid)) + " (" +
                  rightsText(rights) + ")");
  }
  return out;
}

std::string configWriters(const std::wstring& file) {
  LocalPtr<PSECURITY_DESCRIPTOR> sd;
  const DWORD err = GetNamedSecurityInfoW(file.c_str(), SE_FILE_OBJECT,
                                          OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                                          nullptr, nullptr, nullptr, nullptr, sd.out());
  if (err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND) return "";
  if (err != ERROR_SUCCESS)
    return "cannot read the permissions of " + toUtf8(file) + ": " + errorText(err);
  const auto writers = untrustedWriters(sd.get());
  if (writers.empty()) return "";
  std::string out = toUtf8(file) + " can be changed by ";
  for (std::size_t i = 0; i < writers.size(); ++i) out += (i ? ", " : "") + writers[i];
  return out;
}

std::string accountName(PSID sid) {
  wchar_t name[256];
  wchar_t domain[256];
  DWORD name_size = 256;
  DWORD domain_size = 256;
  SID_NAME_USE use{};
  if (LookupAccountSidW(nullptr, sid, name, &name_size, domain, &domain_size, &use))
    return domain[0] ? toUtf8(domain) + "\\" + toUtf8(name) : toUtf8(name);
  LocalPtr<LPWSTR> text;
  if (ConvertSidToStringSidW(sid, text.out())) return toUtf8(text.get());
  return "an unknown principal";
}

}  // namespace reachmon::service::win
