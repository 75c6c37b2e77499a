// Duration strings of the config file, in the style of Prometheus: "250ms", "1.5s", "1m30s", "0".
// docs/config.md ("Durations") states the grammar; docs/config.schema.json ($defs/duration) has
// the same language as a regular expression, and tests/config/durations.json holds the samples
// both are checked against.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

namespace reachmon::config {

// The outcome of reading a duration string.
struct DurationResult {
  std::optional<std::chrono::nanoseconds> value;  // set when the text is a valid duration
  // When value is unset, what is wrong, for "invalid duration "...": <error>" (input quoted in it
  // has its control characters escaped). Empty when the spelling is right but the value exceeds
  // kMaxDuration: then too_long is set, and callers report the range they accept.
  std::string error;
  bool too_long = false;
};

// The longest duration, in whole microseconds: INT64_MAX nanoseconds rounded down (about 292
// years). Longer spellings (e.g. "9999999999h") are too_long.
inline constexpr std::chrono::microseconds kMaxDuration{std::numeric_limits<std::int64_t>::max() /
                                                        1000};

// Reads `text`: "0", or one or more parts, each a number (digits, optionally a '.' and more
// digits) and a unit h, m, s, ms or us, the units from largest to smallest, each at most once
// ("1h30m", "2s500ms", "1.5s"). No sign, no white space, no other units. Every part must come to
// a whole number of microseconds ("1.5us" is refused, never rounded). Never throws.
DurationResult tryParseDuration(std::string_view text);
// tryParseDuration(text).value.
std::optional<std::chrono::nanoseconds> parseDuration(std::string_view text);
// The shortest exact spelling of `d` in the largest unit that divides it ("1500ms", "2m"); it
// parses back to `d` for every duration tryParseDuration returns.
std::string formatDuration(std::chrono::nanoseconds d);

}  // namespace reachmon::config
