#include "socket_transport.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "reachmon/core/os_text.h"

namespace reachmon::core::lnx {

bool watchReadable(int epoll_fd, int fd) {
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  return ::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) == 0;
}

SocketTransport::SocketTransport(bool allow_raw, int epoll_fd) : epoll_fd_(epoll_fd) {
  std::string err4, err6;
  v4_ = IcmpSocket::open(Family::kIpv4, allow_raw, err4);
  v6_ = IcmpSocket::open(Family::kIpv6, allow_raw, err6);
  if (!v4_ && !v6_) throw std::runtime_error(err4);
  if (!v4_) spdlog::error("IPv4 probing disabled: {}", err4);
  if (!v6_) spdlog::warn("IPv6 probing disabled: {}", err6);
  for (auto* s : {&v4_, &v6_}) {
    if (*s && !watchReadable(epoll_fd_, (*s)->fd()))
      throw std::runtime_error("cannot watch an ICMP socket (epoll_ctl): " + osErrorText(errno));
  }
}

IcmpSocket::Kind SocketTransport::kind() const { return v4_ ? v4_->kind() : v6_->kind(); }

bool SocketTransport::kernelTimestamps() const {
  return (!v4_ || v4_->kernelTimestamps()) && (!v6_ || v6_->kernelTimestamps());
}

SendResult SocketTransport::send(const EchoRequest& r) {
  if (queued_count_ == queued_.size()) return {SendStatus::kFailed, ENOBUFS, 0};
  return route(r);
}

SendResult SocketTransport::route(const EchoRequest& r) {
  if (r.options.probe == ProbeKind::kUdp) return queueUdp(r);
  auto& s = r.target.family == Family::kIpv4 ? v4_ : v6_;
  if (!s) return {SendStatus::kFailed, EAFNOSUPPORT, 0};
  if (r.target.family == Family::kIpv6 && s->kind() == IcmpSocket::Kind::kDatagram)
    return queueBound(r);
  return remember(s->batch(), s->queue(r));
}

SendResult SocketTransport::remember(SendBatch& batch, SendResult result) {
  if (result.status == SendStatus::kQueued) queued_[queued_count_++] = {&batch, batch.size() - 1};
  return result;
}

void SocketTransport::flush(std::span<SendResult> results) {
  for (std::size_t k = 0; k < queued_count_; ++k) queued_[k].first->send();
  for (std::size_t k = 0; k < queued_count_ && k < results.size(); ++k)
    results[k] = queued_[k].first->result(queued_[k].second);
  for (std::size_t k = 0; k < queued_count_; ++k) queued_[k].first->clear();
  queued_count_ = 0;
}

ProbeSocket* SocketTransport::find(int fd) {
  if (v4_ && v4_->fd() == fd) return &*v4_;
  if (v6_ && v6_->fd() == fd) return &*v6_;
  if (udp4_ && udp4_->fd() == fd) return &*udp4_;
  if (udp6_ && udp6_->fd() == fd) return &*udp6_;
  for (auto& [addr, sock] : v6_bound_)
    if (sock->fd() == fd) return sock.get();
  return nullptr;
}

void SocketTransport::closeUnused(std::span<const IpAddress> in_use) {
  // Replies still on their way to a closed socket are lost, but none could count: the address
  // has left the host or its link is down, or its source now sends from another address and
  // ProbeCore rejects replies to the old one as strays.
  const auto closed = std::erase_if(v6_bound_, [&](const auto& bound) {
    return std::find(in_use.begin(), in_use.end(), bound.first) == in_use.end();
  });
  if (closed > 0)
    spdlog::debug("closed {} IPv6 socket(s) bound to addresses no source uses", closed);
}

SendResult SocketTransport::queueUdp(const EchoRequest& r) {
  const bool v4 = r.target.family == Family::kIpv4;
  auto& s = v4 ? udp4_ : udp6_;
  if (!s) {
    // Opened on first use: a config without UDP probes opens no UDP socket. A failure is
    // retried at the next UDP probe, and logged when its cause changes.
    std::string error;
    int err = 0;
    auto opened = UdpSocket::open(r.target.family, error, err);
    int& last_error = udp_open_error_[v4 ? 0 : 1];
    if (!opened) {
      if (last_error != err) spdlog::error("{}; UDP probes of the family fail", error);
      last_error = err;
      return {SendStatus::kFailed, err, 0};
    }
    if (!watchReadable(epoll_fd_, opened->fd())) {
      err = errno;
      spdlog::error("cannot watch the UDP probe socket (epoll_ctl): {}", osErrorText(err));
      return {SendStatus::kFailed, err, 0};
    }
    last_error = 0;
    s = std::move(opened);
  }
  return remember(s->batch(), s->queue(r));
}

SendResult SocketTransport::queueBound(const EchoRequest& r) {
  for (auto& [addr, sock] : v6_bound_)
    if (addr == r.source) return remember(sock->batch(), sock->queue(r));
  int err = 0;
  auto sock = IcmpSocket::openBound(r.source, err);
  if (!sock) {
    // bind() refuses an address that is not (or no longer) on this host.
    const bool gone = err == EADDRNOTAVAIL || err == EINVAL;
    return {gone ? SendStatus::kSourceUnavailable : SendStatus::kFailed, err, 0};
  }
  if (!watchReadable(epoll_fd_, sock->fd())) return {SendStatus::kFailed, errno, 0};
  auto& bound = v6_bound_.emplace_back(r.source, std::make_unique<IcmpSocket>(std::move(*sock)));
  return remember(bound.second->batch(), bound.second->queue(r));
}

}  // namespace reachmon::core::lnx
