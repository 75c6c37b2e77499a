// The Linux Transport: one ICMP socket per family, except IPv6 ping sockets, which the kernel
// will not let us pick the source of per packet, so those are opened per IPv6 source address
// (a handful, never one per path), and closed again once no source sends from that address.
// UDP probes go through one UDP socket per family, opened at the first UDP probe of that family.
// Every socket is registered with the engine's epoll set. Probe thread only.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "icmp_socket.h"
#include "udp_socket.h"

namespace reachmon::core::lnx {

// Adds `fd` to the epoll set for reading; false (errno set) on failure.
bool watchReadable(int epoll_fd, int fd);

class SocketTransport final : public Transport {
 public:
  // Opens the IPv4 and IPv6 sockets and registers them with `epoll_fd`. Throws
  // std::runtime_error with an actionable message when neither family can probe.
  SocketTransport(bool allow_raw, int epoll_fd);

  // Queues the request on its socket (kQueued) or fails; flush() sends the queued ones, one
  // sendmmsg() per socket.
  SendResult send(const EchoRequest& request) override;
  void flush(std::span<SendResult> results) override;
  // The socket behind an epoll event, or nullptr.
  ProbeSocket* find(int fd);
  // The kind of socket the engine probes with (the IPv4 one when there is one).
  IcmpSocket::Kind kind() const;
  // True when every socket opened at start stamps replies with the kernel's receive time.
  bool kernelTimestamps() const;
  // Closes the bound IPv6 sockets of addresses not in `in_use` (a rotated or removed address,
  // a source gone with a reload). Closing takes them out of the epoll set.
  void closeUnused(std::span<const IpAddress> in_use);
  // How many bound IPv6 sockets are open (for tests and diagnostics).
  std::size_t boundSockets() const { return v6_bound_.size(); }

 private:
  SendResult route(const EchoRequest& request);
  SendResult queueBound(const EchoRequest& request);
  SendResult queueUdp(const EchoRequest& request);
  // Notes where a queued request waits, for flush().
  SendResult remember(SendBatch& batch, SendResult result);

  int epoll_fd_;
  std::optional<IcmpSocket> v4_, v6_;
  std::optional<UdpSocket> udp4_, udp6_;
  int udp_open_error_[2] = {0, 0};  // errno of the latest failed open per family, logged once
  // Heap-allocated so that queued_ may point at them while the vector grows.
  std::vector<std::pair<IpAddress, std::unique_ptr<IcmpSocket>>> v6_bound_;
  // The batch and index of each request queued since the last flush, in order.
  std::array<std::pair<SendBatch*, std::size_t>, kMaxSendBatch> queued_{};
  std::size_t queued_count_ = 0;
};

}  // namespace reachmon::core::lnx
