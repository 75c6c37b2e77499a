#include "icmp_api.h"

namespace reachmon::core::win {
namespace {

class SystemIcmpApi final : public IcmpApi {
 public:
  HANDLE createFile() override { return IcmpCreateFile(); }
  HANDLE create6File() override { return Icmp6CreateFile(); }
  BOOL closeHandle(HANDLE h) override { return IcmpCloseHandle(h); }
  BOOL cancelIo(HANDLE h) override { return CancelIoEx(h, nullptr); }
  DWORD sendEcho2Ex(HANDLE h, PIO_APC_ROUTINE apc, PVOID context, IPAddr source, IPAddr destination,
                    LPVOID data, WORD size, PIP_OPTION_INFORMATION options, LPVOID reply,
                    DWORD reply_size, DWORD timeout_ms) override {
    return IcmpSendEcho2Ex(h, nullptr, apc, context, source, destination, data, size, options,
                           reply, reply_size, timeout_ms);
  }
  DWORD send6Echo2(HANDLE h, PIO_APC_ROUTINE apc, PVOID context, sockaddr_in6* source,
                   sockaddr_in6* destination, LPVOID data, WORD size,
                   PIP_OPTION_INFORMATION options, LPVOID reply, DWORD reply_size,
                   DWORD timeout_ms) override {
    return Icmp6SendEcho2(h, nullptr, apc, context, source, destination, data, size, options, reply,
                          reply_size, timeout_ms);
  }
  DWORD parseReplies(LPVOID reply, DWORD reply_size) override {
    return IcmpParseReplies(reply, reply_size);
  }
  DWORD parse6Replies(LPVOID reply, DWORD reply_size) override {
    return Icmp6ParseReplies(reply, reply_size);
  }
};

}  // namespace

std::unique_ptr<IcmpApi> systemIcmpApi() { return std::make_unique<SystemIcmpApi>(); }

}  // namespace reachmon::core::win
