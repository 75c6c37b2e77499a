#include "text_exposition.h"

#include <array>
#include <charconv>
#include <cmath>

namespace reachmon::core::text_exposition {

void appendLabelValue(std::string& out, std::string_view value) {
  for (const char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void appendHelp(std::string& out, std::string_view help) {
  for (const char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
}

void appendDouble(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
    return;
  }
  if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
    return;
  }
  // 17 significant digits always read back exactly; 16 (TextSerializer's) usually do and
  // print 0.1 as "0.1" rather than "0.10000000000000001".
  std::array<char, 32> buf{};
  auto written =
      std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::general, 16);
  double back = 0;
  std::from_chars(buf.data(), written.ptr, back);
  if (back != value)
    written =
        std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::general, 17);
  out.append(buf.data(), written.ptr);
}

void appendUint(std::string& out, std::uint64_t value) {
  std::array<char, 24> buf{};
  const auto written = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  out.append(buf.data(), written.ptr);
}

}  // namespace reachmon::core::text_exposition
