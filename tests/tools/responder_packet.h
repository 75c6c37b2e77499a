// Packet building for tests/tools/icmp_responder.cpp: checksums, the corruptions it applies to
// replies, the ICMP port unreachable it crafts for --udp-closed, and sending a packet from a
// chosen source address. No state; everything here is a pure function except sendFrom().
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace responder {

enum class CorruptKind { kFirst, kMiddle, kLast, kTruncate, kExtend, kShort };

// The Internet checksum (RFC 1071) of n bytes.
std::uint16_t checksum(const std::uint8_t* d, std::size_t n);

// The inet_ntop text of a 4- or 16-byte address.
std::string addrText(int family, const void* a);

// Sets the checksum of a complete ICMP message (bytes 2-3); ICMPv6 checksums are left 0, since
// the kernel computes them for raw ICMPv6 sockets itself.
void finishIcmp(std::vector<std::uint8_t>& icmp, int family);

// Corrupts the data that starts at `at` in `bytes` (8: the ICMP data of an echo; 0: a UDP
// payload): first|middle|last flip every bit of that byte (at data/2 for middle), or append 0x5a
// when there is no data; truncate drops the last byte (appends 0x5a when there is no data);
// extend appends 0x5a; short cuts the data to 8 bytes (to data + 0x5a when it has 8 or fewer).
// Checksums are the caller's.
void corrupt(std::vector<std::uint8_t>& bytes, std::size_t at, CorruptKind kind);

// A UDP datagram as the responder received it.
struct Datagram {
  int family = AF_INET;
  std::uint8_t src[16] = {}, dst[16] = {};  // 4 bytes used for AF_INET
  std::uint16_t sport = 0, dport = 0;
  int ttl = 0, tos = 0;  // TTL / hop limit and TOS / traffic class, as received
  std::span<const std::uint8_t> payload;
};

// Where the quoted UDP payload starts in portUnreachable()'s message: ICMP header (8), the
// reconstructed IPv4 (20) or IPv6 (40) header, the UDP header (8).
std::size_t quotedPayloadAt(int family);

// A complete ICMP port unreachable (type 3 code 3) or ICMPv6 one (type 1 code 4) about `d`: the
// ICMP header, then a reconstructed IP header (IPv4: version 4, IHL 5, TOS and TTL as received,
// total length, ID 0, no flags, protocol 17, header checksum; IPv6: traffic class and hop limit
// as received, flow label 0, payload length, next header 17), then the UDP header with its
// checksum computed over the whole datagram, then the first min(payload, quote_bytes) payload
// bytes. The ICMP checksum is set (finishIcmp).
std::vector<std::uint8_t> portUnreachable(const Datagram& d, std::size_t quote_bytes);

// Sends `bytes` on fd to `to`, from the local address `local` (4 or 16 bytes, through
// IP_PKTINFO / IPV6_PKTINFO), for raw ICMP and UDP sockets alike. Reports failures on stderr.
void sendFrom(int fd, int family, const sockaddr_storage& to,
              const std::vector<std::uint8_t>& local, const std::vector<std::uint8_t>& bytes);

}  // namespace responder
