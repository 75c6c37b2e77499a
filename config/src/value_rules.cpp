#include "value_rules.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace reachmon::config {
namespace {

bool isAsciiControl(unsigned char c) { return c < 0x20 || c == 0x7f; }
// C1 controls U+0080-U+009F are encoded in UTF-8 as C2 80 to C2 9F.
bool isC1At(std::string_view s, std::size_t i) {
  return i + 1 < s.size() && static_cast<unsigned char>(s[i]) == 0xc2 &&
         static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
         static_cast<unsigned char>(s[i + 1]) <= 0x9f;
}

std::string escaped(unsigned code) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("\\u00") + kHex[(code >> 4) & 0xf] + kHex[code & 0xf];
}

// Calls out(text) for plain runs and out(escape) for each control character.
template <typename Out>
void escapeInto(std::string_view s, bool json_quotes, Out out) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (isAsciiControl(c)) {
      out(escaped(c));
    } else if (isC1At(s, i)) {
      out(escaped(static_cast<unsigned char>(s[++i])));
    } else if (json_quotes && (c == '"' || c == '\\')) {
      out(std::string{'\\', static_cast<char>(c)});
    } else {
      out(std::string(1, static_cast<char>(c)));
    }
  }
}

bool isNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

std::string v4Problem(const std::uint8_t* b) {
  if (b[0] == 0) {
    return b[1] == 0 && b[2] == 0 && b[3] == 0 ? "the unspecified address (0.0.0.0)"
                                               : "a \"this network\" address (0.0.0.0/8)";
  }
  if ((b[0] & 0xf0) == 224) return "a multicast address (224.0.0.0/4)";
  if (b[0] == 255 && b[1] == 255 && b[2] == 255 && b[3] == 255)
    return "the broadcast address (255.255.255.255)";
  return "";
}

}  // namespace

std::string escapeControls(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  escapeInto(s, false, [&](const std::string& part) { out += part; });
  return out;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  escapeInto(s, true, [&](const std::string& part) { out += part; });
  return out + "\"";
}

std::string firstControl(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (isAsciiControl(c)) return escaped(c);
    if (isC1At(s, i)) return escaped(static_cast<unsigned char>(s[i + 1]));
  }
  return "";
}

bool isValidName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return isNameChar(c) || c == '.'; });
}

bool isValidLabelName(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool isValidHostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.back() == '.') s.remove_suffix(1);
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    const std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    if (!std::all_of(label.begin(), label.end(), isNameChar)) return false;
    start = end + 1;
  }
  return true;
}

std::optional<int> parsePort(std::string_view s) {
  // from_chars alone would take "-0" (a random port) and the caller's check of the rest.
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  int port = 0;
  std::from_chars(s.data(), s.data() + s.size(), port);
  if (port > 65535) return std::nullopt;
  return port;
}

std::string memberPath(const std::string& parent, std::string_view key) {
  const bool plain =
      !key.empty() && std::all_of(key.begin(), key.end(), [](char c) { return isNameChar(c); });
  return plain ? parent + "." + std::string(key) : parent + "[" + quote(key) + "]";
}

std::string whyNotUnicast(const core::IpAddress& a) {
  const std::uint8_t* b = a.bytes.data();
  if (a.family == core::Family::kIpv4) return v4Problem(b);
  if (b[0] == 0xff) return "a multicast address (ff00::/8)";
  const auto zero = [](std::uint8_t x) { return x == 0; };
  if (std::all_of(b, b + 16, zero)) return "the unspecified address (::)";
  if (std::all_of(b, b + 10, zero) && b[10] == 0xff && b[11] == 0xff) {
    std::string v4 = v4Problem(b + 12);
    if (!v4.empty()) return v4 + " in IPv4-mapped form";
  }
  return "";
}

}  // namespace reachmon::config
