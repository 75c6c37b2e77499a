#include "reachmon/core/address.h"

namespace reachmon::core {

std::string_view familyName(Family f) { return f == Family::kIpv4 ? "ipv4" : "ipv6"; }

bool IpAddress::isLinkLocal() const {
  if (family == Family::kIpv4) return bytes[0] == 169 && bytes[1] == 254;
  return bytes[0] == 0xfe && (bytes[1] & 0xc0) == 0x80;
}

bool IpAddress::isLoopback() const {
  if (family == Family::kIpv4) return bytes[0] == 127;
  for (int i = 0; i < 15; ++i)
    if (bytes[i] != 0) return false;
  return bytes[15] == 1;
}

}  // namespace reachmon::core
