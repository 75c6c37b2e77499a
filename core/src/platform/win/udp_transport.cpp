#include "udp_transport.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <string_view>

#include "../../udp_probe.h"
#include "reachmon/core/os_text.h"

namespace reachmon::core::win {

// One socket and the buffers Windows writes into until each routine has run. Owned by the
// transport (lanes_); handed to the API as the routines' context (hEvent, which is free for the
// caller when a completion routine is given) and never moved.
struct UdpTransport::Lane {
  static constexpr std::uint32_t kAlive = 0x4c414e45;      // poisoned when destroyed
  static constexpr std::uint32_t kAbandoned = 0x41424e44;  // leaked by abandon(): owner gone
  std::uint32_t magic = kAlive;
  UdpTransport* owner = nullptr;
  Family family = Family::kIpv4;
  SOCKET socket = INVALID_SOCKET;
  bool receiving = false;  // a WSARecvMsg is outstanding: its routine has not run yet
  bool sending = false;    // a WSASendMsg likewise
  bool closed = false;
  int ttl = -1;            // IP_TTL / IPV6_UNICAST_HOPS in force; -1: the system's default
  int dont_fragment = -1;  // IP_DONTFRAGMENT / IPV6_DONTFRAG in force; -1: the system's default

  // The probe that holds the lane, or held it last.
  bool held = false;
  std::uint16_t sequence = 0;
  IpAddress source;
  IpAddress target;
  std::uint16_t port = 0;
  TimePoint probe_end{};  // the probe's deadline: what arrives later is dropped

  WSAOVERLAPPED recv_overlapped{};
  WSAMSG recv_message{};
  WSABUF recv_buffer{};
  sockaddr_storage from{};
  std::vector<std::uint8_t> data;  // longer than any datagram sent on the lane (acquire())
  alignas(WSACMSGHDR) std::array<char, 128> recv_control{};

  WSAOVERLAPPED send_overlapped{};
  WSAMSG send_message{};
  WSABUF send_buffer{};
  sockaddr_storage to{};
  std::vector<std::uint8_t> datagram;
  alignas(WSACMSGHDR) std::array<char, 64> send_control{};

  ~Lane() { magic = 0xdeaddead; }
};

namespace {

// Receive buffers hold at least this much, and always more than the probe's datagram, so that
// an echo longer than the probe shows as one (WSAEMSGSIZE reports the truncated bytes too).
constexpr std::size_t kMinReceiveBuffer = 2048;

int addressFamily(Family family) { return family == Family::kIpv4 ? AF_INET : AF_INET6; }

int socketAddress(const IpAddress& address, std::uint16_t port, sockaddr_storage& out) {
  out = {};
  if (address.family == Family::kIpv4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, address.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, address.bytes.data(), 16);
  sin6->sin6_scope_id = address.scope_id;
  return sizeof(sockaddr_in6);
}

bool fromSocketAddress(const sockaddr_storage& in, int length, IpAddress& address,
                       std::uint16_t& port) {
  address = {};
  if (in.ss_family == AF_INET && length >= static_cast<int>(sizeof(sockaddr_in))) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&in);
    address.family = Family::kIpv4;
    std::memcpy(address.bytes.data(), &sin->sin_addr, 4);
    port = ntohs(sin->sin_port);
    return true;
  }
  if (in.ss_family == AF_INET6 && length >= static_cast<int>(sizeof(sockaddr_in6))) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&in);
    address.family = Family::kIpv6;
    std::memcpy(address.bytes.data(), &sin6->sin6_addr, 16);
    address.scope_id = sin6->sin6_scope_id;
    port = ntohs(sin6->sin6_port);
    return true;
  }
  return false;
}

// The datagram's destination (our source) from IN_PKTINFO / IN6_PKTINFO, when reported.
std::optional<IpAddress> destinationOf(WSAMSG& message) {
  for (WSACMSGHDR* c = WSA_CMSG_FIRSTHDR(&message); c; c = WSA_CMSG_NXTHDR(&message, c)) {
    IpAddress to;
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO &&
        c->cmsg_len >= WSA_CMSG_LEN(sizeof(IN_PKTINFO))) {
      IN_PKTINFO info;
      std::memcpy(&info, WSA_CMSG_DATA(c), sizeof info);
      to.family = Family::kIpv4;
      std::memcpy(to.bytes.data(), &info.ipi_addr, 4);
      return to;
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO &&
        c->cmsg_len >= WSA_CMSG_LEN(sizeof(IN6_PKTINFO))) {
      IN6_PKTINFO info;
      std::memcpy(&info, WSA_CMSG_DATA(c), sizeof info);
      to.family = Family::kIpv6;
      std::memcpy(to.bytes.data(), &info.ipi6_addr, 16);
      return to;
    }
  }
  return std::nullopt;
}

// Control data choosing the datagram's source address: the only send-side control object the
// WSASendMsg page documents. The interface is left to the routing table (index 0), except for
// an IPv6 link-local source, whose zone names it.
ULONG writeSourceControl(const IpAddress& source, std::array<char, 64>& buffer) {
  buffer.fill(0);
  auto* c = reinterpret_cast<WSACMSGHDR*>(buffer.data());
  if (source.family == Family::kIpv4) {
    IN_PKTINFO info{};
    std::memcpy(&info.ipi_addr, source.bytes.data(), 4);
    c->cmsg_len = WSA_CMSG_LEN(sizeof info);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    std::memcpy(WSA_CMSG_DATA(c), &info, sizeof info);
    return static_cast<ULONG>(WSA_CMSG_SPACE(sizeof info));
  }
  IN6_PKTINFO info{};
  std::memcpy(&info.ipi6_addr, source.bytes.data(), 16);
  info.ipi6_ifindex = source.scope_id;
  c->cmsg_len = WSA_CMSG_LEN(sizeof info);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  std::memcpy(WSA_CMSG_DATA(c), &info, sizeof info);
  return static_cast<ULONG>(WSA_CMSG_SPACE(sizeof info));
}
static_assert(WSA_CMSG_SPACE(sizeof(IN6_PKTINFO)) <= 64);

constexpr auto kLater = [](const auto& a, const auto& b) { return a.first > b.first; };

}  // namespace

UdpTransport::UdpTransport(WinsockApi& api, const Clock& clock, std::size_t max_lanes)
    : api_(api), clock_(clock), max_lanes_(max_lanes) {}

UdpTransport::~UdpTransport() {
  closeAll();
  // Routines still to come (the engine was not finished) must find their lanes, marked.
  if (pending_ops_ > 0) abandon();
}

void UdpTransport::noteError(const char* what, int code) {
  const auto known = std::find_if(noted_.begin(), noted_.end(), [&](const auto& n) {
    return n.second == code && std::string_view(n.first) == what;
  });
  const bool first = known == noted_.end();
  if (first) noted_.emplace_back(what, code);  // a few call sites times a few dozen codes
  spdlog::log(first ? spdlog::level::warn : spdlog::level::debug, "{}: {}", what,
              osErrorText(code));
}

std::unique_ptr<UdpTransport::Lane> UdpTransport::open(Family family, std::size_t capacity,
                                                       int& error) {
  const bool v4 = family == Family::kIpv4;
  const int af = addressFamily(family);
  const SOCKET s = api_.openUdp(af, error);
  if (s == INVALID_SOCKET) {
    noteError("cannot open a UDP socket", error);
    return nullptr;
  }
  auto failed = [&](const char* what, int code) {
    noteError(what, code);
    api_.close(s);
    error = code;
    return nullptr;
  };
  // An IPv6 lane carries IPv6 only: IPv4 probes take IPv4 lanes.
  if (!v4) {
    if (const int e = api_.setOption(s, IPPROTO_IPV6, IPV6_V6ONLY, 1))
      return failed("IPV6_V6ONLY", e);
  }
  // WSASendMsg refuses an unbound socket. The wildcard address leaves the source to IN_PKTINFO;
  // port 0 takes an ephemeral port, this lane's for as long as it lives.
  sockaddr_storage any{};
  const int length = socketAddress(IpAddress{family, {}, 0}, 0, any);
  if (const int e = api_.bind(s, reinterpret_cast<const sockaddr*>(&any), length))
    return failed("cannot bind a UDP socket", e);
  // Each datagram's destination, to check that a reply came back to the path's source.
  if (const int e =
          api_.setOption(s, v4 ? IPPROTO_IP : IPPROTO_IPV6, v4 ? IP_PKTINFO : IPV6_PKTINFO, 1))
    noteError("cannot ask for the destination of UDP replies (IP_PKTINFO)", e);
  // Port unreachable completes the pending receive with WSAECONNRESET. On by default since
  // Windows 2000 (KB263823); set anyway, as the engine depends on it.
  if (const int e = api_.ioctl(s, SIO_UDP_CONNRESET, TRUE))
    noteError("SIO_UDP_CONNRESET refused; UDP port unreachable goes unreported", e);
  // TTL expiry likewise, with WSAENETRESET. Wine 8.0 refuses it (WSAEOPNOTSUPP).
  if (const int e = api_.ioctl(s, SIO_UDP_NETRESET, TRUE))
    noteError("SIO_UDP_NETRESET refused; UDP TTL expiry goes unreported", e);
  auto lane = std::make_unique<Lane>();
  lane->owner = this;
  lane->family = family;
  lane->socket = s;
  lane->data.resize(capacity);
  if (const int e = post(*lane)) return failed("cannot post a UDP receive", e);
  return lane;
}

int UdpTransport::post(Lane& lane) {
  lane.recv_overlapped = {};
  lane.recv_overlapped.hEvent = &lane;
  lane.recv_buffer.buf = reinterpret_cast<char*>(lane.data.data());
  lane.recv_buffer.len = static_cast<ULONG>(lane.data.size());
  lane.from = {};
  lane.recv_message = {};
  lane.recv_message.name = reinterpret_cast<sockaddr*>(&lane.from);
  lane.recv_message.namelen = sizeof lane.from;
  lane.recv_message.lpBuffers = &lane.recv_buffer;
  lane.recv_message.dwBufferCount = 1;
  lane.recv_message.Control.buf = lane.recv_control.data();
  lane.recv_message.Control.len = static_cast<ULONG>(lane.recv_control.size());
  const int rc = api_.recvMsg(lane.socket, addressFamily(lane.family), &lane.recv_message,
                              &lane.recv_overlapped, &UdpTransport::onReceived);
  if (rc != 0 && rc != WSA_IO_PENDING) return rc;
  // Completed at once or pending: either way the routine runs, and owns the buffers until then.
  lane.receiving = true;
  ++pending_ops_;
  return 0;
}

UdpTransport::Lane* UdpTransport::acquire(Family family, std::size_t capacity, TimePoint now,
                                          int& error) {
  if (closed_ > 0) sweep();
  const std::size_t f = index(family);
  auto& busy = busy_[f];
  auto& free = free_[f];
  while (!busy.empty() && busy.front().first <= now) {  // quarantine over
    std::pop_heap(busy.begin(), busy.end(), kLater);
    Lane* lane = busy.back().second;
    busy.pop_back();
    if (!lane->closed) free.push_back(lane);
  }
  Lane* too_small = nullptr;
  for (std::size_t i = free.size(); i-- > 0;) {
    Lane* lane = free[i];
    if (lane->sending) continue;  // its routine has not run yet: still Windows' buffers
    if (lane->data.size() < capacity) {
      too_small = lane;
      continue;
    }
    free[i] = free.back();
    free.pop_back();
    cap_reported_[f] = false;
    return lane;
  }
  capacity = std::max(kMinReceiveBuffer, std::bit_ceil(capacity));
  if (open_[f] >= max_lanes_) {
    if (!too_small) {
      if (!cap_reported_[f])
        spdlog::warn(
            "{} UDP probes are in flight or in quarantine, the most reachmon keeps per family: "
            "further {} UDP probes count as send_failed until one frees up",
            open_[f], familyName(family));
      cap_reported_[f] = true;
      error = WSAENOBUFS;
      return nullptr;
    }
    close(*too_small);  // a larger payload than its buffer: make room for a lane that fits
  }
  auto lane = open(family, capacity, error);
  if (!lane) return nullptr;
  lanes_.push_back(std::move(lane));
  ++open_[f];
  cap_reported_[f] = false;
  spdlog::debug("opened UDP socket {} of {} ({} open)", lanes_.size(), familyName(family),
                open_[f]);
  return lanes_.back().get();
}

int UdpTransport::applyOptions(Lane& lane, const ProbeOptions& options) {
  // Winsock documents no per-datagram TTL or DF: they are the lane's, set only when the probe
  // taking it wants other values than the one before.
  const bool v4 = lane.family == Family::kIpv4;
  const int level = v4 ? IPPROTO_IP : IPPROTO_IPV6;
  if (lane.ttl != options.ttl) {
    if (const int e =
            api_.setOption(lane.socket, level, v4 ? IP_TTL : IPV6_UNICAST_HOPS, options.ttl))
      return e;
    lane.ttl = options.ttl;
  }
  const int dont_fragment = options.dont_fragment ? 1 : 0;
  if (lane.dont_fragment != dont_fragment) {
    if (const int e = api_.setOption(lane.socket, level, v4 ? IP_DONTFRAGMENT : IPV6_DONTFRAG,
                                     static_cast<DWORD>(dont_fragment)))
      return e;
    lane.dont_fragment = dont_fragment;
  }
  return 0;
}

SendResult UdpTransport::send(const EchoRequest& req) {
  const TimePoint now = clock_.now();
  const Family family = req.target.family;
  int error = 0;
  Lane* lane = acquire(family, req.payload.size() + 1, now, error);
  if (!lane) return {SendStatus::kFailed, error, 0};
  auto& free = free_[index(family)];
  if (const int e = applyOptions(*lane, req.options)) {
    noteError("cannot set the TTL or DF of a UDP socket", e);
    free.push_back(lane);
    return {SendStatus::kFailed, e, 0};
  }
  lane->held = true;
  lane->sequence = req.sequence;
  lane->source = req.source;
  lane->target = req.target;
  lane->port = req.options.port;
  lane->probe_end = now + req.options.timeout;
  lane->datagram.assign(req.payload.begin(), req.payload.end());
  const int to_length = socketAddress(req.target, req.options.port, lane->to);
  const ULONG control_length = writeSourceControl(req.source, lane->send_control);
  auto issue = [&] {
    lane->send_overlapped = {};
    lane->send_overlapped.hEvent = lane;
    lane->send_buffer.buf = reinterpret_cast<char*>(lane->datagram.data());
    lane->send_buffer.len = static_cast<ULONG>(lane->datagram.size());
    lane->send_message = {};
    lane->send_message.name = reinterpret_cast<sockaddr*>(&lane->to);
    lane->send_message.namelen = to_length;
    lane->send_message.lpBuffers = &lane->send_buffer;
    lane->send_message.dwBufferCount = 1;
    lane->send_message.Control.buf = lane->send_control.data();
    lane->send_message.Control.len = control_length;
    return api_.sendMsg(lane->socket, addressFamily(family), &lane->send_message,
                        &lane->send_overlapped, &UdpTransport::onSent);
  };
  int rc = issue();
  if (rc == WSAECONNRESET || rc == WSAENETRESET) {
    // An earlier datagram's ICMP error (the WSASendMsg page): this one was not sent. The lane's
    // previous probe has ended, so the error is nobody's now; send once more.
    spdlog::debug("UDP send to {} met an earlier datagram's error ({}); sending again",
                  formatIpAddress(req.target), osErrorText(rc));
    rc = issue();
  }
  if (rc != 0 && rc != WSA_IO_PENDING) {
    spdlog::debug("WSASendMsg to {} failed: {}", formatIpAddress(req.target), osErrorText(rc));
    lane->held = false;
    free.push_back(lane);  // no routine will run; the receive stays posted
    return {SendStatus::kFailed, rc, 0};
  }
  // 0 (sent at once) and WSA_IO_PENDING both complete through the routine, which owns the
  // datagram until it has run.
  lane->sending = true;
  ++pending_ops_;
  auto& busy = busy_[index(family)];
  busy.emplace_back(lane->probe_end + std::max(req.options.timeout, kMinQuarantine), lane);
  std::push_heap(busy.begin(), busy.end(), kLater);
  return {};
}

void CALLBACK UdpTransport::onReceived(DWORD error, DWORD bytes, LPWSAOVERLAPPED overlapped,
                                       DWORD) {
  auto* lane = static_cast<Lane*>(overlapped->hEvent);
  if (lane->magic == Lane::kAbandoned) return;  // given up on at a stop; its memory is leaked
  if (lane->magic != Lane::kAlive) {
    spdlog::critical("UDP receive completion for a socket that was already released");
    return;
  }
  lane->owner->received(*lane, error, bytes);
}

void CALLBACK UdpTransport::onSent(DWORD error, DWORD, LPWSAOVERLAPPED overlapped, DWORD) {
  auto* lane = static_cast<Lane*>(overlapped->hEvent);
  if (lane->magic == Lane::kAbandoned) return;
  if (lane->magic != Lane::kAlive) {
    spdlog::critical("UDP send completion for a socket that was already released");
    return;
  }
  lane->owner->sent(*lane, error);
}

bool UdpTransport::live(const Lane& lane, TimePoint now) const {
  return lane.held && now < lane.probe_end;
}

void UdpTransport::received(Lane& lane, DWORD error, DWORD bytes) {
  lane.receiving = false;
  if (pending_ops_ > 0) --pending_ops_;
  if (lane.closed) return;  // cut off by closeAll(): we are stopping, count nothing
  const TimePoint now = clock_.now();
  const int code = static_cast<int>(error);
  switch (code) {
    case 0:
    case WSAEMSGSIZE:  // longer than the buffer, so than the probe: the truncated bytes show it
      deliverDatagram(lane, bytes, now);
      break;
    case WSAECONNRESET:  // an ICMP port unreachable answered a datagram of this lane
      deliverError(lane, ErrorReason::kDestUnreachable, true, now);
      break;
    case WSAENETRESET:  // an ICMP time exceeded likewise (SIO_UDP_NETRESET)
      deliverError(lane, ErrorReason::kTtlExpired, false, now);
      break;
    case WSAEHOSTUNREACH:  // not documented for UDP receives; unambiguous if they ever come
    case WSAENETUNREACH:
      deliverError(lane, ErrorReason::kDestUnreachable, false, now);
      break;
    case WSA_OPERATION_ABORTED:
      if (stopping_) return;  // cancelAll(): count nothing
      break;                  // cancelled by something else: receive again
    default:
      if (stopping_) return;
      noteError("UDP receive failed; closing its socket", code);
      close(lane);  // its probe, if any, times out
      return;
  }
  if (stopping_) return;
  // Post again at once, from the routine (which the documentation allows): a lane without a
  // pending receive would miss what answers its probe. Posting can itself fail with the ICMP
  // error of a datagram that arrived meanwhile: that one counts like a completion.
  for (int attempt = 0; attempt < 4; ++attempt) {
    const int rc = post(lane);
    if (rc == 0) return;
    if (rc == WSAECONNRESET) {
      deliverError(lane, ErrorReason::kDestUnreachable, true, now);
    } else if (rc == WSAENETRESET) {
      deliverError(lane, ErrorReason::kTtlExpired, false, now);
    } else {
      noteError("cannot post a UDP receive; closing its socket", rc);
      break;
    }
  }
  close(lane);
}

void UdpTransport::sent(Lane& lane, DWORD error) {
  lane.sending = false;
  if (pending_ops_ > 0) --pending_ops_;
  // Windows has let go of the datagram: poison it, so that a routine run early would show.
  std::fill(lane.datagram.begin(), lane.datagram.end(), std::uint8_t{0xdd});
  if (error == 0 || lane.closed || stopping_) return;
  noteError("UDP send failed", static_cast<int>(error));
  deliverError(lane, ErrorReason::kSendFailed, false, clock_.now());
}

void UdpTransport::deliverDatagram(Lane& lane, DWORD bytes, TimePoint now) {
  // Whenever it comes, and whichever probe holds the lane now: a datagram names its probe by
  // its own sequence and nonce, so ProbeCore counts a late echo as late, never as the lane's
  // current probe's.
  if (!sink_) {
    spdlog::error("a UDP completion ran outside the probe loop; its result is dropped");
    return;
  }
  const std::span<const std::uint8_t> data(lane.data.data(),
                                           std::min<std::size_t>(bytes, lane.data.size()));
  const auto sequence = udp::sequenceOf(data);
  if (!sequence) {
    spdlog::debug("dropped a datagram that is not a UDP probe's ({} bytes)", data.size());
    return;
  }
  EchoReply reply;
  reply.probe = ProbeKind::kUdp;
  if (!fromSocketAddress(lane.from, lane.recv_message.namelen, reply.from, reply.from_port)) {
    spdlog::debug("dropped a datagram without a sender address");
    return;
  }
  reply.to = destinationOf(lane.recv_message);
  reply.sequence = *sequence;
  reply.payload = data;
  reply.received = now;
  sink_->onReply(reply);
}

void UdpTransport::deliverError(Lane& lane, ErrorReason reason, bool port_unreachable,
                                TimePoint now) {
  if (!live(lane, now)) {
    spdlog::debug("dropped an ICMP error on a UDP socket whose probe {} has ended",
                  lane.held ? formatIpAddress(lane.target) : std::string("(none)"));
    return;
  }
  if (!sink_) {
    spdlog::error("a UDP completion ran outside the probe loop; its result is dropped");
    return;
  }
  // Winsock reports neither the ICMP message's sender nor the datagram it quotes: the lane names
  // the probe (offender and quote stay unset).
  IcmpErrorReport report;
  report.probe = ProbeKind::kUdp;
  report.original_target = lane.target;
  report.original_port = lane.port;
  report.original_source = lane.source;
  report.sequence = lane.sequence;
  report.reason = reason;
  report.port_unreachable = port_unreachable;
  report.received = now;
  sink_->onError(lane.family, report);
}

void UdpTransport::close(Lane& lane) {
  if (lane.closed) return;
  api_.close(lane.socket);
  lane.closed = true;
  ++closed_;
  --open_[index(lane.family)];
  std::erase(free_[index(lane.family)], &lane);
}

void UdpTransport::sweep() {
  auto idle_closed = [](const Lane* lane) {
    return lane->closed && !lane->receiving && !lane->sending;
  };
  for (auto& free : free_) std::erase_if(free, idle_closed);
  for (auto& busy : busy_) {
    std::erase_if(busy, [&](const auto& entry) { return idle_closed(entry.second); });
    std::make_heap(busy.begin(), busy.end(), kLater);
  }
  closed_ -= std::erase_if(lanes_, [&](const auto& lane) { return idle_closed(lane.get()); });
}

bool UdpTransport::cancelAll() {
  stopping_ = true;
  bool accepted = true;
  for (const auto& lane : lanes_) {
    if (lane->closed || (!lane->receiving && !lane->sending)) continue;
    // ERROR_NOT_FOUND: completed already, its routine queued.
    if (const DWORD e = api_.cancelIo(lane->socket); e != 0 && e != ERROR_NOT_FOUND) {
      noteError("cannot cancel UDP operations (CancelIoEx)", static_cast<int>(e));
      accepted = false;
    }
  }
  return accepted;
}

void UdpTransport::closeAll() {
  stopping_ = true;
  for (const auto& lane : lanes_) close(*lane);
}

void UdpTransport::abandon() {
  closeAll();
  std::size_t leaked = 0;
  for (auto& lane : lanes_) {
    if (!lane->receiving && !lane->sending) continue;
    lane->magic = Lane::kAbandoned;     // a late routine must not reach this transport
    static_cast<void>(lane.release());  // never freed: a late routine may still write into it
    --closed_;
    ++leaked;
  }
  std::erase(lanes_, nullptr);
  for (auto& free : free_) free.clear();
  for (auto& busy : busy_) busy.clear();
  pending_ops_ = 0;
  if (leaked > 0)
    spdlog::error(
        "{} UDP sockets never completed their operations; their buffers are left "
        "allocated",
        leaked);
}

void UdpTransport::reset() {
  closeAll();
  sweep();
  stopping_ = false;
  cap_reported_ = {};
}

}  // namespace reachmon::core::win
