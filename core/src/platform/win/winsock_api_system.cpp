#include <array>

#include "winsock.h"
#include "winsock_api.h"

namespace reachmon::core::win {
namespace {

class SystemWinsockApi final : public WinsockApi {
 public:
  SOCKET openUdp(int family, int& error) override {
    ensureWinsock();
    const SOCKET s = WSASocketW(family, SOCK_DGRAM, IPPROTO_UDP, nullptr, 0, WSA_FLAG_OVERLAPPED);
    if (s == INVALID_SOCKET) {
      error = WSAGetLastError();
      return s;
    }
    // WSASendMsg and WSARecvMsg are extensions: their pointers belong to the provider, which may
    // differ by family, so each family loads its own from its first socket.
    auto& ext = extensions_[family == AF_INET6 ? 1 : 0];
    if (!ext.send || !ext.recv) {
      error = load(s, WSAID_WSASENDMSG, ext.send);
      if (error == 0) error = load(s, WSAID_WSARECVMSG, ext.recv);
      if (error != 0) {
        closesocket(s);
        return INVALID_SOCKET;
      }
    }
    return s;
  }
  int bind(SOCKET s, const sockaddr* address, int length) override {
    return ::bind(s, address, length) == 0 ? 0 : WSAGetLastError();
  }
  int setOption(SOCKET s, int level, int name, DWORD value) override {
    return setsockopt(s, level, name, reinterpret_cast<const char*>(&value), sizeof value) == 0
               ? 0
               : WSAGetLastError();
  }
  int ioctl(SOCKET s, DWORD code, BOOL value) override {
    DWORD returned = 0;
    return WSAIoctl(s, code, &value, sizeof value, nullptr, 0, &returned, nullptr, nullptr) == 0
               ? 0
               : WSAGetLastError();
  }
  int sendMsg(SOCKET s, int family, WSAMSG* message, WSAOVERLAPPED* overlapped,
              LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) override {
    const auto send = extensionsOf(family).send;
    if (!send) return WSAEOPNOTSUPP;
    return send(s, message, 0, nullptr, overlapped, routine) == 0 ? 0 : WSAGetLastError();
  }
  int recvMsg(SOCKET s, int family, WSAMSG* message, WSAOVERLAPPED* overlapped,
              LPWSAOVERLAPPED_COMPLETION_ROUTINE routine) override {
    const auto recv = extensionsOf(family).recv;
    if (!recv) return WSAEOPNOTSUPP;
    return recv(s, message, nullptr, overlapped, routine) == 0 ? 0 : WSAGetLastError();
  }
  DWORD cancelIo(SOCKET s) override {
    return CancelIoEx(reinterpret_cast<HANDLE>(s), nullptr) ? 0 : GetLastError();
  }
  void close(SOCKET s) override { closesocket(s); }

 private:
  struct Extensions {
    LPFN_WSASENDMSG send = nullptr;
    LPFN_WSARECVMSG recv = nullptr;
  };
  template <class Fn>
  static int load(SOCKET s, GUID id, Fn& fn) {
    DWORD returned = 0;
    return WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id, sizeof id, &fn, sizeof fn,
                    &returned, nullptr, nullptr) == 0
               ? 0
               : WSAGetLastError();
  }
  const Extensions& extensionsOf(int family) const {
    return extensions_[family == AF_INET6 ? 1 : 0];
  }

  std::array<Extensions, 2> extensions_;
};

}  // namespace

std::unique_ptr<WinsockApi> systemWinsockApi() { return std::make_unique<SystemWinsockApi>(); }

}  // namespace reachmon::core::win
