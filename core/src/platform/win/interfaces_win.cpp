#include "interfaces_win.h"

#include <cstring>

namespace reachmon::core {
namespace win {

std::vector<InterfaceInfo> interfacesFrom(const IP_ADAPTER_ADDRESSES* first) {
  std::vector<InterfaceInfo> out;
  for (const auto* a = first; a; a = a->Next) {
    InterfaceInfo info;
    info.name = toUtf8(a->FriendlyName ? a->FriendlyName : L"");
    info.index = a->IfIndex ? a->IfIndex : a->Ipv6IfIndex;
    info.up = a->OperStatus == IfOperStatusUp;
    info.luid = a->Luid.Value;
    info.guid = a->AdapterName ? a->AdapterName : "";
    for (const auto* u = a->FirstUnicastAddress; u; u = u->Next) {
      if (u->DadState != IpDadStatePreferred) continue;
      const sockaddr* sa = u->Address.lpSockaddr;
      if (!sa) continue;
      IpAddress ip;
      if (sa->sa_family == AF_INET) {
        ip.family = Family::kIpv4;
        std::memcpy(ip.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
      } else if (sa->sa_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
        ip.family = Family::kIpv6;
        std::memcpy(ip.bytes.data(), &sin6->sin6_addr, 16);
        ip.scope_id = sin6->sin6_scope_id;
      } else {
        continue;
      }
      info.addresses.push_back(ip);
    }
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace win

std::vector<InterfaceInfo> listInterfaces() {
  ULONG size = 16 * 1024;
  std::vector<unsigned char> buf;
  ULONG rc = ERROR_BUFFER_OVERFLOW;
  for (int attempt = 0; attempt < 4 && rc == ERROR_BUFFER_OVERFLOW; ++attempt) {
    buf.resize(size);
    rc = GetAdaptersAddresses(
        AF_UNSPEC, GAA_FLAG_SKIP_ANYCAST | GAA_FLAG_SKIP_MULTICAST | GAA_FLAG_SKIP_DNS_SERVER,
        nullptr, reinterpret_cast<IP_ADAPTER_ADDRESSES*>(buf.data()), &size);
  }
  if (rc != NO_ERROR) return {};
  return win::interfacesFrom(reinterpret_cast<const IP_ADAPTER_ADDRESSES*>(buf.data()));
}

}  // namespace reachmon::core
