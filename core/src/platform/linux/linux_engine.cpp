#include "linux_engine.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "../../probe_loop.h"
#include "reachmon/core/os_text.h"

namespace reachmon::core::lnx {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("cannot create the probe loop: " + what + ": " + osErrorText(errno));
}

std::int64_t monotonicNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// A re-arm of the timer that would move its deadline by less than this is skipped.
constexpr std::int64_t kRearmSlackNs = 20'000;

}  // namespace

LinuxEngine::LinuxEngine(const MonitorOptions& options, std::shared_ptr<const Clock> clock,
                         Timing timing)
    : clock_(std::move(clock)),
      all_(::epoll_create1(EPOLL_CLOEXEC)),
      quiet_(::epoll_create1(EPOLL_CLOEXEC)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      pwait2_(timing == Timing::kAuto) {
  if (!all_ || !quiet_) fail("epoll_create1");
  if (!timer_) fail("timerfd_create");
  if (!wake_) fail("eventfd");
  for (int fd : {timer_.get(), wake_.get(), netlink_.fd()})
    if (fd >= 0 && (!watchReadable(all_.get(), fd) || !watchReadable(quiet_.get(), fd)))
      fail("epoll_ctl");
  transport_ = std::make_unique<SocketTransport>(options.allow_raw_sockets, all_.get());
}

std::string LinuxEngine::name() const {
  return transport_->kind() == IcmpSocket::Kind::kDatagram ? "icmp-dgram" : "icmp-raw";
}

std::string LinuxEngine::rttTimestamps() const {
  return transport_->kernelTimestamps() ? "kernel" : "user_space";
}

std::vector<InterfaceInfo> LinuxEngine::interfaces() { return listInterfaces(); }

void LinuxEngine::wake() {
  const std::uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the wake-up is pending anyway.
  [[maybe_unused]] const auto n = ::write(wake_.get(), &one, sizeof one);
}

bool LinuxEngine::armTimer(Duration timeout) {
  const std::int64_t deadline = monotonicNs() + std::max<std::int64_t>(timeout.count(), 1);
  // Armed for (nearly) this deadline already, and not fired yet: a wait that ended early for
  // another event waits on for the same deadline.
  if (armed_ns_ != 0 && std::abs(armed_ns_ - deadline) < kRearmSlackNs) return true;
  itimerspec spec{};
  spec.it_value.tv_sec = deadline / 1'000'000'000;
  spec.it_value.tv_nsec = deadline % 1'000'000'000;
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) == 0) {
    armed_ns_ = deadline;
    return true;
  }
  spdlog::error("timerfd_settime failed ({}); the probe loop falls back to millisecond waits",
                osErrorText(errno));
  timer_broken_ = true;
  return false;
}

int LinuxEngine::waitOn(int epoll_fd, Duration timeout, std::span<epoll_event> ready) {
  const int max = static_cast<int>(ready.size());
  if (timeout <= Duration{0}) return ::epoll_wait(epoll_fd, ready.data(), max, 0);
  if (pwait2_) {
    timespec ts{};
    ts.tv_sec = static_cast<time_t>(timeout.count() / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(timeout.count() % 1'000'000'000);
    const int n = ::epoll_pwait2(epoll_fd, ready.data(), max, &ts, nullptr);
    // ENOSYS: a kernel before 5.11; EPERM: a seccomp filter (container runtimes, systemd
    // SystemCallFilter) that does not know the call.
    if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
    spdlog::debug("epoll_pwait2 unavailable ({}): waits are timed by a timerfd",
                  osErrorText(errno));
    pwait2_ = false;
  }
  // The timerfd wakes us with nanosecond precision; epoll's own timeout has milliseconds.
  const int wait_ms = !timer_broken_ && armTimer(timeout)
                          ? -1
                          : static_cast<int>((timeout.count() + 999'999) / 1'000'000);
  return ::epoll_wait(epoll_fd, ready.data(), max, wait_ms);
}

void LinuxEngine::handle(std::span<const epoll_event> ready, ReplySink& sink, Events& events) {
  for (const epoll_event& e : ready) {
    const int fd = e.data.fd;
    if (fd == timer_.get() || fd == wake_.get()) {
      std::uint64_t count;
      if (::read(fd, &count, sizeof count) > 0 && fd == timer_.get()) armed_ns_ = 0;
    } else if (fd == netlink_.fd()) {
      if (netlink_.drain()) events.interfaces_changed = true;
    } else if (ProbeSocket* s = transport_->find(fd)) {
      s->drain(sink, clock_->now(), (e.events & EPOLLERR) != 0);
    }
  }
}

Engine::Events LinuxEngine::wait(Duration timeout, ReplySink& sink) {
  Events events;
  // Short waits of a busy loop are quiet: replies wait in their queues, with the kernel's
  // receive time, until the wait ends, and are read together then.
  const bool quiet =
      timeout > Duration{0} && timeout <= kQuietWait && transport_->kernelTimestamps();
  std::array<epoll_event, 32> ready;
  int n = waitOn(quiet ? quiet_.get() : all_.get(), timeout, ready);
  if (n < 0 && errno != EINTR) {
    // Not expected with valid descriptors; log the first of a run, and do not spin.
    if (!wait_failing_) spdlog::error("epoll_wait failed: {}", osErrorText(errno));
    wait_failing_ = true;
    ::usleep(10'000);
    return events;
  }
  wait_failing_ = false;
  handle(std::span(ready.data(), static_cast<std::size_t>(std::max(n, 0))), sink, events);
  if (quiet) {
    n = ::epoll_wait(all_.get(), ready.data(), static_cast<int>(ready.size()), 0);
    handle(std::span(ready.data(), static_cast<std::size_t>(std::max(n, 0))), sink, events);
  }
  return events;
}

}  // namespace reachmon::core::lnx

namespace reachmon::core {

std::unique_ptr<Monitor> Monitor::create(const MonitorOptions& options) {
  auto clock = std::make_shared<SteadyClock>();
  return std::make_unique<ProbeLoop>(clock, std::make_unique<lnx::LinuxEngine>(options, clock),
                                     std::random_device{}());
}

}  // namespace reachmon::core
