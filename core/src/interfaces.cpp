#include "reachmon/core/interfaces.h"

#include <algorithm>
#include <charconv>

namespace reachmon::core {
namespace {

bool matchesInterface(const InterfaceInfo& ifc, const std::string& wanted) {
  if (ifc.name == wanted) return true;
  std::uint32_t index = 0;
  auto [p, ec] = std::from_chars(wanted.data(), wanted.data() + wanted.size(), index);
  return ec == std::errc() && p == wanted.data() + wanted.size() && index == ifc.index;
}

}  // namespace

std::optional<IpAddress> pickSourceAddress(const SourceSpec& source,
                                           const std::vector<InterfaceInfo>& interfaces) {
  if (source.address) {
    for (const auto& ifc : interfaces) {
      for (const auto& a : ifc.addresses) {
        IpAddress plain = a;
        plain.scope_id = source.address->scope_id;
        if (plain == *source.address) return source.address;
      }
    }
    return std::nullopt;
  }
  if (!source.interface) return std::nullopt;
  for (const auto& ifc : interfaces) {
    if (!matchesInterface(ifc, *source.interface) || !ifc.up) continue;
    std::optional<IpAddress> link_local;
    for (const auto& a : ifc.addresses) {
      if (a.family != source.family) continue;
      if (!a.isLinkLocal()) return a;
      if (!link_local) link_local = a;
    }
    return link_local;
  }
  return std::nullopt;
}

}  // namespace reachmon::core
