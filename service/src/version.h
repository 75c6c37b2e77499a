#pragma once

namespace reachmon::service {
inline constexpr const char* kVersion = REACHMON_VERSION;
#ifdef _WIN32
inline constexpr const char* kPlatform = "windows";
#else
inline constexpr const char* kPlatform = "linux";
#endif
}  // namespace reachmon::service
