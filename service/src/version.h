#pragma once

namespace reachmon::service {
inline constexpr const char* kVersion = REACHMON_VERSION;
}
