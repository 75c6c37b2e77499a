#include <cstring>
#include <memory>

#include "reachmon/core/resolver.h"
#include "win.h"
#include "winsock.h"

namespace reachmon::core {

std::variant<IpAddress, std::string> resolveHost(const std::string& host, Family family) {
  win::ensureWinsock();
  addrinfoW hints{};
  hints.ai_family = family == Family::kIpv4 ? AF_INET : AF_INET6;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfoW* raw = nullptr;
  const std::wstring wide = toWide(host);
  if (const int rc = GetAddrInfoW(wide.c_str(), nullptr, &hints, &raw); rc != 0)
    return osErrorText(rc);
  std::unique_ptr<addrinfoW, decltype(&FreeAddrInfoW)> list(raw, &FreeAddrInfoW);
  for (addrinfoW* ai = raw; ai; ai = ai->ai_next) {
    IpAddress a;
    if (ai->ai_family == AF_INET) {
      a.family = Family::kIpv4;
      std::memcpy(a.bytes.data(), &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, 4);
      return a;
    }
    if (ai->ai_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      a.family = Family::kIpv6;
      std::memcpy(a.bytes.data(), &sin6->sin6_addr, 16);
      a.scope_id = sin6->sin6_scope_id;
      return a;
    }
  }
  return std::string("no ") + std::string(familyName(family)) + " address";
}

}  // namespace reachmon::core
