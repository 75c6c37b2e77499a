// Turns GetAdaptersAddresses' list into reachmon's InterfaceInfo: separate from the call so that
// tests can feed it hand-built adapter lists.
#pragma once

#include <vector>

#include "reachmon/core/interfaces.h"
#include "win.h"

namespace reachmon::core::win {

// Every adapter with its usable unicast addresses: an address counts only in the preferred DAD
// state (not tentative, duplicate, deprecated or invalid), so a source never picks an address
// the stack will not send from. `up` is the adapter's operational status.
std::vector<InterfaceInfo> interfacesFrom(const IP_ADAPTER_ADDRESSES* first);

}  // namespace reachmon::core::win
