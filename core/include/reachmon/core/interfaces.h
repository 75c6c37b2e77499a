// Network interfaces of the host and how a configured source maps onto them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "reachmon/core/address.h"
#include "reachmon/core/path.h"

namespace reachmon::core {

struct InterfaceInfo {
  std::string name;  // Linux: eth0; Windows: the alias ("Ethernet 2")
  std::uint32_t index = 0;
  bool up = false;
  std::vector<IpAddress> addresses;
  std::uint64_t luid = 0;  // Windows only
  std::string guid;        // Windows only, "{xxxxxxxx-...}"
};

// Lists the host's interfaces (platform code). Never throws; an empty list on failure.
std::vector<InterfaceInfo> listInterfaces();

// The address a source sends from right now, or nullopt when it has none:
// - an address source: its address, if some interface that is up carries it;
// - an interface source: the interface's first address of the source's family, preferring global
//   over link-local; none while the interface is down. The interface is named by its name/alias,
//   its decimal index, (Windows) its LUID as "0x" and 16 hex digits, or its GUID with or
//   without braces, in any case.
std::optional<IpAddress> pickSourceAddress(const SourceSpec& source,
                                           const std::vector<InterfaceInfo>& interfaces);

}  // namespace reachmon::core
