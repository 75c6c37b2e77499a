// Text from the operating system: error messages everywhere, and (Windows) the UTF-8 <-> UTF-16
// conversions that the wide Windows API needs. Implemented per platform
// (core/src/platform/linux/os_text_linux.cpp, core/src/platform/win/os_text_win.cpp).
#pragma once

#include <string>
#include <string_view>

namespace reachmon::core {

// The message of an OS error code as the probe path carries it: an errno value on Linux, a
// Win32 or Winsock error on Windows ("message (error N)").
std::string osErrorText(int code);

#ifdef _WIN32
std::string toUtf8(std::wstring_view wide);
std::wstring toWide(std::string_view utf8);
#endif

}  // namespace reachmon::core
