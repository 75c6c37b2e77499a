// Duration strings of the config file: an unsigned integer and a unit, e.g. "250ms", "1s", "5m".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace reachmon::config {

// Units: us, ms, s, m, h. Returns nullopt for anything else (no sign, no fraction, no spaces).
std::optional<std::chrono::nanoseconds> parseDuration(std::string_view text);
// The shortest exact spelling of `d` in the largest unit that divides it ("1500ms", "2m").
std::string formatDuration(std::chrono::nanoseconds d);

}  // namespace reachmon::config
