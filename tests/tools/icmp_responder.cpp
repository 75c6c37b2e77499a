// Userspace ICMP/ICMPv6 echo and UDP responder for the integration tests. Runs in a network
// namespace whose kernel echo replies are disabled and answers with a configurable delay,
// deterministic loss, duplicates, forged and corrupted replies. It writes its ground truth (per
// source>destination pair: requests seen, replies sent, requests dropped, duplicates, forgeries,
// corrupted replies, requests answered by corrupted replies only, last TTL/TOS seen, and how long
// it really held the requests it answered) as JSON to --stats after every request, so tests
// compare reachmon's counters and RTTs with what really happened.
//
// Options ("request k" counts the pair's requests from 1; all but --no-icmp take one value):
//   --delay-ms MS         hold every request this long before answering
//   --jitter-ms J         add up to J ms: each answered request's hold is uniformly random
//                         in [MS, MS + J] (so replies may leave out of order); default 0
//   --drop-every N        answer no request k with k % N == 0 (ground truth: dropped)
//   --duplicate-every N   answer request k*N twice, 100 us apart (duplicated)
//   --forge-every N       before answering request k*N, send forgeries (forged): the echo with a
//                         corrupted data byte, and a perfect copy from --forge-from/--forge-from6
//   --corrupt-every N     send a corrupted echo reply to request k*N (corrupted), built by
//   --corrupt-kind K      first|middle|last: flips every bit of the first, middle (at offset
//                         len/2) or last byte of the ICMP data; truncate|extend: one data byte
//                         less (the last) or more (0x5a appended); short: data cut to 8 bytes
//                         (less than reachmon's 12-byte probe identity). Default: middle
//   --corrupt-mode M      before: the corrupted reply goes at once, the real one after the delay
//                         as usual; replace: the corrupted reply goes after the delay INSTEAD of
//                         the real one. Default: before. corrupted_only counts the requests
//                         whose only answers were corrupted (replaced, or dropped after one)
//   --dest ADDR           the behaviour options above that follow, up to the next --dest, apply
//                         only to requests to ADDR; they start from the options given before the
//                         first --dest, which apply to every other destination
//   --forge-from A, --forge-from6 A, --unreachable A4, --stats FILE   (anywhere)
//
// UDP (anywhere; needs no root with --no-icmp and without --udp-closed):
//   --udp-echo PORT       (repeatable) bind 0.0.0.0:PORT and [::]:PORT and echo each datagram's
//                         payload to its sender's address and port, from the address it was
//                         sent to
//   --udp-closed PORT     (repeatable) bind PORT too, so the kernel answers nothing, and answer
//                         each datagram with a crafted ICMP port unreachable (type 3 code 3,
//                         ICMPv6 type 1 code 4) from the address it was sent to, through raw
//                         sockets. The quote is a reconstructed IP header (TOS/traffic class and
//                         TTL/hop limit as received, ID 0, no flags, flow label 0), the UDP
//                         header (checksum over the whole datagram) and the payload's first bytes
//   --quote-bytes N       payload bytes quoted by --udp-closed; 0 is RFC 792's minimum (IP
//                         header and UDP header only). Default: 520 for IPv4 (a 576-byte error,
//                         as Linux sends), 1184 for IPv6 (a 1280-byte error)
//   --unreach-from A4, --unreach-from6 A6   send --udp-closed's errors from this address of
//                         the namespace instead
//   --no-icmp             answer no ICMP echo request; opens raw sockets only for --udp-closed
// The behaviour options apply to UDP datagrams by their destination address (--dest) as to echo
// requests; for --udp-closed, "reply" means the port unreachable. reachmon's datagram is
// "RMUD" (4) | nonce (8) | sequence (2, big-endian) | filler; the kinds change an echo's payload
// (for --udp-closed, the quoted payload; the quoted headers stay as received) as follows:
//   first     flips byte 0, the magic: reachmon sees a datagram that is not its own (a stray)
//   middle    flips byte len/2: the nonce for 8 <= len < 24, the sequence for 24 <= len < 28
//             (the echo then names another probe), the filler from 28
//   last      flips the last byte: the filler (the sequence's low byte when len is 14)
//   truncate, extend   one byte less, or 0x5a appended
//   short     cut to 8 bytes: the magic and half the nonce, no sequence
// A UDP forgery flips payload byte 5 (in the nonce: magic and sequence still name the probe; for
// --udp-closed, quoted byte 5; nothing when there are 5 bytes or fewer); the perfect copy goes
// from --forge-from/--forge-from6 (an address of the namespace) to the same client port, from
// the same server port (for --udp-closed: a port unreachable from that address).
//
// Ground truth keys: "SRC>DST" for ICMP; "udp SRC>DST:DPORT" for UDP (addresses as inet_ntop
// writes them), with the same fields plus "sports", the sorted distinct source ports seen.
// "replied" counts echoes, or port unreachables for --udp-closed ("unreachable" stays 0: it
// counts --unreachable's host unreachables).
//
// The ICMP data of a reply is always the request's own (corrupted as asked): a reply's checksum is
// recomputed here for ICMP and by the kernel for ICMPv6 (raw ICMPv6 sockets always do).
//
// Hold time of an answered request: from the kernel's receive timestamp of the request
// (SO_TIMESTAMPNS; the time it was read if the kernel gave none) to the moment its first reply
// is handed to sendmsg. It includes this process's own scheduling delays, which the configured
// --delay-ms does not. The clock is read just before sendmsg, not after it returns: on veth the
// reply can reach reachmon inside that call, and on a loaded machine the reply's own wake-up of
// reachmon can preempt the responder at the syscall's return; either would count time after the
// reply left into the hold. So reachmon's RTT of a probe is never below its hold time (reachmon
// reads its send time before its own sendmsg), and exceeds it by wire and kernel time only.
#include <arpa/inet.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
// After the glibc headers: linux/icmp.h (ICMP_FILTER) pulls in linux/in6.h.
#include <linux/icmp.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "responder_packet.h"

namespace {

using responder::addrText;
using responder::CorruptKind;
using Clock = std::chrono::steady_clock;

enum class CorruptMode { kBefore, kReplace };

// How requests to one destination are answered.
struct Behaviour {
  double delay_ms = 0;
  double jitter_ms = 0;     // the hold is uniform in [delay_ms, delay_ms + jitter_ms]
  int drop_every = 0;       // drop request number k*N (1-based), per pair
  int duplicate_every = 0;  // answer request k*N twice
  int forge_every = 0;      // before answering request k*N, send forged replies
  int corrupt_every = 0;    // send a corrupted reply to request k*N
  CorruptKind corrupt_kind = CorruptKind::kMiddle;
  CorruptMode corrupt_mode = CorruptMode::kBefore;
};

struct Options {
  Behaviour all;                              // every destination without its own
  std::map<std::string, Behaviour> per_dest;  // by destination address (inet_ntop text)
  std::string forge_from4, forge_from6;
  std::string unreachable4;  // requests to this IPv4 address get "host unreachable" instead
  std::string stats_path;
  bool icmp = true;                                        // answer echo requests (not --no-icmp)
  std::vector<std::uint16_t> udp_echo, udp_closed;         // ports
  std::optional<std::size_t> quote_bytes;                  // --quote-bytes
  std::vector<std::uint8_t> unreach_from4, unreach_from6;  // address bytes, or empty

  const Behaviour& behaviour(const std::string& dst) const {
    const auto it = per_dest.find(dst);
    return it == per_dest.end() ? all : it->second;
  }
};

struct PairStats {
  long requests = 0, replied = 0, dropped = 0, duplicated = 0, forged = 0, unreachable = 0;
  long corrupted = 0;       // corrupted replies sent
  long corrupted_only = 0;  // requests answered by corrupted replies and never by a real one
  int last_ttl = -1, last_tos = -1;
  // Hold times of the answered requests (first replies only), in nanoseconds.
  long hold_count = 0;
  std::int64_t hold_sum_ns = 0, hold_min_ns = -1, hold_max_ns = -1;
  bool udp = false;           // a UDP pair: "sports" is written
  std::set<unsigned> sports;  // UDP: the source ports seen

  void addHold(std::int64_t ns) {
    ++hold_count;
    hold_sum_ns += ns;
    if (hold_min_ns < 0 || ns < hold_min_ns) hold_min_ns = ns;
    if (ns > hold_max_ns) hold_max_ns = ns;
  }
};

// One packet to send: an ICMP echo reply, a UDP echo or an ICMP port unreachable.
struct Reply {
  static constexpr std::size_t kNone = ~std::size_t{0};
  int fd = -1;  // the socket it goes out on
  int family = AF_INET;
  sockaddr_storage to{};
  std::vector<std::uint8_t> local;  // source address of the reply (4 or 16 bytes)
  std::vector<std::uint8_t> bytes;  // full ICMP message, or UDP payload
  bool icmp = true;                 // bytes is an ICMP message (its checksum is ours for IPv4)
  std::size_t data_at = 0;          // where the data that corruptions change starts
  std::size_t forge_at = kNone;     // the byte a forgery flips, if any

  void finish() {
    if (icmp) responder::finishIcmp(bytes, family);
  }
  void corrupt(CorruptKind kind) {
    responder::corrupt(bytes, data_at, kind);
    finish();
  }
  void send() const { responder::sendFrom(fd, family, to, local, bytes); }
};

volatile sig_atomic_t g_stop = 0;  // the only way a signal handler may talk to the loop

std::int64_t realtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// When a packet arrived, on the steady clock: the kernel's timestamp is on the wall clock, so
// only the (short) gap between it and this read is taken from the wall clock.
Clock::time_point receivedAt(msghdr& msg) {
  Clock::time_point received = Clock::now();
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
      timespec ts;
      std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
      const std::int64_t kernel_ns =
          static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
      const std::int64_t waited_ns = realtimeNs() - kernel_ns;
      if (waited_ns > 0) received -= std::chrono::nanoseconds(waited_ns);
    }
  }
  return received;
}

void setOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) < 0) {
    std::fprintf(stderr, "icmp_responder: setsockopt %s: %s\n", what, std::strerror(errno));
    std::exit(1);
  }
}

// A UDP socket bound to the wildcard address of `family` and `port`, with every receive option
// the responder reads.
int openUdp(int family, std::uint16_t port) {
  const int fd = ::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    std::perror("icmp_responder: UDP socket");
    std::exit(1);
  }
  setOption(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1, "SO_TIMESTAMPNS");
  sockaddr_storage addr{};
  socklen_t len;
  if (family == AF_INET) {
    setOption(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO");
    setOption(fd, IPPROTO_IP, IP_RECVTTL, 1, "IP_RECVTTL");
    setOption(fd, IPPROTO_IP, IP_RECVTOS, 1, "IP_RECVTOS");
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    len = sizeof *a;
  } else {
    setOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
    setOption(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO");
    setOption(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, "IPV6_RECVHOPLIMIT");
    setOption(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, 1, "IPV6_RECVTCLASS");
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    len = sizeof *a;
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    std::fprintf(stderr, "icmp_responder: bind UDP port %u (%s): %s\n", port,
                 family == AF_INET ? "IPv4" : "IPv6", std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

class Responder {
 public:
  explicit Responder(Options o) : opt_(std::move(o)), buf_(70000) {
    if (opt_.icmp || !opt_.udp_closed.empty()) openRaw();
    for (std::uint16_t port : opt_.udp_echo) {
      for (int family : {AF_INET, AF_INET6})
        sockets_.push_back({openUdp(family, port), family, Socket::kUdpEcho, port});
    }
    for (std::uint16_t port : opt_.udp_closed) {
      for (int family : {AF_INET, AF_INET6})
        sockets_.push_back({openUdp(family, port), family, Socket::kUdpClosed, port});
    }
    for (const Socket& s : sockets_) pollfds_.push_back({s.fd, POLLIN, 0});
    writeStats();
  }

  void run() {
    while (!g_stop) {
      std::chrono::nanoseconds wait = std::chrono::milliseconds(100);
      if (!queue_.empty())
        wait = std::clamp<std::chrono::nanoseconds>(queue_.begin()->first - Clock::now(),
                                                    std::chrono::nanoseconds(0), wait);
      const timespec ts{0, static_cast<long>(wait.count())};
      ::ppoll(pollfds_.data(), pollfds_.size(), &ts, nullptr);
      for (std::size_t i = 0; i < pollfds_.size(); ++i) {
        if (!(pollfds_[i].revents & POLLIN)) continue;
        if (sockets_[i].kind == Socket::kIcmp)
          receiveIcmp(sockets_[i].fd, sockets_[i].family);
        else
          receiveUdp(sockets_[i]);
      }
      flushDue();
    }
    writeStats();
  }

 private:
  struct Socket {
    int fd;
    int family;
    enum Kind { kIcmp, kUdpEcho, kUdpClosed } kind;
    std::uint16_t port;  // UDP: the bound port
  };

  // The raw ICMP and ICMPv6 sockets: polled for echo requests, unless --no-icmp; then they only
  // send port unreachables, and filters keep every ICMP packet out of their receive queues.
  void openRaw() {
    fd4_ = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    fd6_ = ::socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (fd4_ < 0 || fd6_ < 0) {
      std::perror("icmp_responder: raw socket (needs root)");
      std::exit(1);
    }
    const int one = 1;
    const int dont = IP_PMTUDISC_DONT;  // answer big requests with fragmented replies
    ::setsockopt(fd4_, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont);
    if (!opt_.icmp) {
      const icmp_filter none{~0u};
      icmp6_filter none6;
      ICMP6_FILTER_SETBLOCKALL(&none6);
      ::setsockopt(fd4_, SOL_RAW, ICMP_FILTER, &none, sizeof none);
      ::setsockopt(fd6_, IPPROTO_ICMPV6, ICMP6_FILTER, &none6, sizeof none6);
      return;
    }
    for (int fd : {fd4_, fd6_}) ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    ::setsockopt(fd6_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    ::setsockopt(fd6_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
    ::setsockopt(fd6_, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
    sockets_.push_back({fd4_, AF_INET, Socket::kIcmp, 0});
    sockets_.push_back({fd6_, AF_INET6, Socket::kIcmp, 0});
  }

  // Reads one packet into buf_; its length, or nullopt if there was none.
  std::optional<std::size_t> read(int fd, msghdr& msg, sockaddr_storage& from,
                                  std::uint8_t (&control)[256]) {
    iov_ = {buf_.data(), buf_.size()};
    msg = {};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov_;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0) return std::nullopt;
    return static_cast<std::size_t>(n);
  }

  void receiveIcmp(int fd, int family) {
    sockaddr_storage from{};
    alignas(cmsghdr) std::uint8_t control[256];
    msghdr msg;
    const auto got = read(fd, msg, from, control);
    if (!got || *got == 0) return;
    std::size_t len = *got;
    const Clock::time_point received = receivedAt(msg);
    const std::uint8_t* buf = buf_.data();
    const std::uint8_t* icmp = buf;
    Reply reply;
    reply.fd = fd;
    reply.family = family;
    reply.to = from;
    reply.data_at = 8;
    int ttl = -1, tos = -1;
    std::string src, dst;
    if (family == AF_INET) {
      const std::size_t ihl = std::size_t{buf[0] & 0x0fu} * 4;
      if (len < ihl + 8) return;
      tos = buf[1];
      ttl = buf[8];
      src = addrText(AF_INET, buf + 12);
      dst = addrText(AF_INET, buf + 16);
      reply.local.assign(buf + 16, buf + 20);
      if (buf[ihl] != 8) return;
      if (!opt_.unreachable4.empty() && dst == opt_.unreachable4) {
        // ICMP host unreachable quoting the request's IP header and up to 520 bytes after it.
        PairStats& st = stats_[src + ">" + dst];
        ++st.requests;
        ++st.unreachable;
        const std::size_t quoted = std::min<std::size_t>(len, ihl + 520);
        reply.bytes.assign(8, 0);
        reply.bytes[0] = 3;
        reply.bytes[1] = 1;
        reply.bytes.insert(reply.bytes.end(), buf, buf + quoted);
        reply.finish();
        reply.send();
        writeStats();
        return;
      }
      icmp += ihl;
      len -= ihl;
    } else {
      if (len < 8 || icmp[0] != 128) return;
      src = addrText(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&from)->sin6_addr);
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_PKTINFO) {
          in6_pktinfo info;
          std::memcpy(&info, CMSG_DATA(c), sizeof info);
          reply.local.assign(reinterpret_cast<std::uint8_t*>(&info.ipi6_addr),
                             reinterpret_cast<std::uint8_t*>(&info.ipi6_addr) + 16);
          dst = addrText(AF_INET6, &info.ipi6_addr);
        } else if (c->cmsg_type == IPV6_HOPLIMIT) {
          std::memcpy(&ttl, CMSG_DATA(c), sizeof ttl);
        } else if (c->cmsg_type == IPV6_TCLASS) {
          std::memcpy(&tos, CMSG_DATA(c), sizeof tos);
        }
      }
      if (reply.local.empty()) return;
    }
    PairStats& st = stats_[src + ">" + dst];
    ++st.requests;
    st.last_ttl = ttl;
    st.last_tos = tos;
    reply.bytes.assign(icmp, icmp + len);
    reply.bytes[0] = family == AF_INET ? 0 : 129;
    if (reply.bytes.size() > 12) reply.forge_at = 9;  // data byte 1
    reply.finish();
    answer(std::move(reply), st, opt_.behaviour(dst), received);
  }

  void receiveUdp(const Socket& s) {
    sockaddr_storage from{};
    alignas(cmsghdr) std::uint8_t control[256];
    msghdr msg;
    const auto got = read(s.fd, msg, from, control);
    if (!got || (msg.msg_flags & MSG_TRUNC)) return;
    const std::size_t len = *got;
    const Clock::time_point received = receivedAt(msg);
    responder::Datagram d;
    d.family = s.family;
    d.dport = s.port;
    d.payload = {buf_.data(), len};
    const std::size_t alen = s.family == AF_INET ? 4 : 16;
    bool have_dst = false;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
        in_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        std::memcpy(d.dst, &info.ipi_addr, 4);
        have_dst = true;
      } else if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TTL) ||
                 (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_HOPLIMIT)) {
        std::memcpy(&d.ttl, CMSG_DATA(c), sizeof d.ttl);  // an int for both
      } else if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) {
        d.tos = *CMSG_DATA(c);  // one byte
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
        in6_pktinfo info;
        std::memcpy(&info, CMSG_DATA(c), sizeof info);
        std::memcpy(d.dst, &info.ipi6_addr, 16);
        have_dst = true;
      } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS) {
        std::memcpy(&d.tos, CMSG_DATA(c), sizeof d.tos);
      }
    }
    if (!have_dst) return;
    if (s.family == AF_INET) {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&from);
      std::memcpy(d.src, &a->sin_addr, 4);
      d.sport = ntohs(a->sin_port);
    } else {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&from);
      std::memcpy(d.src, &a->sin6_addr, 16);
      d.sport = ntohs(a->sin6_port);
    }
    const std::string dst = addrText(s.family, d.dst);
    PairStats& st =
        stats_["udp " + addrText(s.family, d.src) + ">" + dst + ":" + std::to_string(s.port)];
    st.udp = true;
    st.sports.insert(d.sport);
    ++st.requests;
    st.last_ttl = d.ttl;
    st.last_tos = d.tos;

    Reply reply;
    reply.family = s.family;
    reply.to = from;
    reply.local.assign(d.dst, d.dst + alen);
    if (s.kind == Socket::kUdpEcho) {
      reply.fd = s.fd;
      reply.icmp = false;
      reply.bytes.assign(d.payload.begin(), d.payload.end());
      reply.data_at = 0;
    } else {
      reply.fd = s.family == AF_INET ? fd4_ : fd6_;
      // Raw sockets: no port (raw IPv6 sockets refuse any but 0 or their protocol).
      if (s.family == AF_INET)
        reinterpret_cast<sockaddr_in*>(&reply.to)->sin_port = 0;
      else
        reinterpret_cast<sockaddr_in6*>(&reply.to)->sin6_port = 0;
      const auto& other = s.family == AF_INET ? opt_.unreach_from4 : opt_.unreach_from6;
      if (!other.empty()) reply.local = other;
      const std::size_t quote =
          opt_.quote_bytes.value_or(s.family == AF_INET ? 520 : 1280 - 40 - 8 - 40 - 8);
      reply.bytes = responder::portUnreachable(d, quote);
      reply.data_at = responder::quotedPayloadAt(s.family);
    }
    if (reply.bytes.size() > reply.data_at + 5) reply.forge_at = reply.data_at + 5;  // the nonce
    answer(std::move(reply), st, opt_.behaviour(dst), received);
  }

  // Applies the behaviour to request number st.requests, whose perfect answer is `reply`.
  void answer(Reply reply, PairStats& st, const Behaviour& b, Clock::time_point received) {
    const long k = st.requests;
    if (b.forge_every && k % b.forge_every == 0) forge(reply, st);
    const bool corrupted = b.corrupt_every && k % b.corrupt_every == 0;
    const bool dropped = b.drop_every && k % b.drop_every == 0;
    if (corrupted && b.corrupt_mode == CorruptMode::kBefore) {
      Reply bad = reply;
      bad.corrupt(b.corrupt_kind);
      bad.send();
      ++st.corrupted;
      if (dropped) ++st.corrupted_only;
    }
    if (dropped) {
      ++st.dropped;
    } else {
      double hold_ms = b.delay_ms;
      if (b.jitter_ms > 0) hold_ms += std::uniform_real_distribution<double>(0, b.jitter_ms)(rng_);
      const auto due = Clock::now() + std::chrono::microseconds(static_cast<long>(hold_ms * 1000));
      if (corrupted && b.corrupt_mode == CorruptMode::kReplace) {
        reply.corrupt(b.corrupt_kind);
        queue_.emplace(due, Queued{std::move(reply), &st, received, Queued::kReplacement});
      } else {
        if (b.duplicate_every && k % b.duplicate_every == 0) {
          queue_.emplace(due + std::chrono::microseconds(100),
                         Queued{reply, &st, received, Queued::kDuplicate});
        }
        queue_.emplace(due, Queued{std::move(reply), &st, received});
      }
    }
    writeStats();
  }

  // Two forgeries, sent at once so they arrive before the real reply: the right probe's echo
  // with a corrupted payload, and (if --forge-from is set) a perfect copy from another address.
  void forge(const Reply& real, PairStats& st) {
    Reply bad = real;
    if (bad.forge_at < bad.bytes.size()) bad.bytes[bad.forge_at] ^= 0xff;
    bad.finish();
    bad.send();
    ++st.forged;
    const std::string& from = real.family == AF_INET ? opt_.forge_from4 : opt_.forge_from6;
    if (from.empty()) return;
    Reply other = real;
    std::uint8_t addr[16];
    if (inet_pton(real.family, from.c_str(), addr) != 1) return;
    other.local.assign(addr, addr + (real.family == AF_INET ? 4 : 16));
    other.send();
    ++st.forged;
  }

  void flushDue() {
    const auto now = Clock::now();
    bool dirty = false;
    while (!queue_.empty() && queue_.begin()->first <= now) {
      Queued q = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      const auto handed = Clock::now();  // before sendmsg: see the comment at the top
      q.reply.send();
      if (q.what == Queued::kDuplicate) {
        ++q.stats->duplicated;
      } else if (q.what == Queued::kReplacement) {
        ++q.stats->corrupted;
        ++q.stats->corrupted_only;
      } else {
        ++q.stats->replied;
        q.stats->addHold(
            std::chrono::duration_cast<std::chrono::nanoseconds>(handed - q.received).count());
      }
      dirty = true;
    }
    if (dirty) writeStats();
  }

  void writeStats() {
    if (opt_.stats_path.empty()) return;
    const std::string tmp = opt_.stats_path + ".tmp";
    {
      std::ofstream out(tmp);
      out << "{";
      bool first = true;
      for (const auto& [pair, s] : stats_) {
        out << (first ? "" : ",") << "\n  \"" << pair << "\": {\"requests\": " << s.requests
            << ", \"replied\": " << s.replied << ", \"dropped\": " << s.dropped
            << ", \"duplicated\": " << s.duplicated << ", \"forged\": " << s.forged
            << ", \"unreachable\": " << s.unreachable << ", \"corrupted\": " << s.corrupted
            << ", \"corrupted_only\": " << s.corrupted_only << ", \"last_ttl\": " << s.last_ttl
            << ", \"last_tos\": " << s.last_tos << ", \"hold_count\": " << s.hold_count
            << ", \"hold_sum_ns\": " << s.hold_sum_ns << ", \"hold_min_ns\": " << s.hold_min_ns
            << ", \"hold_max_ns\": " << s.hold_max_ns;
        if (s.udp) {
          out << ", \"sports\": [";
          for (auto it = s.sports.begin(); it != s.sports.end(); ++it)
            out << (it == s.sports.begin() ? "" : ", ") << *it;
          out << "]";
        }
        out << "}";
        first = false;
      }
      out << "\n}\n";
    }
    std::rename(tmp.c_str(), opt_.stats_path.c_str());
  }

  struct Queued {
    Reply reply;
    PairStats* stats;
    enum What { kReply, kDuplicate, kReplacement };  // kReplacement: corrupted, not the reply
    Clock::time_point received;                      // when the kernel received the request
    What what = kReply;
  };
  Options opt_;
  int fd4_ = -1, fd6_ = -1;      // raw ICMP / ICMPv6, or -1
  std::vector<Socket> sockets_;  // polled, in the order of pollfds_
  std::vector<pollfd> pollfds_;
  std::vector<std::uint8_t> buf_;  // the packet read last
  iovec iov_{};
  std::map<std::string, PairStats> stats_;
  std::multimap<Clock::time_point, Queued> queue_;
  std::mt19937 rng_{std::random_device{}()};  // --jitter-ms
};

// The inet_ntop text of an IPv4 or IPv6 address (as the responder names destinations), or "".
std::string canonicalAddress(const std::string& text) {
  std::uint8_t a[16];
  if (inet_pton(AF_INET, text.c_str(), a) == 1) return addrText(AF_INET, a);
  if (inet_pton(AF_INET6, text.c_str(), a) == 1) return addrText(AF_INET6, a);
  return "";
}

// A decimal number in [lo, hi] (the whole text), or nullopt.
std::optional<unsigned long> number(const std::string& v, unsigned long lo, unsigned long hi) {
  char* end = nullptr;
  errno = 0;
  const unsigned long n = std::strtoul(v.c_str(), &end, 10);
  if (v.empty() || v[0] == '-' || *end || errno || n < lo || n > hi) return std::nullopt;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  Behaviour* b = &o.all;  // where behaviour options go: every destination, or the last --dest
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--no-icmp") {
      o.icmp = false;
      continue;
    }
    if (i + 1 == argc) {
      std::fprintf(stderr, "icmp_responder: option %s needs a value\n", k.c_str());
      return 2;
    }
    const std::string v = argv[++i];
    if (k == "--delay-ms")
      b->delay_ms = std::stod(v);
    else if (k == "--jitter-ms") {
      b->jitter_ms = std::stod(v);
      if (!(b->jitter_ms >= 0)) {
        std::fprintf(stderr, "icmp_responder: --jitter-ms %s is negative\n", v.c_str());
        return 2;
      }
    } else if (k == "--drop-every")
      b->drop_every = std::stoi(v);
    else if (k == "--duplicate-every")
      b->duplicate_every = std::stoi(v);
    else if (k == "--forge-every")
      b->forge_every = std::stoi(v);
    else if (k == "--corrupt-every")
      b->corrupt_every = std::stoi(v);
    else if (k == "--corrupt-kind") {
      static const std::map<std::string, CorruptKind> kinds = {
          {"first", CorruptKind::kFirst},   {"middle", CorruptKind::kMiddle},
          {"last", CorruptKind::kLast},     {"truncate", CorruptKind::kTruncate},
          {"extend", CorruptKind::kExtend}, {"short", CorruptKind::kShort}};
      const auto it = kinds.find(v);
      if (it == kinds.end()) {
        std::fprintf(stderr, "icmp_responder: unknown --corrupt-kind %s\n", v.c_str());
        return 2;
      }
      b->corrupt_kind = it->second;
    } else if (k == "--corrupt-mode") {
      if (v != "before" && v != "replace") {
        std::fprintf(stderr, "icmp_responder: unknown --corrupt-mode %s\n", v.c_str());
        return 2;
      }
      b->corrupt_mode = v == "before" ? CorruptMode::kBefore : CorruptMode::kReplace;
    } else if (k == "--dest") {
      const std::string dst = canonicalAddress(v);
      if (dst.empty()) {
        std::fprintf(stderr, "icmp_responder: --dest %s is not an IP address\n", v.c_str());
        return 2;
      }
      b = &o.per_dest.emplace(dst, o.all).first->second;
    } else if (k == "--forge-from")
      o.forge_from4 = v;
    else if (k == "--forge-from6")
      o.forge_from6 = v;
    else if (k == "--stats")
      o.stats_path = v;
    else if (k == "--unreachable")
      o.unreachable4 = v;
    else if (k == "--udp-echo" || k == "--udp-closed") {
      const auto port = number(v, 1, 65535);
      if (!port) {
        std::fprintf(stderr, "icmp_responder: %s %s is not a port\n", k.c_str(), v.c_str());
        return 2;
      }
      (k == "--udp-echo" ? o.udp_echo : o.udp_closed).push_back(static_cast<std::uint16_t>(*port));
    } else if (k == "--quote-bytes") {
      const auto n = number(v, 0, 65535);
      if (!n) {
        std::fprintf(stderr, "icmp_responder: --quote-bytes %s is not a count\n", v.c_str());
        return 2;
      }
      o.quote_bytes = *n;
    } else if (k == "--unreach-from" || k == "--unreach-from6") {
      const int family = k == "--unreach-from" ? AF_INET : AF_INET6;
      std::uint8_t a[16];
      if (inet_pton(family, v.c_str(), a) != 1) {
        std::fprintf(stderr, "icmp_responder: %s %s is not an address\n", k.c_str(), v.c_str());
        return 2;
      }
      (family == AF_INET ? o.unreach_from4 : o.unreach_from6)
          .assign(a, a + (family == AF_INET ? 4 : 16));
    } else {
      std::fprintf(stderr, "icmp_responder: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  struct sigaction sa {};
  sa.sa_handler = [](int) { g_stop = 1; };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  Responder(o).run();
  return 0;
}
