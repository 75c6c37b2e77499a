// Sends UDP probes with WSASendMsg and turns what their sockets receive into replies and errors
// for a ReplySink. Probe thread only: every operation is issued by the thread that waits
// alertably (WinEngine::wait), because its completion routine runs there as an APC.
//
// A Winsock error completion carries no datagram and no documented address: only the socket it
// arrives on can name the probe that drew it. So each UDP probe in flight has a socket of its own,
// a "lane" (docs/plans/udp-probes.md §3.2): overlapped, bound to the wildcard address and an
// ephemeral port, the source chosen per datagram by IN_PKTINFO / IN6_PKTINFO, with a WSARecvMsg
// always pending. A WSAECONNRESET / WSAENETRESET on a lane belongs to the probe that holds it; a
// datagram names its probe itself (sequence and nonce), so it is handed on whenever it comes.
// When the probe's timeout has passed the lane stays in quarantine for max(timeout, 1 s),
// dropping the errors that still arrive, before another probe may take it. Lanes are reused,
// closed only when a receive fails or to make room for a larger buffer, and capped per family.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "../../transport.h"
#include "reachmon/core/clock.h"
#include "winsock_api.h"

namespace reachmon::core::win {

class UdpTransport final : public Transport {
 public:
  // Lanes per family at most: probes in flight plus those in quarantine. 1000 UDP paths probed
  // every second with a 1 s timeout hold about 2000; Windows' ephemeral ports (49152-65535) are
  // 16384 per address.
  static constexpr std::size_t kMaxLanes = 4096;
  static constexpr Duration kMinQuarantine{1'000'000'000};

  UdpTransport(WinsockApi& api, const Clock& clock, std::size_t max_lanes = kMaxLanes);
  // Closes the lanes. Operations still pending must have completed, or been abandon()ed;
  // otherwise their lanes are abandoned here.
  ~UdpTransport() override;
  UdpTransport(const UdpTransport&) = delete;
  UdpTransport& operator=(const UdpTransport&) = delete;

  SendResult send(const EchoRequest& request) override;
  // Where completions deliver from now on (see IcmpTransport::deliverTo).
  void deliverTo(ReplySink* sink) { sink_ = sink; }
  // Operations outstanding: sends and receives (every open lane has a receive pending).
  std::size_t inFlight() const { return pending_ops_; }
  std::size_t openLanes(Family family) const { return open_[index(family)]; }
  // Stops re-posting receives and cancels every pending operation (CancelIoEx on each lane):
  // their routines then run soon, with WSA_OPERATION_ABORTED, and count nothing. False when a
  // lane refused the cancellation.
  bool cancelAll();
  // Closes every lane, which also cancels what it still carries. Lanes are destroyed once their
  // routines have run; the next send() opens new ones.
  void closeAll();
  // Gives up on operations that never completed: their lanes are deliberately leaked so that a
  // late routine can never touch freed memory.
  void abandon();
  // After a stop (WinEngine::finish): forgets the closed lanes, and sends open new ones.
  void reset();

 private:
  struct Lane;
  static void CALLBACK onReceived(DWORD error, DWORD bytes, LPWSAOVERLAPPED overlapped,
                                  DWORD flags);
  static void CALLBACK onSent(DWORD error, DWORD bytes, LPWSAOVERLAPPED overlapped, DWORD flags);
  static constexpr std::size_t index(Family family) { return family == Family::kIpv4 ? 0 : 1; }

  Lane* acquire(Family family, std::size_t capacity, TimePoint now, int& error);
  std::unique_ptr<Lane> open(Family family, std::size_t capacity, int& error);
  int post(Lane& lane);  // posts the lane's receive: 0 or a Winsock error
  int applyOptions(Lane& lane, const ProbeOptions& options);
  void received(Lane& lane, DWORD error, DWORD bytes);
  void sent(Lane& lane, DWORD error);
  void deliverDatagram(Lane& lane, DWORD bytes, TimePoint now);
  void deliverError(Lane& lane, ErrorReason reason, bool port_unreachable, TimePoint now);
  bool live(const Lane& lane, TimePoint now) const;
  void close(Lane& lane);
  void sweep();  // destroys closed lanes whose routines have all run
  // Logs a Winsock error at warning level the first time per (what, code), then at debug level.
  void noteError(const char* what, int code);

  WinsockApi& api_;
  const Clock& clock_;
  std::size_t max_lanes_;
  ReplySink* sink_ = nullptr;
  std::vector<std::unique_ptr<Lane>> lanes_;  // every lane, open or closing
  std::array<std::vector<Lane*>, 2> free_;    // open lanes no probe holds, per family
  // Lanes held by a probe or in quarantine, per family: a min-heap on the time they come free.
  std::array<std::vector<std::pair<TimePoint, Lane*>>, 2> busy_;
  std::array<std::size_t, 2> open_{};
  std::array<bool, 2> cap_reported_{};
  std::size_t pending_ops_ = 0;
  std::size_t closed_ = 0;  // closed lanes not yet destroyed
  bool stopping_ = false;   // cancelAll()/closeAll() ran: receives are not posted again
  std::vector<std::pair<const char*, int>> noted_;
};

}  // namespace reachmon::core::win
