// The Windows ICMP helper functions the engine uses, behind an interface so that tests can
// inject a fake that completes requests with QueueUserAPC. The system implementation forwards
// to iphlpapi.dll (and kernel32 for CancelIoEx). Called only from the probe thread.
//
// The contract the engine relies on (Microsoft's IcmpSendEcho2Ex / Icmp6SendEcho2 pages, and
// what .NET's Ping does): with an ApcRoutine, a call that returns 0 with GetLastError() !=
// ERROR_IO_PENDING failed synchronously and no APC will run; every other outcome (0 with
// ERROR_IO_PENDING, or a non-zero count) completes through the APC, which owns the buffers
// until it has run. CancelIoEx on the ICMP handle cancels outstanding requests: their APCs run
// with IO_STATUS_BLOCK.Status = STATUS_CANCELLED. Closing the handle cancels them too.
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
  virtual BOOL cancelIo(HANDLE h) = 0;  // CancelIoEx(h, nullptr): every request on the handle
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
