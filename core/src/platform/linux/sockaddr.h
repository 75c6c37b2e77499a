// Conversions between core::IpAddress and the socket API's address structures.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "reachmon/core/address.h"

namespace reachmon::core::lnx {

inline socklen_t toSockaddr(const IpAddress& a, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (a.family == Family::kIpv4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
  sin6->sin6_scope_id = a.scope_id;
  return sizeof(sockaddr_in6);
}

inline IpAddress fromIn4(const in_addr& in) {
  IpAddress a;
  a.family = Family::kIpv4;
  std::memcpy(a.bytes.data(), &in, 4);
  return a;
}

inline IpAddress fromIn6(const in6_addr& in, std::uint32_t scope = 0) {
  IpAddress a;
  a.family = Family::kIpv6;
  std::memcpy(a.bytes.data(), &in, 16);
  a.scope_id = scope;
  return a;
}

inline bool fromSockaddr(const sockaddr* sa, IpAddress& out) {
  if (sa->sa_family == AF_INET) {
    out = fromIn4(reinterpret_cast<const sockaddr_in*>(sa)->sin_addr);
    return true;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
    out = fromIn6(sin6->sin6_addr, sin6->sin6_scope_id);
    return true;
  }
  return false;
}

}  // namespace reachmon::core::lnx
