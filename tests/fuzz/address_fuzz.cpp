// IP address literals (config sources, target hosts, the listen address): parsing any text must
// not crash, and a parsed address must survive formatIpAddress and a second parse unchanged
// (an interface-name zone comes back as its index).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "reachmon/core/address.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using reachmon::core::Family;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto a = reachmon::core::parseIpAddress(text);
  if (!a) return 0;
  FUZZ_CHECK(a->family == Family::kIpv6 || a->scope_id == 0);
  const std::string formatted = reachmon::core::formatIpAddress(*a);
  const auto again = reachmon::core::parseIpAddress(formatted);
  FUZZ_CHECK(again.has_value() && *again == *a);
  FUZZ_CHECK(a->isLinkLocal() == again->isLinkLocal() && a->isLoopback() == again->isLoopback());
  return 0;
}
