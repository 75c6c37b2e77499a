// Pieces of the Prometheus text exposition format (version 0.0.4), appended to a string: what
// MetricsCollector::renderText() writes /metrics with, without building MetricFamily objects.
// The output matches prometheus-cpp's TextSerializer (same number formatting, same escapes)
// wherever that serializer is exact; see appendDouble().
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace reachmon::core::text_exposition {

// A label value between its double quotes: backslash, double quote and newline escaped.
void appendLabelValue(std::string& out, std::string_view value);

// A HELP text: backslash and newline escaped (double quotes stay as they are).
void appendHelp(std::string& out, std::string_view help);

// A sample value: "NaN", "+Inf", "-Inf", or the shortest of "%.16g" (what TextSerializer
// writes) and "%.17g" that reads back as the same double, so no value loses precision.
void appendDouble(std::string& out, double value);

// A counter or bucket count, as an integer.
void appendUint(std::string& out, std::uint64_t value);

}  // namespace reachmon::core::text_exposition
