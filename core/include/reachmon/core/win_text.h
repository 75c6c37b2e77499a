// Windows-only helpers shared by the engine and the service host (implemented in
// core/src/platform/win/win_text.cpp; declared without <windows.h>).
#pragma once

#include <string>
#include <string_view>

namespace reachmon::core::win {

std::string toUtf8(std::wstring_view wide);
std::wstring toWide(std::string_view utf8);
// "message (error N)" for a Win32 or Winsock error code.
std::string errorText(unsigned long code);

}  // namespace reachmon::core::win
