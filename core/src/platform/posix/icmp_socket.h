// One ICMP socket for one address family: a ping (datagram) socket when the kernel allows it,
// else a raw socket. Sends echo requests with the source chosen per packet (IP_PKTINFO /
// IPV6_PKTINFO) and reads replies and ICMP errors without blocking. Probe thread only.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "reachmon/core/transport.h"
#include "unique_fd.h"

namespace reachmon::core::posix {

class IcmpSocket {
 public:
  enum class Kind : std::uint8_t { kDatagram, kRaw };

  // Tries a ping socket, then (if allow_raw) a raw socket. On failure returns nullopt and
  // sets `error` to a message that says what to change.
  static std::optional<IcmpSocket> open(Family family, bool allow_raw, std::string& error);

  // A ping socket bound to `source`: IPv6 ping sockets ignore the source in IPV6_PKTINFO (the
  // kernel drops the flow from control data), so each IPv6 source address gets its own.
  // Returns nullopt and sets `os_error` when the address cannot be bound (not local).
  static std::optional<IcmpSocket> openBound(const IpAddress& source, int& os_error);

  int fd() const { return fd_.get(); }
  Kind kind() const { return kind_; }
  Family family() const { return family_; }

  SendResult send(const EchoRequest& request);
  // Reads everything queued (replies, then the error queue) and reports it to `core`-like sinks.
  void drain(const std::function<void(const EchoReply&)>& on_reply,
             const std::function<void(const IcmpErrorReport&)>& on_error, TimePoint now);

 private:
  IcmpSocket(UniqueFd fd, Family family, Kind kind, std::uint16_t ident);
  void readPackets(const std::function<void(const EchoReply&)>& on_reply,
                   const std::function<void(const IcmpErrorReport&)>& on_error, TimePoint now);
  void readErrorQueue(const std::function<void(const IcmpErrorReport&)>& on_error);
  bool parseRawError(const std::uint8_t* icmp, std::size_t len, IcmpErrorReport& out) const;

  UniqueFd fd_;
  Family family_;
  Kind kind_;
  std::uint16_t ident_;  // raw sockets: our echo identifier; ping sockets: chosen by the kernel
  int current_df_ = -1;  // IPv4 don't-fragment state of the socket (set per send when it changes)
  std::vector<std::uint8_t> buffer_;
};

// Maps ICMP / ICMPv6 error type and code to the reason label; nullopt for types we ignore.
std::optional<ErrorReason> icmpErrorReason(Family family, int type, int code);
std::uint16_t icmpChecksum(const std::uint8_t* data, std::size_t len);

}  // namespace reachmon::core::posix
