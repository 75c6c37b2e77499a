// Userspace ICMP/ICMPv6 echo responder for the integration tests. Runs in a network namespace
// whose kernel echo replies are disabled and answers with a configurable delay, deterministic
// loss, duplicates, forged and corrupted replies. It writes its ground truth (per
// source>destination pair: requests seen, replies sent, requests dropped, duplicates, forgeries,
// corrupted replies, requests answered by corrupted replies only, last TTL/TOS seen, and how long
// it really held the requests it answered) as JSON to --stats after every request, so tests
// compare reachmon's counters and RTTs with what really happened.
//
// Options (each takes one value; "request k" counts the pair's requests from 1):
//   --delay-ms MS         hold every request this long before answering
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
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class CorruptKind { kFirst, kMiddle, kLast, kTruncate, kExtend, kShort };
enum class CorruptMode { kBefore, kReplace };

// How requests to one destination are answered.
struct Behaviour {
  double delay_ms = 0;
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

  void addHold(std::int64_t ns) {
    ++hold_count;
    hold_sum_ns += ns;
    if (hold_min_ns < 0 || ns < hold_min_ns) hold_min_ns = ns;
    if (ns > hold_max_ns) hold_max_ns = ns;
  }
};

struct Reply {
  int family;
  sockaddr_storage to;
  std::vector<std::uint8_t> local;  // source address of the reply (4 or 16 bytes)
  std::vector<std::uint8_t> icmp;   // full ICMP message
};

volatile sig_atomic_t g_stop = 0;  // the only way a signal handler may talk to the loop

std::uint16_t checksum(const std::uint8_t* d, std::size_t n) {
  std::uint32_t s = 0;
  for (std::size_t i = 0; i + 1 < n; i += 2) s += static_cast<std::uint32_t>(d[i] << 8 | d[i + 1]);
  if (n & 1) s += static_cast<std::uint32_t>(d[n - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return static_cast<std::uint16_t>(~s);
}

std::int64_t realtimeNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

std::string addrText(int family, const void* a) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, a, buf, sizeof buf);
  return buf;
}

void send(int fd, const Reply& r) {
  iovec iov{const_cast<std::uint8_t*>(r.icmp.data()), r.icmp.size()};
  alignas(cmsghdr) std::uint8_t control[64] = {};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr_storage*>(&r.to);
  msg.msg_namelen = r.family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  cmsghdr* c = reinterpret_cast<cmsghdr*>(control);
  if (r.family == AF_INET) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, r.local.data(), 4);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    msg.msg_controllen = CMSG_SPACE(sizeof info);
  } else {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, r.local.data(), 16);
    c->cmsg_level = IPPROTO_IPV6;
    c->cmsg_type = IPV6_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof info);
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
    msg.msg_controllen = CMSG_SPACE(sizeof info);
  }
  if (::sendmsg(fd, &msg, 0) < 0) std::perror("icmp_responder: sendmsg");
}

void finishIcmp(Reply& r) {
  r.icmp[2] = r.icmp[3] = 0;
  if (r.family == AF_INET) {  // the kernel computes ICMPv6 checksums itself
    const std::uint16_t s = checksum(r.icmp.data(), r.icmp.size());
    r.icmp[2] = static_cast<std::uint8_t>(s >> 8);
    r.icmp[3] = static_cast<std::uint8_t>(s);
  }
}

// Corrupts the ICMP data (after the 8-byte header) of an echo reply and recomputes its checksum.
void corrupt(Reply& r, CorruptKind kind) {
  constexpr std::size_t kHeader = 8;
  const std::size_t data = r.icmp.size() - kHeader;
  switch (kind) {
    case CorruptKind::kFirst:
    case CorruptKind::kMiddle:
    case CorruptKind::kLast:
      if (data == 0) {  // nothing to flip: a byte more is corrupted too
        r.icmp.push_back(0x5a);
        break;
      }
      r.icmp[kHeader + (kind == CorruptKind::kFirst    ? 0
                        : kind == CorruptKind::kMiddle ? data / 2
                                                       : data - 1)] ^= 0xff;
      break;
    case CorruptKind::kTruncate:
      if (data == 0)
        r.icmp.push_back(0x5a);
      else
        r.icmp.pop_back();
      break;
    case CorruptKind::kExtend:
      r.icmp.push_back(0x5a);
      break;
    case CorruptKind::kShort:
      r.icmp.resize(data > 8 ? kHeader + 8 : kHeader + data + 1, 0x5a);
      break;
  }
  finishIcmp(r);
}

class Responder {
 public:
  explicit Responder(Options o) : opt_(std::move(o)) {
    fd4_ = ::socket(AF_INET, SOCK_RAW, IPPROTO_ICMP);
    fd6_ = ::socket(AF_INET6, SOCK_RAW, IPPROTO_ICMPV6);
    if (fd4_ < 0 || fd6_ < 0) {
      std::perror("icmp_responder: raw socket (needs root)");
      std::exit(1);
    }
    const int one = 1;
    const int dont = IP_PMTUDISC_DONT;  // answer big requests with fragmented replies
    ::setsockopt(fd4_, IPPROTO_IP, IP_MTU_DISCOVER, &dont, sizeof dont);
    for (int fd : {fd4_, fd6_}) ::setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    ::setsockopt(fd6_, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one);
    ::setsockopt(fd6_, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one);
    ::setsockopt(fd6_, IPPROTO_IPV6, IPV6_RECVTCLASS, &one, sizeof one);
    writeStats();
  }

  void run() {
    while (!g_stop) {
      std::chrono::nanoseconds wait = std::chrono::milliseconds(100);
      if (!queue_.empty())
        wait = std::clamp<std::chrono::nanoseconds>(queue_.begin()->first - Clock::now(),
                                                    std::chrono::nanoseconds(0), wait);
      const timespec ts{0, static_cast<long>(wait.count())};
      pollfd fds[2] = {{fd4_, POLLIN, 0}, {fd6_, POLLIN, 0}};
      ::ppoll(fds, 2, &ts, nullptr);
      if (fds[0].revents & POLLIN) receive(fd4_, AF_INET);
      if (fds[1].revents & POLLIN) receive(fd6_, AF_INET6);
      flushDue();
    }
    writeStats();
  }

 private:
  void receive(int fd, int family) {
    std::uint8_t buf[70000];
    sockaddr_storage from{};
    alignas(cmsghdr) std::uint8_t control[256];
    iovec iov{buf, sizeof buf};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof from;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n <= 0) return;
    // When the request arrived, on the steady clock: the kernel's timestamp is on the wall
    // clock, so only the (short) gap between it and this read is taken from the wall clock.
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
    std::size_t len = static_cast<std::size_t>(n);
    const std::uint8_t* icmp = buf;
    Reply reply;
    reply.family = family;
    reply.to = from;
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
        reply.icmp.assign(8, 0);
        reply.icmp[0] = 3;
        reply.icmp[1] = 1;
        reply.icmp.insert(reply.icmp.end(), buf, buf + quoted);
        finishIcmp(reply);
        send(fd, reply);
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
    const Behaviour& b = opt_.behaviour(dst);
    ++st.requests;
    st.last_ttl = ttl;
    st.last_tos = tos;
    reply.icmp.assign(icmp, icmp + len);
    reply.icmp[0] = family == AF_INET ? 0 : 129;
    finishIcmp(reply);
    const long k = st.requests;
    if (b.forge_every && k % b.forge_every == 0) forge(fd, reply, st);
    const bool corrupted = b.corrupt_every && k % b.corrupt_every == 0;
    const bool dropped = b.drop_every && k % b.drop_every == 0;
    if (corrupted && b.corrupt_mode == CorruptMode::kBefore) {
      Reply bad = reply;
      corrupt(bad, b.corrupt_kind);
      send(fd, bad);
      ++st.corrupted;
      if (dropped) ++st.corrupted_only;
    }
    if (dropped) {
      ++st.dropped;
    } else {
      const auto due =
          Clock::now() + std::chrono::microseconds(static_cast<long>(b.delay_ms * 1000));
      if (corrupted && b.corrupt_mode == CorruptMode::kReplace) {
        Reply bad = reply;
        corrupt(bad, b.corrupt_kind);
        queue_.emplace(due, Queued{fd, std::move(bad), &st, received, Queued::kReplacement});
      } else {
        queue_.emplace(due, Queued{fd, reply, &st, received});
        if (b.duplicate_every && k % b.duplicate_every == 0) {
          queue_.emplace(due + std::chrono::microseconds(100),
                         Queued{fd, reply, &st, received, Queued::kDuplicate});
        }
      }
    }
    writeStats();
  }

  // Two forgeries, sent at once so they arrive before the real reply: the right probe's echo
  // with a corrupted payload, and (if --forge-from is set) a perfect copy from another address.
  void forge(int fd, const Reply& real, PairStats& st) {
    Reply bad = real;
    if (bad.icmp.size() > 12) bad.icmp[9] ^= 0xff;
    finishIcmp(bad);
    send(fd, bad);
    ++st.forged;
    const std::string& from = real.family == AF_INET ? opt_.forge_from4 : opt_.forge_from6;
    if (from.empty()) return;
    Reply other = real;
    std::uint8_t addr[16];
    if (inet_pton(real.family, from.c_str(), addr) != 1) return;
    other.local.assign(addr, addr + (real.family == AF_INET ? 4 : 16));
    send(fd, other);
    ++st.forged;
  }

  void flushDue() {
    const auto now = Clock::now();
    bool dirty = false;
    while (!queue_.empty() && queue_.begin()->first <= now) {
      Queued q = std::move(queue_.begin()->second);
      queue_.erase(queue_.begin());
      const auto handed = Clock::now();  // before sendmsg: see the comment at the top
      send(q.fd, q.reply);
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
            << ", \"hold_max_ns\": " << s.hold_max_ns << "}";
        first = false;
      }
      out << "\n}\n";
    }
    std::rename(tmp.c_str(), opt_.stats_path.c_str());
  }

  struct Queued {
    int fd;
    Reply reply;
    PairStats* stats;
    enum What { kReply, kDuplicate, kReplacement };  // kReplacement: corrupted, not the reply
    Clock::time_point received;                      // when the kernel received the request
    What what = kReply;
  };
  Options opt_;
  int fd4_ = -1, fd6_ = -1;
  std::map<std::string, PairStats> stats_;
  std::multimap<Clock::time_point, Queued> queue_;
};

}  // namespace

// The inet_ntop text of an IPv4 or IPv6 address (as the responder names destinations), or "".
std::string canonicalAddress(const std::string& text) {
  std::uint8_t a[16];
  if (inet_pton(AF_INET, text.c_str(), a) == 1) return addrText(AF_INET, a);
  if (inet_pton(AF_INET6, text.c_str(), a) == 1) return addrText(AF_INET6, a);
  return "";
}

int main(int argc, char** argv) {
  Options o;
  Behaviour* b = &o.all;  // where behaviour options go: every destination, or the last --dest
  if (argc % 2 == 0) {
    std::fprintf(stderr, "icmp_responder: option %s needs a value\n", argv[argc - 1]);
    return 2;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--delay-ms")
      b->delay_ms = std::stod(v);
    else if (k == "--drop-every")
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
    else {
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
