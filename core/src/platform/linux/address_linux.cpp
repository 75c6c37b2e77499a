#include <arpa/inet.h>
#include <net/if.h>

#include "../address_text.h"

namespace reachmon::core {

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  return detail::parseIpAddressWith(
      text,
      [](bool v6, const char* s, void* out) {
        return inet_pton(v6 ? AF_INET6 : AF_INET, s, out) == 1;
      },
      [](const std::string& name) { return if_nametoindex(name.c_str()); });
}

std::string formatIpAddress(const IpAddress& a) {
  return detail::formatIpAddressWith(
      a, [](bool v6, const void* bytes, char* buf, std::size_t size) {
        inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, buf, static_cast<socklen_t>(size));
      });
}

}  // namespace reachmon::core
