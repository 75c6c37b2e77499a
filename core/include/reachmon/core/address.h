// IP addresses as plain values, independent of any socket API.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace reachmon::core {

enum class Family : std::uint8_t { kIpv4, kIpv6 };

std::string_view familyName(Family f);  // "ipv4" / "ipv6"

struct IpAddress {
  Family family = Family::kIpv4;
  std::array<std::uint8_t, 16> bytes{};  // network order; IPv4 uses the first 4 bytes
  std::uint32_t scope_id = 0;            // IPv6 link-local zone (interface index), else 0

  auto operator<=>(const IpAddress&) const = default;
  bool isLinkLocal() const;
  bool isLoopback() const;
};

// Parses a numeric IPv4 or IPv6 literal (IPv6 may carry a numeric zone: "fe80::1%2").
std::optional<IpAddress> parseIpAddress(std::string_view text);
std::string formatIpAddress(const IpAddress& a);

}  // namespace reachmon::core
