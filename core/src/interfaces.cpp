#include "reachmon/core/interfaces.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string_view>

namespace reachmon::core {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

template <typename T>
bool parseWhole(std::string_view text, T& out, int base = 10) {
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  return !text.empty() && ec == std::errc() && p == text.data() + text.size();
}

bool matchesInterface(const InterfaceInfo& ifc, const std::string& wanted) {
  if (ifc.name == wanted) return true;
  std::uint32_t index = 0;
  if (parseWhole(wanted, index)) return index == ifc.index;
  std::uint64_t luid = 0;
  if (wanted.size() > 2 && lower(wanted.substr(0, 2)) == "0x" &&
      parseWhole(std::string_view(wanted).substr(2), luid, 16))
    return ifc.luid != 0 && luid == ifc.luid;
  if (ifc.guid.empty()) return false;
  std::string guid = lower(wanted);
  if (guid.front() != '{') guid = "{" + guid + "}";
  return guid == lower(ifc.guid);
}

}  // namespace

std::optional<IpAddress> pickSourceAddress(const SourceSpec& source,
                                           const std::vector<InterfaceInfo>& interfaces) {
  if (source.address) {
    for (const auto& ifc : interfaces) {
      // A link that is down keeps its IPv4 addresses but sends nothing: the source is
      // unavailable, as an interface source on that link is.
      if (!ifc.up) continue;
      for (const auto& a : ifc.addresses) {
        IpAddress plain = a;
        plain.scope_id = source.address->scope_id;
        if (plain == *source.address) return source.address;
      }
    }
    return std::nullopt;
  }
  if (!source.interface_name) return std::nullopt;
  for (const auto& ifc : interfaces) {
    if (!matchesInterface(ifc, *source.interface_name) || !ifc.up) continue;
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
