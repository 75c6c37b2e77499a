#include <charconv>

#include "reachmon/core/address.h"
#include "win.h"
#include "winsock.h"

namespace reachmon::core {

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  win::ensureWinsock();
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) {
    a.family = Family::kIpv4;
    return a;
  }
  std::string zone;
  if (auto pct = s.find('%'); pct != std::string::npos) {
    zone = s.substr(pct + 1);
    s.resize(pct);
    if (zone.empty()) return std::nullopt;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  a.family = Family::kIpv6;
  if (!zone.empty()) {
    std::uint32_t idx = 0;
    auto [p, ec] = std::from_chars(zone.data(), zone.data() + zone.size(), idx);
    if (ec != std::errc() || p != zone.data() + zone.size() || idx == 0) return std::nullopt;
    a.scope_id = idx;
  }
  return a;
}

std::string formatIpAddress(const IpAddress& a) {
  win::ensureWinsock();
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(a.family == Family::kIpv4 ? AF_INET : AF_INET6, a.bytes.data(), buf, sizeof buf);
  std::string out(buf);
  if (a.family == Family::kIpv6 && a.scope_id != 0) out += "%" + std::to_string(a.scope_id);
  return out;
}

}  // namespace reachmon::core
