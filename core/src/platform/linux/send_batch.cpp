#include "send_batch.h"

#include <cerrno>
#include <cstring>

#include "sockaddr.h"
#include "socket_util.h"

namespace reachmon::core::lnx {
namespace {

// Appends one control message; `c` is the next free header, advanced past it.
void addControl(msghdr& msg, cmsghdr*& c, int level, int type, const void* data, std::size_t len) {
  c->cmsg_level = level;
  c->cmsg_type = type;
  c->cmsg_len = CMSG_LEN(len);
  std::memcpy(CMSG_DATA(c), data, len);
  c = CMSG_NXTHDR(&msg, c);
}

bool setDontFragment(int fd, bool df, int& pmtu_mode) {
  // IPv4 has no per-packet form of DF: the socket's path-MTU mode decides it.
  const int pmtu = df ? IP_PMTUDISC_DO : IP_PMTUDISC_DONT;
  if (pmtu == pmtu_mode) return true;
  if (::setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) != 0) return false;
  pmtu_mode = pmtu;
  return true;
}

// The errors an ICMP message about an earlier datagram leaves pending on the socket
// (icmp_err_convert); the next send reports it instead of sending.
bool isPendingIcmpError(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EMSGSIZE:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
      return true;
    default:
      return false;
  }
}

}  // namespace

SendBatch::SendBatch(int fd) : fd_(fd) { data_.reserve(4096); }

bool SendBatch::accepts(const EchoRequest& r, std::size_t size) const {
  if (count_ > sent_ && data_.size() + size > kMaxBytes) return false;
  return r.target.family != Family::kIpv4 || count_ == sent_ ||
         messages_[sent_].dont_fragment == r.options.dont_fragment;
}

std::span<std::uint8_t> SendBatch::buffer(std::size_t size) {
  reserved_ = count_ == 0 ? 0 : messages_[count_ - 1].offset + messages_[count_ - 1].size;
  data_.resize(reserved_ + size);
  return std::span(data_.data() + reserved_, size);
}

void SendBatch::queue(const EchoRequest& r, std::size_t size, std::uint16_t port) {
  Message& m = messages_[count_++];
  data_.resize(reserved_ + size);
  m.offset = reserved_;
  m.size = size;
  m.dont_fragment = r.options.dont_fragment;
  m.result = {};
  m.to_len = toSockaddr(r.target, m.to);
  if (r.target.family == Family::kIpv4)
    reinterpret_cast<sockaddr_in*>(&m.to)->sin_port = htons(port);
  else
    reinterpret_cast<sockaddr_in6*>(&m.to)->sin6_port = htons(port);

  msghdr msg{};
  msg.msg_control = m.control;
  msg.msg_controllen = sizeof m.control;
  std::memset(m.control, 0, sizeof m.control);
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  const int ttl = r.options.ttl, tos = r.options.tos, df = r.options.dont_fragment ? 1 : 0;
  if (r.target.family == Family::kIpv4) {
    in_pktinfo info{};
    std::memcpy(&info.ipi_spec_dst, r.source.bytes.data(), 4);
    addControl(msg, c, IPPROTO_IP, IP_PKTINFO, &info, sizeof info);
    addControl(msg, c, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl);
    addControl(msg, c, IPPROTO_IP, IP_TOS, &tos, sizeof tos);
    m.control_len = CMSG_SPACE(sizeof info) + 2 * CMSG_SPACE(sizeof(int));
  } else {
    in6_pktinfo info{};
    std::memcpy(&info.ipi6_addr, r.source.bytes.data(), 16);
    info.ipi6_ifindex = r.source.scope_id;
    addControl(msg, c, IPPROTO_IPV6, IPV6_PKTINFO, &info, sizeof info);
    addControl(msg, c, IPPROTO_IPV6, IPV6_HOPLIMIT, &ttl, sizeof ttl);
    addControl(msg, c, IPPROTO_IPV6, IPV6_TCLASS, &tos, sizeof tos);
    addControl(msg, c, IPPROTO_IPV6, IPV6_DONTFRAG, &df, sizeof df);
    m.control_len = CMSG_SPACE(sizeof info) + 3 * CMSG_SPACE(sizeof(int));
  }
}

void SendBatch::send() {
  if (sent_ == count_) return;
  const std::size_t from = sent_;
  sent_ = count_;
  Message& first = messages_[from];
  if (first.to.ss_family == AF_INET && !setDontFragment(fd_, first.dont_fragment, pmtu_mode_)) {
    const int err = errno;
    for (std::size_t i = from; i < count_; ++i) messages_[i].result = {SendStatus::kFailed, err, 0};
    return;
  }
  sendPending(from);
}

void SendBatch::sendPending(std::size_t from) {
  for (std::size_t i = from; i < count_; ++i) {
    Message& m = messages_[i];
    iov_[i] = {data_.data() + m.offset, m.size};
    msghdr& h = headers_[i].msg_hdr;
    h = msghdr{};
    h.msg_name = &m.to;
    h.msg_namelen = m.to_len;
    h.msg_iov = &iov_[i];
    h.msg_iovlen = 1;
    h.msg_control = m.control;
    h.msg_controllen = m.control_len;
  }
  bool retried = false;
  std::size_t i = from;
  while (i < count_) {
    const std::int64_t before = realtimeNs();
    const int n = ::sendmmsg(fd_, &headers_[i], static_cast<unsigned>(count_ - i), MSG_DONTWAIT);
    if (n > 0) {
      // The clock is read once, before the call: every message left after it. A later message's
      // RTT includes the kernel's time for the ones before it in the call (a microsecond or two
      // each), but is never below the real one. (Interpolating towards a clock read after the
      // call was: a preemption between the call's return and that read moved the later
      // messages' send times past their real ones.)
      for (int k = 0; k < n; ++k)
        messages_[i + static_cast<std::size_t>(k)].result = {SendStatus::kOk, 0, before};
      i += static_cast<std::size_t>(n);
      retried = false;
      continue;
    }
    const int err = errno;
    // With IP_RECVERR, an ICMP error about an earlier datagram (another path's, often) is also
    // left pending on the socket, and the next send returns it without sending. Returning it
    // cleared it, and the error itself waits in the error queue for the drain: send again. (A
    // message after the first that meets it ends the call early and the error is lost, so the
    // next call sends that message without a retry of its own.)
    if ((isPendingIcmpError(err) || err == EINTR) && !retried) {
      retried = true;
      continue;
    }
    // The kernel refuses a source address that no interface carries (or that is tentative).
    messages_[i].result = {(err == EINVAL || err == EADDRNOTAVAIL) ? SendStatus::kSourceUnavailable
                                                                   : SendStatus::kFailed,
                           err, 0};
    ++i;
    retried = false;
  }
}

void SendBatch::clear() {
  count_ = 0;
  sent_ = 0;
  data_.clear();
}

}  // namespace reachmon::core::lnx
