// The one place that includes the Windows SDK headers for the engine, in the order they need.
// (WIN32_LEAN_AND_MEAN, NOMINMAX and _WIN32_WINNT come from cmake/ReachmonWindowsDeps.cmake.)
#pragma once

// clang-format off
#include <winsock2.h>
#include <ws2tcpip.h>
#include <mswsock.h>  // WSASendMsg / WSARecvMsg extension GUIDs, SIO_UDP_CONNRESET
#include <windows.h>
#include <winternl.h>  // IO_STATUS_BLOCK, PIO_APC_ROUTINE
#define PIO_APC_ROUTINE_DEFINED  // icmpapi.h: declare ApcRoutine parameters as PIO_APC_ROUTINE
#include <iphlpapi.h>
#include <icmpapi.h>
#include <timeapi.h>
// clang-format on

#include "reachmon/core/os_text.h"

#ifndef CREATE_WAITABLE_TIMER_HIGH_RESOLUTION  // Windows 10 1803; MinGW's headers lack it
#define CREATE_WAITABLE_TIMER_HIGH_RESOLUTION 0x00000002
#endif

// Reports TTL expiry (ICMP time exceeded) on a UDP socket as WSAENETRESET, as SIO_UDP_CONNRESET
// does port unreachable as WSAECONNRESET. MinGW's mswsock.h lacks it.
#ifndef SIO_UDP_NETRESET
#define SIO_UDP_NETRESET _WSAIOW(IOC_VENDOR, 15)
#endif

// libiphlpapi.a exports IcmpSendEcho2Ex but MinGW's icmpapi.h does not declare it.
extern "C" DWORD WINAPI IcmpSendEcho2Ex(HANDLE IcmpHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine,
                                        PVOID ApcContext, IPAddr SourceAddress,
                                        IPAddr DestinationAddress, LPVOID RequestData,
                                        WORD RequestSize, PIP_OPTION_INFORMATION RequestOptions,
                                        LPVOID ReplyBuffer, DWORD ReplySize, DWORD Timeout);

namespace reachmon::core::win {

// ICMPV6_ECHO_REPLY as the Windows SDK defines it (MinGW lacks it): the address is packed.
#pragma pack(push, 1)
struct Ipv6AddressEx {
  USHORT sin6_port;
  ULONG sin6_flowinfo;
  USHORT sin6_addr[8];
  ULONG sin6_scope_id;
};
#pragma pack(pop)
struct Icmpv6EchoReply {
  Ipv6AddressEx Address;
  ULONG Status;
  unsigned int RoundTripTime;
};
static_assert(sizeof(Ipv6AddressEx) == 26 && sizeof(Icmpv6EchoReply) == 36);

}  // namespace reachmon::core::win
