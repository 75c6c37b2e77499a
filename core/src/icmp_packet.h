// ICMP and ICMPv6 packets as bytes: writing echo requests and reading what an ICMP socket
// delivers (echo replies, and errors that quote one of our requests). Pure functions over byte
// spans with no socket API, so that every branch is unit-tested with captured packets
// (tests/icmp_packet_test.cpp); the Linux engine's IcmpSocket does only the I/O around them.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "reachmon/core/address.h"
#include "reachmon/core/stats.h"
#include "transport.h"

namespace reachmon::core::icmp {

inline constexpr std::size_t kHeaderSize = 8;  // type, code, checksum, identifier, sequence

// What kind of ICMP socket delivered a datagram. A ping socket (SOCK_DGRAM) delivers only the
// echo replies that match its own identifier, without IP header, and queues errors apart (see
// parseQueuedError). A raw socket sees every ICMP message for the host, IPv4 ones with their IP
// header, errors included.
enum class SocketKind : std::uint8_t { kDatagram, kRaw };

// The Internet checksum (RFC 1071) of `data`.
std::uint16_t checksum(std::span<const std::uint8_t> data);

// The reason label of an ICMP (IPv4) or ICMPv6 error type and code; nullopt for types that are
// not errors about a datagram we sent.
std::optional<ErrorReason> errorReason(Family family, int type, int code);

// Writes an echo request (the 8-byte header, then `payload`) to the start of `out` and returns
// its length, or 0 when `out` cannot hold kHeaderSize + payload.size() bytes. Only IPv4 raw sockets
// need the checksum from us: the kernel fills it in for ping sockets and for ICMPv6.
std::size_t writeEchoRequest(Family family, SocketKind kind, std::uint16_t ident,
                             std::uint16_t sequence, std::span<const std::uint8_t> payload,
                             std::span<std::uint8_t> out);

struct Packet {
  enum class Kind : std::uint8_t { kIgnored, kEchoReply, kError };
  Kind kind = Kind::kIgnored;
  std::uint16_t sequence = 0;             // kEchoReply
  std::span<const std::uint8_t> payload;  // kEchoReply: the data after the echo header
  int ttl = -1;                           // kEchoReply: from the IPv4 header, when there is one
  IcmpErrorReport error;                  // kError: about our request with error.sequence
};

// Reads one datagram as a socket of `kind` delivered it. `ident` is our echo identifier: raw
// sockets ignore replies and errors about other programs' pings (ping sockets leave that to the
// kernel). Anything truncated, malformed or not ours is kIgnored.
Packet parseDatagram(Family family, SocketKind kind, std::uint16_t ident,
                     std::span<const std::uint8_t> bytes);

// An ICMP error from a ping socket's error queue (IP_RECVERR / IPV6_RECVERR): the error's type
// and code, the address our request went to, and the start of that request as the kernel
// returns it. nullopt when it is not an error about one of our echo requests.
std::optional<IcmpErrorReport> parseQueuedError(Family family, int type, int code,
                                                const IpAddress& target,
                                                std::span<const std::uint8_t> request);

}  // namespace reachmon::core::icmp
