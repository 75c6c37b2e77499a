#include <netdb.h>

#include <memory>

#include "reachmon/core/resolver.h"
#include "sockaddr.h"

namespace reachmon::core {

std::variant<IpAddress, std::string> resolveHost(const std::string& host, Family family) {
  addrinfo hints{};
  hints.ai_family = family == Family::kIpv4 ? AF_INET : AF_INET6;
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* raw = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  if (rc != 0) return std::string(::gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(raw, &::freeaddrinfo);
  for (addrinfo* ai = raw; ai; ai = ai->ai_next) {
    IpAddress a;
    if (ai->ai_addr && lnx::fromSockaddr(ai->ai_addr, a)) return a;
  }
  return std::string("no ") + std::string(familyName(family)) + " address";
}

}  // namespace reachmon::core
