// The Windows ICMP helper functions the engine uses, behind an interface so that tests can
// inject a fake that completes requests with QueueUserAPC. The system implementation forwards
// to iphlpapi.dll. Called only from the probe thread.
#pragma once

#include <memory>

#include "win.h"

namespace reachmon::core::win {

class IcmpApi {
 public:
  virtual ~IcmpApi() = default;
  virtual HANDLE createFile() = 0;   // IcmpCreateFile
  virtual HANDLE create6File() = 0;  // Icmp6CreateFile
  virtual BOOL closeHandle(HANDLE h) = 0;
  virtual DWORD sendEcho2Ex(HANDLE h, PIO_APC_ROUTINE apc, PVOID context, IPAddr source,
                            IPAddr destination, LPVOID data, WORD size,
                            PIP_OPTION_INFORMATION options, LPVOID reply, DWORD reply_size,
                            DWORD timeout_ms) = 0;
  virtual DWORD send6Echo2(HANDLE h, PIO_APC_ROUTINE apc, PVOID context, sockaddr_in6* source,
                           sockaddr_in6* destination, LPVOID data, WORD size,
                           PIP_OPTION_INFORMATION options, LPVOID reply, DWORD reply_size,
                           DWORD timeout_ms) = 0;
  virtual DWORD parseReplies(LPVOID reply, DWORD reply_size) = 0;
  virtual DWORD parse6Replies(LPVOID reply, DWORD reply_size) = 0;
};

std::unique_ptr<IcmpApi> systemIcmpApi();

}  // namespace reachmon::core::win
