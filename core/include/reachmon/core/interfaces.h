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
  std::string name;
  std::uint32_t index = 0;
  bool up = false;
  std::vector<IpAddress> addresses;
};

// Lists the host's interfaces (platform code). Never throws; an empty list on failure.
std::vector<InterfaceInfo> listInterfaces();

// The address a source sends from right now, or nullopt when it has none:
// - an address source: its address, if some interface carries it;
// - an interface source (name or numeric index): the interface's first address of the source's
//   family, preferring global over link-local; none while the interface is down.
std::optional<IpAddress> pickSourceAddress(const SourceSpec& source,
                                           const std::vector<InterfaceInfo>& interfaces);

}  // namespace reachmon::core
