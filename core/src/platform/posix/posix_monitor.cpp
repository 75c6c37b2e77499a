// Linux probe loop: epoll over the ICMP sockets, a timerfd for the schedule, an eventfd for
// control, and rtnetlink for address changes.
#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "icmp_socket.h"
#include "netlink_watcher.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/monitor.h"
#include "reachmon/core/probe_core.h"

namespace reachmon::core {
namespace {

using posix::IcmpSocket;
using posix::UniqueFd;

constexpr Duration kMaxSleep{500'000'000};  // keeps the heartbeat fresh when idle

// One socket per family, except IPv6 ping sockets: the kernel ignores their per-packet source,
// so those are opened per IPv6 source address (a handful, never one per path).
class SocketTransport final : public Transport {
 public:
  std::optional<IcmpSocket> v4, v6;
  std::vector<std::pair<IpAddress, IcmpSocket>> v6_bound;
  std::function<void(int fd)> on_new_socket;

  SendResult send(const EchoRequest& r) override {
    auto& s = r.target.family == Family::kIpv4 ? v4 : v6;
    if (!s) return {SendStatus::kFailed, EAFNOSUPPORT, 0};
    if (r.target.family == Family::kIpv6 && s->kind() == IcmpSocket::Kind::kDatagram)
      return sendBound(r);
    return s->send(r);
  }

  IcmpSocket* find(int fd) {
    if (v4 && v4->fd() == fd) return &*v4;
    if (v6 && v6->fd() == fd) return &*v6;
    for (auto& [addr, sock] : v6_bound)
      if (sock.fd() == fd) return &sock;
    return nullptr;
  }

 private:
  SendResult sendBound(const EchoRequest& r) {
    for (auto& [addr, sock] : v6_bound)
      if (addr == r.source) return sock.send(r);
    int err = 0;
    auto sock = IcmpSocket::openBound(r.source, err);
    if (!sock) {
      const bool gone = err == EADDRNOTAVAIL || err == EINVAL;
      return {gone ? SendStatus::kSourceUnavailable : SendStatus::kFailed, err, 0};
    }
    if (on_new_socket) on_new_socket(sock->fd());
    v6_bound.emplace_back(r.source, std::move(*sock));
    return v6_bound.back().second.send(r);
  }
};

class PosixMonitor final : public Monitor {
 public:
  explicit PosixMonitor(const MonitorOptions& options)
      : core_(clock_, transport_, stats_, snapshots_, std::random_device{}()) {
    std::string err4, err6;
    transport_.v4 = IcmpSocket::open(Family::kIpv4, options.allow_raw_sockets, err4);
    transport_.v6 = IcmpSocket::open(Family::kIpv6, options.allow_raw_sockets, err6);
    if (!transport_.v4 && !transport_.v6) throw std::runtime_error(err4);
    if (!transport_.v4) spdlog::error("IPv4 probing disabled: {}", err4);
    if (!transport_.v6) spdlog::warn("IPv6 probing disabled: {}", err6);
    epoll_ = UniqueFd(::epoll_create1(EPOLL_CLOEXEC));
    timer_ = UniqueFd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    wake_ = UniqueFd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (!epoll_ || !timer_ || !wake_)
      throw std::runtime_error(std::string("cannot create the probe loop: ") +
                               std::strerror(errno));
    watch(timer_.get());
    watch(wake_.get());
    watch(netlink_.fd());
    if (transport_.v4) watch(transport_.v4->fd());
    if (transport_.v6) watch(transport_.v6->fd());
    transport_.on_new_socket = [this](int fd) { watch(fd); };
    const auto& main = transport_.v4 ? *transport_.v4 : *transport_.v6;
    engine_ = main.kind() == IcmpSocket::Kind::kDatagram ? "icmp-dgram" : "icmp-raw";
    core_.setInterfaces(listInterfaces());
  }

  ~PosixMonitor() override { stop(); }

  void start() override {
    if (thread_.joinable()) return;
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
  }

  void stop() override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    wake();
    thread_.join();
  }

  void apply(PathSet set, Duration min_send_gap) override {
    {
      std::lock_guard lock(mailbox_mutex_);
      mailbox_ = std::make_pair(std::move(set), min_send_gap);
    }
    if (thread_.joinable()) {
      wake();
    } else {
      takeMailbox();  // not running yet: apply directly so the first snapshot is complete
    }
  }

  std::shared_ptr<const Snapshot> snapshot() const override { return snapshots_.get(); }
  const MonitorStats& stats() const override { return stats_; }
  std::string engineName() const override { return engine_; }

 private:
  void watch(int fd) {
    if (fd < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  void wake() {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_.get(), &one, sizeof one);
  }

  void takeMailbox() {
    std::optional<std::pair<PathSet, Duration>> next;
    {
      std::lock_guard lock(mailbox_mutex_);
      next.swap(mailbox_);
    }
    if (next) core_.apply(std::move(next->first), next->second);
  }

  void armTimer() {
    const TimePoint now = clock_.now();
    const TimePoint wake_at = std::min(core_.nextWake(), now + kMaxSleep);
    itimerspec spec{};
    const auto ns = std::max<std::int64_t>(wake_at.count(), 1);
    spec.it_value.tv_sec = ns / 1'000'000'000;
    spec.it_value.tv_nsec = ns % 1'000'000'000;
    ::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void run() {
    auto on_reply = [this](const EchoReply& r) { core_.onReply(r); };
    epoll_event events[8];
    while (!stopping_) {
      armTimer();
      const int n = ::epoll_wait(epoll_.get(), events, 8, -1);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == timer_.get() || fd == wake_.get()) {
          std::uint64_t v;
          [[maybe_unused]] auto r = ::read(fd, &v, sizeof v);
          if (fd == wake_.get()) takeMailbox();
        } else if (fd == netlink_.fd()) {
          if (netlink_.drain()) core_.setInterfaces(listInterfaces());
        } else {
          IcmpSocket* s = transport_.find(fd);
          if (!s) continue;
          const Family fam = s->family();
          s->drain(
              on_reply, [this, fam](const IcmpErrorReport& e) { core_.onError(fam, e); },
              clock_.now());
        }
      }
      core_.runDue();
    }
  }

  SteadyClock clock_;
  MonitorStats stats_;
  SnapshotBox snapshots_;
  SocketTransport transport_;
  ProbeCore core_;
  UniqueFd epoll_, timer_, wake_;
  posix::NetlinkWatcher netlink_;
  std::string engine_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mailbox_mutex_;
  std::optional<std::pair<PathSet, Duration>> mailbox_;
};

}  // namespace

std::unique_ptr<Monitor> Monitor::create(const MonitorOptions& options) {
  return std::make_unique<PosixMonitor>(options);
}

}  // namespace reachmon::core
