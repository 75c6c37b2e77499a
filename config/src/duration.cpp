#include "reachmon/config/duration.h"

#include <array>
#include <charconv>
#include <cstdint>

namespace reachmon::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t ns;
};
// Longest suffixes first so that "ms" is not read as "m" + garbage.
constexpr std::array<Unit, 5> kUnits{{{"us", 1'000},
                                      {"ms", 1'000'000},
                                      {"s", 1'000'000'000},
                                      {"m", 60'000'000'000},
                                      {"h", 3'600'000'000'000}}};

}  // namespace

std::optional<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  for (const Unit& u : kUnits) {
    if (text.size() <= u.suffix.size() || !text.ends_with(u.suffix)) continue;
    std::string_view digits = text.substr(0, text.size() - u.suffix.size());
    if (digits.back() < '0' || digits.back() > '9') continue;  // "5ms" must not match "s"
    // Digits only: from_chars alone takes a sign, and "-0s" would pass as zero.
    if (digits.front() < '0' || digits.front() > '9') return std::nullopt;
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec != std::errc() || p != digits.data() + digits.size()) return std::nullopt;
    if (n > INT64_MAX / u.ns) return std::nullopt;
    return std::chrono::nanoseconds(n * u.ns);
  }
  return std::nullopt;
}

std::string formatDuration(std::chrono::nanoseconds d) {
  const std::int64_t ns = d.count();
  for (auto it = kUnits.rbegin(); it != kUnits.rend(); ++it) {
    if (ns != 0 && ns % it->ns == 0) return std::to_string(ns / it->ns) + std::string(it->suffix);
  }
  return ns == 0 ? "0s" : std::to_string(ns) + "ns";
}

}  // namespace reachmon::config
