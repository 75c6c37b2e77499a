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

// The reason label of an ICMP helper status (ICMP_ECHO_REPLY::Status); nullopt for IP_SUCCESS
// and IP_REQ_TIMED_OUT (the probe's own deadline decides). Local failures (no route, no
// resources, general failure, ...) and unknown statuses are send_failed. docs/windows.md has
// the table.
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
  // Cancels every request in flight (CancelIoEx on both handles): their APCs then run soon,
  // with STATUS_CANCELLED, and count nothing. False when no handle accepted the cancellation.
  bool cancelAll();
  // Closes both handles, which also cancels what they still carry. A later send() opens them
  // again.
  void closeHandles();
  // Gives up on requests that never completed: their memory is deliberately leaked so that a
  // late APC can never touch freed memory.
  void abandon();

 private:
  struct Request;
  static void NTAPI onComplete(PVOID context, PIO_STATUS_BLOCK status, ULONG reserved);
  void complete(Request& request, const IO_STATUS_BLOCK* io);
  void deliver(Request& request, const IO_STATUS_BLOCK* io, TimePoint now);
  HANDLE handleFor(Family family);
  // Logs a status at warning level the first time it occurs, then at debug level.
  void noteStatus(const char* what, unsigned long code, const IpAddress& target);
  Request* acquire();
  void release(Request* request);

  IcmpApi& api_;
  const Clock& clock_;
  ReplySink* sink_ = nullptr;
  HANDLE v4_ = INVALID_HANDLE_VALUE;
  HANDLE v6_ = INVALID_HANDLE_VALUE;
  bool reopen_ = false;  // closeHandles() ran: open the handles again when next needed
  std::vector<std::unique_ptr<Request>> requests_;  // every request ever made; reused
  std::vector<Request*> free_;
  std::size_t in_flight_ = 0;
  std::vector<std::pair<bool, unsigned long>> noted_;  // (I/O status?, code) already warned of
};

}  // namespace reachmon::core::win
