#include "reachmon/config/duration.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <numeric>

#include "value_rules.h"

namespace reachmon::config {
namespace {

struct Unit {
  std::string_view suffix;
  std::int64_t us;  // microseconds in one unit
};
// Largest first: the order in which the parts of a duration must come.
constexpr std::array<Unit, 5> kUnits{
    {{"h", 3'600'000'000}, {"m", 60'000'000}, {"s", 1'000'000}, {"ms", 1'000}, {"us", 1}}};
constexpr std::int64_t kMaxMicros = kMaxDuration.count();

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
// What a unit is read as: ASCII letters, and the bytes of UTF-8 sequences, so that "1µs" names
// "µs" as its unknown unit.
bool isUnitChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
}

DurationResult invalid(std::string why) {
  DurationResult r;
  r.error = std::move(why);
  return r;
}

// The microseconds in the fraction 0.<digits> of a unit of `unit_us` microseconds, or nullopt
// when they are not a whole number.
std::optional<std::int64_t> fractionMicros(std::string_view digits, std::int64_t unit_us) {
  while (!digits.empty() && digits.back() == '0') digits.remove_suffix(1);
  if (digits.empty()) return 0;
  // digits = F / 10^k with F no multiple of 10 (its last digit is not 0), so F is odd or no
  // multiple of 5, and F * unit_us is a multiple of 10^k only if 2^k or 5^k divides unit_us:
  // k <= 10 for every unit (3,600,000,000 = 2^10 * 3^2 * 5^8). Then F and 10^k fit 64 bits.
  if (digits.size() > 10) return std::nullopt;
  std::int64_t f = 0;
  std::int64_t p = 1;
  for (const char c : digits) {
    f = f * 10 + (c - '0');
    p *= 10;
  }
  // F * unit_us / p = (F / d) * (unit_us / g), exactly when d divides F.
  const std::int64_t g = std::gcd(unit_us, p);
  const std::int64_t d = p / g;
  if (f % d != 0) return std::nullopt;
  return f / d * (unit_us / g);  // below unit_us, as F < p
}

}  // namespace

DurationResult tryParseDuration(std::string_view text) {
  if (text.empty()) return invalid("empty");
  if (text == "0") return {std::chrono::nanoseconds(0), "", false};
  if (text.front() == '+' || text.front() == '-') return invalid("no sign allowed");
  if (std::any_of(text.begin(), text.end(), isSpace)) return invalid("no white space allowed");
  std::int64_t total = 0;  // microseconds
  bool too_long = false;
  std::string_view finer;  // the first part that is not a whole number of microseconds
  int previous = -1;       // the index in kUnits of the last part's unit
  std::size_t pos = 0;
  while (pos < text.size()) {
    const std::size_t start = pos;
    // Saturates above kMaxMicros: the spelling is still checked to the end.
    std::int64_t whole = 0;
    while (pos < text.size() && isDigit(text[pos]))
      whole = std::min(whole * 10 + (text[pos++] - '0'), kMaxMicros + 1);
    const bool has_whole = pos > start;
    std::string_view fraction;
    if (pos < text.size() && text[pos] == '.') {
      const std::size_t first = ++pos;
      while (pos < text.size() && isDigit(text[pos])) ++pos;
      fraction = text.substr(first, pos - first);
      if (!has_whole || fraction.empty())
        return invalid("a decimal point needs digits on both sides");
    }
    const std::size_t unit_start = pos;
    while (pos < text.size() && isUnitChar(text[pos])) ++pos;
    const std::string_view number = text.substr(start, unit_start - start);
    const std::string_view unit = text.substr(unit_start, pos - unit_start);
    if (number.empty())
      return invalid(unit.empty() ? "unexpected " + quote(text.substr(start))
                                  : "no number before " + quote(unit));
    if (unit.empty())
      return invalid(pos == text.size() ? "missing unit after " + quote(number)
                                        : "unexpected " + quote(text.substr(pos)));
    const auto it =
        std::find_if(kUnits.begin(), kUnits.end(), [&](const Unit& u) { return u.suffix == unit; });
    if (it == kUnits.end()) return invalid("unknown unit " + quote(unit));
    const int index = static_cast<int>(it - kUnits.begin());
    if (index == previous) return invalid("unit " + quote(unit) + " appears twice");
    if (index < previous)
      return invalid("unit " + quote(unit) + " after " + quote(kUnits[previous].suffix));
    previous = index;
    const auto part_fraction = fractionMicros(fraction, it->us);
    if (!part_fraction) {
      // Reported once the whole text is known to be spelled right.
      if (finer.empty()) finer = text.substr(start, pos - start);
      continue;
    }
    if (whole > (kMaxMicros - *part_fraction) / it->us) {
      too_long = true;
    } else {
      const std::int64_t part = whole * it->us + *part_fraction;
      if (part > kMaxMicros - total) {
        too_long = true;
      } else {
        total += part;
      }
    }
  }
  if (!finer.empty()) return invalid(quote(finer) + " is finer than 1us, the smallest unit");
  DurationResult r;
  if (too_long) {
    r.too_long = true;
  } else {
    r.value = std::chrono::microseconds(total);
  }
  return r;
}

std::optional<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  return tryParseDuration(text).value;
}

std::string formatDuration(std::chrono::nanoseconds d) {
  const std::int64_t ns = d.count();
  for (const Unit& u : kUnits) {  // the largest unit that divides it
    const std::int64_t unit_ns = u.us * 1000;
    if (ns != 0 && ns % unit_ns == 0) return std::to_string(ns / unit_ns) + std::string(u.suffix);
  }
  return ns == 0 ? "0s" : std::to_string(ns) + "ns";
}

}  // namespace reachmon::config
