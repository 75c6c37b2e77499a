// The datagram of a UDP probe as bytes: what it carries so that its echo, or the ICMP error it
// draws, names exactly one probe. Pure functions, unit-tested in tests/udp_probe_test.cpp; the
// engines (Linux UdpSocket, Windows UdpTransport) do only the I/O around them.
//
// Layout: "RMUD" (4) | nonce (8, as ProbeCore writes it) | sequence (2, big-endian) | filler.
// UDP has no header of ours, so the sequence travels in the datagram. The quote of an ICMP error
// holds at least this header whenever the sender quotes more than the RFC 792 minimum.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "reachmon/core/address.h"
#include "transport.h"

namespace reachmon::core::udp {

inline constexpr std::uint8_t kMagic[4] = {'R', 'M', 'U', 'D'};
inline constexpr std::size_t kNonceAt = 4;
inline constexpr std::size_t kSequenceAt = 12;
inline constexpr std::size_t kHeaderSize = 14;

// Writes magic, nonce and sequence to the start of `datagram` (at least kHeaderSize bytes).
void writeHeader(std::span<std::uint8_t> datagram, std::uint64_t nonce, std::uint16_t sequence);

// The sequence of a datagram (an echo, or the quote in an ICMP error) that starts with our
// header; nullopt when it is too short or not ours.
std::optional<std::uint16_t> sequenceOf(std::span<const std::uint8_t> datagram);

// True for "port unreachable": ICMP type 3 code 3, ICMPv6 type 1 code 4.
bool isPortUnreachable(Family family, int type, int code);

// An ICMP error from a UDP socket's error queue (IP_RECVERR / IPV6_RECVERR): its type and code,
// the destination address and port of the datagram that drew it, and the datagram's payload as
// quoted (possibly truncated). nullopt for types that are not errors about a datagram we sent.
// `sequence` and `quoted` are filled from the quote; ProbeCore validates them.
std::optional<IcmpErrorReport> parseQueuedError(Family family, int type, int code,
                                                const IpAddress& target, std::uint16_t port,
                                                std::span<const std::uint8_t> quoted);

}  // namespace reachmon::core::udp
