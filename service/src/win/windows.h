// Windows SDK headers for the service host, in one place.
#pragma once

// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <shlobj.h>
// clang-format on

#include <string>

#include "reachmon/core/os_text.h"

namespace reachmon::service::win {

inline constexpr const wchar_t* kServiceName = L"reachmon";
inline constexpr const wchar_t* kDisplayName = L"reachmon reachability monitor";
inline constexpr const char* kEventSource = "reachmon";

using core::toUtf8;
using core::toWide;
// "message (error N)" for a Win32 error code.
inline std::string errorText(DWORD code) { return core::osErrorText(static_cast<int>(code)); }
// %ProgramData%\reachmon (created if missing).
std::wstring dataDirectory();

// Owns an SC_HANDLE.
class ScHandle {
 public:
  explicit ScHandle(SC_HANDLE h = nullptr) : h_(h) {}
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

}  // namespace reachmon::service::win
