// Duration strings ("250ms", "1m30s", "1.5s"): parsing any text must not crash or overflow (UBSan),
// and every text gets exactly one answer: a value, a reason, or "too long". What parses is spelled
// as docs/config.md says (no sign, no spaces: checked against kSpelling for short inputs), is a
// whole number of microseconds, and survives formatDuration and a second parse unchanged.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <regex>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "reachmon/config/duration.h"

namespace {

// The pattern of docs/config.schema.json's $defs/duration, which config_test checks against the
// parser on tests/config/durations.json: here against whatever the fuzzer finds.
const std::regex kSpelling(
    R"(^(0|(?=[0-9])([0-9]+(\.[0-9]+)?h)?([0-9]+(\.[0-9]+)?m)?([0-9]+(\.[0-9]+)?s)?)"
    R"(([0-9]+(\.[0-9]+)?ms)?([0-9]+(\.[0-9]+)?us)?)$)");

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using reachmon::config::formatDuration;
  using reachmon::config::parseDuration;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto r = reachmon::config::tryParseDuration(text);
  FUZZ_CHECK(int{r.value.has_value()} + int{!r.error.empty()} + int{r.too_long} == 1);
  FUZZ_CHECK(parseDuration(text) == r.value);
  const bool finer = r.error.ends_with(" is finer than 1us, the smallest unit");
  // std::regex matches recursively: short inputs only (they reach every rule of the grammar).
  if (size <= 64) {
    const bool spelled_right = r.value || r.too_long || finer;
    FUZZ_CHECK(std::regex_search(std::string(text), kSpelling) == spelled_right);
  }
  if (!r.value) return 0;
  FUZZ_CHECK(text.find_first_not_of("0123456789.hmsu") == std::string_view::npos);
  FUZZ_CHECK(r.value->count() >= 0 && r.value->count() % 1000 == 0);
  const std::string formatted = formatDuration(*r.value);
  const auto again = parseDuration(formatted);
  FUZZ_CHECK(again.has_value() && *again == *r.value);
  return 0;
}
