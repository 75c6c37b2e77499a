// Windows SDK headers for the service host, in one place.
#pragma once

// clang-format off
#include <winsock2.h>
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#include <shlobj.h>
// clang-format on

#include <string>

#include "reachmon/core/os_text.h"

namespace reachmon::service::win {

inline constexpr const wchar_t* kServiceName = L"reachmon";
inline constexpr const wchar_t* kDisplayName = L"reachmon reachability monitor";
inline constexpr const wchar_t* kEventSource = L"reachmon";

using core::toUtf8;
using core::toWide;
// "message (error N)" for a Win32 error code.
inline std::string errorText(DWORD code) { return core::osErrorText(static_cast<int>(code)); }
// %ProgramData%\reachmon. Not created here: secureDataDirectory() (security_win.h) creates it
// with its protected ACL.
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

// Owns memory that Windows allocated with LocalAlloc (security descriptors, SIDs, SDDL strings).
template <typename T>
class LocalPtr {
 public:
  LocalPtr() = default;
  explicit LocalPtr(T p) : p_(p) {}
  LocalPtr(const LocalPtr&) = delete;
  LocalPtr& operator=(const LocalPtr&) = delete;
  LocalPtr(LocalPtr&& other) noexcept : p_(other.p_) { other.p_ = nullptr; }
  LocalPtr& operator=(LocalPtr&& other) noexcept {
    if (this != &other) {
      reset();
      p_ = other.p_;
      other.p_ = nullptr;
    }
    return *this;
  }
  ~LocalPtr() { reset(); }
  T get() const { return p_; }
  // For the API's out parameter; frees what it held first.
  T* out() {
    reset();
    return &p_;
  }
  explicit operator bool() const { return p_ != nullptr; }

 private:
  void reset() {
    if (p_) LocalFree(reinterpret_cast<HLOCAL>(p_));
    p_ = nullptr;
  }
  T p_ = nullptr;
};

}  // namespace reachmon::service::win
