// The Winsock calls of UDP probes, behind an interface so that tests can inject a fake that
// completes operations with QueueUserAPC (tests/support/fake_winsock_api.h), as IcmpApi does for
// the ICMP helper. The system implementation forwards to ws2_32.dll, with WSASendMsg and
// WSARecvMsg obtained through SIO_GET_EXTENSION_FUNCTION_POINTER. Called only from the probe
// thread.
//
// The contract the engine relies on (Microsoft's WSASendMsg page; WSARecvMsg's says the same):
// on an overlapped socket with a completion routine, a call that returns 0 has completed at once
// and its routine STILL runs, during the issuing thread's next alertable wait, so the buffers stay
// the caller's until then; WSA_IO_PENDING completes later the same way; any other error failed
// and no routine will run. Routines of one socket never nest, and may issue new calls.
// CancelIoEx on the socket, and closesocket, complete what is pending (WSA_OPERATION_ABORTED;
// Wine 8.0 reports WSAEINVAL for a receive cut off by closesocket).
#pragma once

#include <memory>

#include "win.h"

namespace reachmon::core::win {

class WinsockApi {
 public:
  virtual ~WinsockApi() = default;
  // WSASocketW(family, SOCK_DGRAM, IPPROTO_UDP, ..., WSA_FLAG_OVERLAPPED). INVALID_SOCKET, with
  // `error` set, on failure.
  virtual SOCKET openUdp(int family, int& error) = 0;
  // The calls below return 0 or a Winsock error code (WSAGetLastError()).
  virtual int bind(SOCKET s, const sockaddr* address, int length) = 0;
  virtual int setOption(SOCKET s, int level, int name, DWORD value) = 0;  // setsockopt
  virtual int ioctl(SOCKET s, DWORD code, BOOL value) = 0;  // WSAIoctl with a BOOL input
  // 0 (completed at once: the routine still runs), WSA_IO_PENDING, or an error (no routine).
  // `family` is the socket's: extension functions belong to the provider of the socket's family.
  virtual int sendMsg(SOCKET s, int family, WSAMSG* message, WSAOVERLAPPED* overlapped,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) = 0;
  virtual int recvMsg(SOCKET s, int family, WSAMSG* message, WSAOVERLAPPED* overlapped,
                      LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) = 0;
  // CancelIoEx((HANDLE)s, nullptr): 0, or GetLastError() (ERROR_NOT_FOUND: nothing pending).
  virtual DWORD cancelIo(SOCKET s) = 0;
  virtual void close(SOCKET s) = 0;  // closesocket
};

std::unique_ptr<WinsockApi> systemWinsockApi();

}  // namespace reachmon::core::win
