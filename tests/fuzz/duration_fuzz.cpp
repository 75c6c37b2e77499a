// Duration strings ("250ms", "5m"): parsing any text must not crash or overflow (UBSan), only the
// documented spelling may parse (digits and a unit: no sign, so "-0s" is refused), and a parsed
// duration must survive formatDuration and a second parse unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "reachmon/config/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using reachmon::config::formatDuration;
  using reachmon::config::parseDuration;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto d = parseDuration(text);
  if (!d) return 0;
  const std::size_t digits = text.find_first_not_of("0123456789");
  FUZZ_CHECK(digits != 0 && digits != std::string_view::npos);
  const std::string_view unit = text.substr(digits);
  FUZZ_CHECK(unit == "us" || unit == "ms" || unit == "s" || unit == "m" || unit == "h");
  FUZZ_CHECK(d->count() >= 0);
  const std::string formatted = formatDuration(*d);
  const auto again = parseDuration(formatted);
  FUZZ_CHECK(again.has_value() && *again == *d);
  return 0;
}
