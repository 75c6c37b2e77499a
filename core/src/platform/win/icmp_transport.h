// Sends echo requests with IcmpSendEcho2Ex / Icmp6SendEcho2 and turns their APC completions
// into replies and errors for a ReplySink. Probe thread only: requests must be issued by the
// thread that waits alertably (WinEngine::wait), because their completions run there as APCs.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "../../transport.h"
#include "icmp_api.h"
#include "reachmon/core/clock.h"

namespace reachmon::core::win {

// The reason label of a completion status; nullopt for success, timeout and local failures.
std::optional<ErrorReason> statusReason(ULONG status);

class IcmpTransport final : public Transport {
 public:
  // Opens the IPv4 and IPv6 ICMP handles. Throws std::runtime_error if neither opens.
  IcmpTransport(IcmpApi& api, const Clock& clock);
  // Closes the handles. Requests still in flight must have completed, or been abandon()ed.
  ~IcmpTransport() override;
  IcmpTransport(const IcmpTransport&) = delete;
  IcmpTransport& operator=(const IcmpTransport&) = delete;

  SendResult send(const EchoRequest& request) override;
  // Where completions deliver from now on. WinEngine sets it when the probe loop first waits
  // and clears it when the loop has finished; a completion without a sink is logged and dropped
  // (completions run only during the probe thread's alertable waits, so none should).
  void deliverTo(ReplySink* sink) { sink_ = sink; }
  std::size_t inFlight() const { return in_flight_; }
  Duration longestTimeout() const { return longest_timeout_; }
  // Gives up on requests that never completed: their memory is deliberately leaked so that a
  // late APC can never touch freed memory.
  void abandon();

 private:
  struct Request;
  static void NTAPI onComplete(PVOID context, PIO_STATUS_BLOCK status, ULONG reserved);
  void complete(Request& request, const IO_STATUS_BLOCK* io);
  Request* acquire();
  void release(Request* request);

  IcmpApi& api_;
  const Clock& clock_;
  ReplySink* sink_ = nullptr;
  HANDLE v4_ = INVALID_HANDLE_VALUE;
  HANDLE v6_ = INVALID_HANDLE_VALUE;
  std::vector<std::unique_ptr<Request>> requests_;  // every request ever made; reused
  std::vector<Request*> free_;
  std::size_t in_flight_ = 0;
  Duration longest_timeout_{0};
};

}  // namespace reachmon::core::win
