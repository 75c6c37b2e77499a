// One UDP socket for one address family, for the UDP probes of every path of that family:
// bound to the wildcard address and one ephemeral port, with the source address chosen per
// datagram (IP_PKTINFO / IPV6_PKTINFO), so each path keeps one 5-tuple and ECMP keeps it on one
// route. Replies arrive on its normal queue; ICMP errors about its datagrams (port unreachable,
// TTL expired, ...) on its error queue (IP_RECVERR / IPV6_RECVERR), with the datagram's start
// quoted so that ProbeCore names the probe exactly. Needs no privilege. Probe thread only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../../transport.h"
#include "recv_batch.h"
#include "socket_util.h"
#include "unique_fd.h"

namespace reachmon::core::lnx {

class UdpSocket final : public ProbeSocket {
 public:
  // Opens and binds the socket. On failure returns nullopt and sets `error` (a message) and
  // `os_error` (errno).
  static std::optional<UdpSocket> open(Family family, std::string& error, int& os_error);

  int fd() const { return fd_.get(); }
  Family family() const { return family_; }
  std::uint16_t port() const { return port_; }  // the local port every probe leaves from

  // Queues a datagram in batch(), which sends it; kQueued, or kFailed when it cannot.
  SendResult queue(const EchoRequest& request);
  SendBatch& batch() override { return batch_; }
  void drain(ReplySink& sink, TimePoint now, bool error_queue) override;

 private:
  UdpSocket(UniqueFd fd, Family family, std::uint16_t port);
  void readDatagrams(ReplySink& sink, TimePoint now);
  void readErrorQueue(ReplySink& sink, TimePoint now);

  UniqueFd fd_;
  Family family_;
  std::uint16_t port_;
  SendBatch batch_;
  RecvBatch received_;
};

}  // namespace reachmon::core::lnx
