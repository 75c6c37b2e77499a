// Text <-> IpAddress with the platform's inet_pton/inet_ntop, shared by the POSIX and Windows
// files so that both accept exactly the same spellings ("192.0.2.1", "2001:db8::1",
// "fe80::1%2"; POSIX also takes an interface name as the zone).
#pragma once

#include <charconv>
#include <optional>
#include <string>
#include <string_view>

#include "reachmon/core/address.h"

namespace reachmon::core::detail {

// pton(family_is_v6, text, bytes) -> bool; zone_index(name) -> interface index or 0.
template <typename Pton, typename ZoneIndex>
std::optional<IpAddress> parseIpAddressWith(std::string_view text, Pton pton,
                                            ZoneIndex zone_index) {
  // inet_pton reads a C string: an embedded NUL would hide what follows it.
  if (text.empty() || text.size() > 64 || text.find('\0') != std::string_view::npos)
    return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (pton(false, s.c_str(), a.bytes.data())) {
    a.family = Family::kIpv4;
    return a;
  }
  std::string zone;
  if (auto pct = s.find('%'); pct != std::string::npos) {
    zone = s.substr(pct + 1);
    s.resize(pct);
    if (zone.empty()) return std::nullopt;
  }
  if (!pton(true, s.c_str(), a.bytes.data())) return std::nullopt;
  a.family = Family::kIpv6;
  if (!zone.empty()) {
    std::uint32_t idx = 0;
    auto [p, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), idx);
    if (ec != std::errc() || p != zone.data() + zone.size()) idx = zone_index(zone);
    if (idx == 0) return std::nullopt;
    a.scope_id = idx;
  }
  return a;
}

// ntop(family_is_v6, bytes, buffer, size) writes the text form into buffer.
template <typename Ntop>
std::string formatIpAddressWith(const IpAddress& a, Ntop ntop) {
  char buf[64] = {};
  ntop(a.family == Family::kIpv6, a.bytes.data(), buf, sizeof buf);
  std::string out(buf);
  if (a.family == Family::kIpv6 && a.scope_id != 0) out += "%" + std::to_string(a.scope_id);
  return out;
}

}  // namespace reachmon::core::detail
