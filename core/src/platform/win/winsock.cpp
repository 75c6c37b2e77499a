#include "winsock.h"

#include "win.h"

namespace reachmon::core::win {
namespace {

struct WinsockSession {
  WinsockSession() {
    WSADATA data;
    WSAStartup(MAKEWORD(2, 2), &data);
  }
  ~WinsockSession() { WSACleanup(); }
  WinsockSession(const WinsockSession&) = delete;
  WinsockSession& operator=(const WinsockSession&) = delete;
};

}  // namespace

void ensureWinsock() { static const WinsockSession session; }

}  // namespace reachmon::core::win
