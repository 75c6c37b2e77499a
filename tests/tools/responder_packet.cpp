#include "responder_packet.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace responder {
namespace {

// The one's-complement sum of n bytes added to s, not folded; n may be odd only for the last
// piece of a checksummed range.
std::uint32_t sum(std::uint32_t s, const std::uint8_t* d, std::size_t n) {
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(d[i] << 8 | d[i + 1]);
  if (n & 1) s += static_cast<std::uint32_t>(d[n - 1] << 8);
  return s;
}

std::uint16_t fold(std::uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

void put16(std::uint8_t* p, std::size_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

}  // namespace

std::uint16_t checksum(const std::uint8_t* d, std::size_t n) { return fold(sum(0, d, n)); }

std::string addrText(int family, const void* a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, a, buf, sizeof buf);
  return buf;
}

void finishIcmp(std::vector<std::uint8_t>& icmp, int family) {
  icmp[2] = icmp[3] = 0;
  if (family == AF_INET) put16(&icmp[2], checksum(icmp.data(), icmp.size()));
}

void corrupt(std::vector<std::uint8_t>& bytes, std::size_t at, CorruptKind kind) {
  const std::size_t data = bytes.size() - at;
  switch (kind) {
    case CorruptKind::kFirst:
    case CorruptKind::kMiddle:
    case CorruptKind::kLast:
      if (data == 0) {  // nothing to flip: a byte more is corrupted too
        bytes.push_back(0x5a);
        break;
      }
      bytes[at + (kind == CorruptKind::kFirst    ? 0
                  : kind == CorruptKind::kMiddle ? data / 2
                                                 : data - 1)] ^= 0xff;
      break;
    case CorruptKind::kTruncate:
      if (data == 0)
        bytes.push_back(0x5a);
      else
        bytes.pop_back();
      break;
    case CorruptKind::kExtend:
      bytes.push_back(0x5a);
      break;
    case CorruptKind::kShort:
      bytes.resize(data > 8 ? at + 8 : at + data + 1, 0x5a);
      break;
  }
}

std::size_t quotedPayloadAt(int family) { return 8 + (family == AF_INET ? 20 : 40) + 8; }

std::vector<std::uint8_t> portUnreachable(const Datagram& d, std::size_t quote_bytes) {
  const bool v4 = d.family == AF_INET;
  const std::size_t alen = v4 ? 4 : 16, ip = v4 ? 20 : 40;
  const std::size_t udp_len = 8 + d.payload.size();
  const std::size_t quoted = std::min(d.payload.size(), quote_bytes);
  std::vector<std::uint8_t> m(8 + ip + 8 + quoted, 0);
  m[0] = v4 ? 3 : 1;  // destination unreachable
  m[1] = v4 ? 3 : 4;  // port unreachable
  std::uint8_t* h = &m[8];
  if (v4) {
    h[0] = 0x45;
    h[1] = static_cast<std::uint8_t>(d.tos);
    put16(h + 2, ip + udp_len);
    h[8] = static_cast<std::uint8_t>(d.ttl);
    h[9] = IPPROTO_UDP;
    std::memcpy(h + 12, d.src, 4);
    std::memcpy(h + 16, d.dst, 4);
    put16(h + 10, checksum(h, ip));
  } else {
    h[0] = static_cast<std::uint8_t>(0x60 | (d.tos >> 4 & 0x0f));
    h[1] = static_cast<std::uint8_t>((d.tos & 0x0f) << 4);  // flow label 0
    put16(h + 4, udp_len);
    h[6] = IPPROTO_UDP;
    h[7] = static_cast<std::uint8_t>(d.ttl);
    std::memcpy(h + 8, d.src, 16);
    std::memcpy(h + 24, d.dst, 16);
  }
  std::uint8_t* u = h + ip;
  put16(u, d.sport);
  put16(u + 2, d.dport);
  put16(u + 4, udp_len);
  // UDP checksum: pseudo-header (src, dst, zero + protocol, length; the same sum for the IPv4
  // 16-bit and the IPv6 32-bit length), the UDP header with checksum 0, the whole payload.
  std::uint32_t s = sum(sum(0, d.src, alen), d.dst, alen) + IPPROTO_UDP;
  s += static_cast<std::uint32_t>(udp_len >> 16) + static_cast<std::uint32_t>(udp_len & 0xffff);
  s = sum(sum(s, u, 8), d.payload.data(), d.payload.size());
  const std::uint16_t c = fold(s);
  put16(u + 6, c == 0 ? 0xffff : c);  // 0 would mean "no checksum"
  std::copy_n(d.payload.begin(), quoted, u + 8);
  finishIcmp(m, d.family);
  return m;
}

void sendFrom(int fd, int family, const sockaddr_storage& to,
              const std::vector<std::uint8_t>& local, const std::vector<std::uint8_t>& bytes) {
  iovec iov{const_cast<std::uint8_t*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) std::uint8_t control[64] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&to);
  msg.msg_namelen = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (family == AF_INET) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, local.data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    msg.msg_controllen = CMSG_SPACE(sizeof info);
  } else {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, local.data(), 16);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    msg.msg_controllen = CMSG_SPACE(sizeof info);
  }
  if (::sendmsg(fd, &msg, 0) < 0) std::perror("icmp_responder: sendmsg");
}

}  // namespace responder
