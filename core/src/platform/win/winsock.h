// Winsock must be started before getaddrinfo/inet_pton. Started once, on first use, and never
// changed afterwards.
#pragma once

namespace reachmon::core::win {
void ensureWinsock();
}
