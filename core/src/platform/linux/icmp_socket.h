// One ICMP socket for one address family: a ping (datagram) socket when the kernel allows it,
// else a raw socket. Sends echo requests with the source chosen per packet (IP_PKTINFO /
// IPV6_PKTINFO) and reads replies and ICMP errors without blocking. I/O only: the bytes are
// written and read by icmp_packet. Probe thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../../icmp_packet.h"
#include "../../transport.h"
#include "recv_batch.h"
#include "send_batch.h"
#include "socket_util.h"
#include "unique_fd.h"

namespace reachmon::core::lnx {

class IcmpSocket final : public ProbeSocket {
 public:
  using Kind = icmp::SocketKind;

  // Tries a ping socket, then (if allow_raw) a raw socket. On failure returns nullopt and
  // sets `error` to a message that says what to change.
  static std::optional<IcmpSocket> open(Family family, bool allow_raw, std::string& error);

  // A ping socket bound to `source`: IPv6 ping sockets ignore the source in IPV6_PKTINFO (the
  // kernel drops the flow from control data), so each IPv6 source address gets its own.
  // Returns nullopt and sets `os_error` (errno) when it cannot be opened or bound.
  static std::optional<IcmpSocket> openBound(const IpAddress& source, int& os_error);

  int fd() const { return fd_.get(); }
  Kind kind() const { return kind_; }
  Family family() const { return family_; }
  bool kernelTimestamps() const { return kernel_timestamps_; }

  // Queues an echo request in batch(), which sends it; kQueued, or kFailed when it cannot.
  SendResult queue(const EchoRequest& request);
  SendBatch& batch() override { return batch_; }
  void drain(ReplySink& sink, TimePoint now, bool error_queue) override;

 private:
  IcmpSocket(UniqueFd fd, Family family, Kind kind, std::uint16_t ident, bool kernel_timestamps);
  void readPackets(ReplySink& sink, TimePoint now);
  void readErrorQueue(ReplySink& sink);

  UniqueFd fd_;
  Family family_;
  Kind kind_;
  std::uint16_t ident_;     // raw sockets: our echo identifier; ping sockets: chosen by the kernel
  bool kernel_timestamps_;  // SO_TIMESTAMPNS is on
  SendBatch batch_;
  RecvBatch received_;
};

}  // namespace reachmon::core::lnx
