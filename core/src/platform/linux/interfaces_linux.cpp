#include <ifaddrs.h>
#include <net/if.h>

#include <algorithm>
#include <memory>

#include "reachmon/core/interfaces.h"
#include "sockaddr.h"

namespace reachmon::core {

std::vector<InterfaceInfo> listInterfaces() {
  std::vector<InterfaceInfo> out;
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) return out;
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> list(raw, &::freeifaddrs);
  for (ifaddrs* ifa = raw; ifa; ifa = ifa->ifa_next) {
    if (!ifa->ifa_name) continue;
    std::string name(ifa->ifa_name);
    name = name.substr(0, name.find(':'));  // IPv4 alias labels ("eth0:1") belong to eth0
    auto it = std::find_if(out.begin(), out.end(),
                           [&](const InterfaceInfo& i) { return i.name == name; });
    if (it == out.end()) {
      InterfaceInfo info;
      info.name = name;
      info.index = ::if_nametoindex(name.c_str());
      out.push_back(std::move(info));
      it = out.end() - 1;
    }
    if ((ifa->ifa_flags & IFF_UP) && (ifa->ifa_flags & IFF_RUNNING)) it->up = true;
    IpAddress a;
    if (ifa->ifa_addr && lnx::fromSockaddr(ifa->ifa_addr, a)) it->addresses.push_back(a);
  }
  return out;
}

}  // namespace reachmon::core
