// The Linux Transport: one ICMP socket per family, except IPv6 ping sockets, which the kernel
// will not let us pick the source of per packet, so those are opened per IPv6 source address
// (a handful, never one per path), and closed again once no source sends from that address.
// UDP probes go through one UDP socket per family, opened at the first UDP probe of that family.
// Every socket is registered with the engine's epoll set. Probe thread only.
#pragma once

#include <cstddef>
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

  SendResult send(const EchoRequest& request) override;
  // The socket behind an epoll event, or nullptr.
  Drainable* find(int fd);
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
  SendResult sendBound(const EchoRequest& request);
  SendResult sendUdp(const EchoRequest& request);

  int epoll_fd_;
  std::optional<IcmpSocket> v4_, v6_;
  std::optional<UdpSocket> udp4_, udp6_;
  int udp_open_error_[2] = {0, 0};  // errno of the latest failed open per family, logged once
  std::vector<std::pair<IpAddress, IcmpSocket>> v6_bound_;
};

}  // namespace reachmon::core::lnx
