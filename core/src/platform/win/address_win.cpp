#include "../address_text.h"
#include "win.h"
#include "winsock.h"

namespace reachmon::core {

std::optional<IpAddress> parseIpAddress(std::string_view text) {
  win::ensureWinsock();
  return detail::parseIpAddressWith(
      text,
      [](bool v6, const char* s, void* out) {
        return inet_pton(v6 ? AF_INET6 : AF_INET, s, out) == 1;
      },
      [](const std::string&) { return std::uint32_t{0}; });  // Windows zones are indexes
}

std::string formatIpAddress(const IpAddress& a) {
  win::ensureWinsock();
  return detail::formatIpAddressWith(a,
                                     [](bool v6, const void* bytes, char* buf, std::size_t size) {
                                       inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, buf, size);
                                     });
}

}  // namespace reachmon::core
