#include "linux_engine.h"

#include <spdlog/spdlog.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
#include <stdexcept>

#include "../../probe_loop.h"
#include "reachmon/core/os_text.h"

namespace reachmon::core::lnx {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw std::runtime_error("cannot create the probe loop: " + what + ": " + osErrorText(errno));
}

}  // namespace

LinuxEngine::LinuxEngine(const MonitorOptions& options, std::shared_ptr<const Clock> clock)
    : clock_(std::move(clock)),
      epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC)),
      wake_(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {
  if (!epoll_) fail("epoll_create1");
  if (!timer_) fail("timerfd_create");
  if (!wake_) fail("eventfd");
  for (int fd : {timer_.get(), wake_.get(), netlink_.fd()})
    if (fd >= 0 && !watchReadable(epoll_.get(), fd)) fail("epoll_ctl");
  transport_ = std::make_unique<SocketTransport>(options.allow_raw_sockets, epoll_.get());
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
  itimerspec spec{};
  const auto ns = std::max<std::int64_t>(timeout.count(), 1);  // zero would disarm it
  spec.it_value.tv_sec = ns / 1'000'000'000;
  spec.it_value.tv_nsec = ns % 1'000'000'000;
  if (::timerfd_settime(timer_.get(), 0, &spec, nullptr) == 0) return true;
  spdlog::error("timerfd_settime failed ({}); the probe loop falls back to millisecond waits",
                osErrorText(errno));
  timer_broken_ = true;
  return false;
}

Engine::Events LinuxEngine::wait(Duration timeout, ReplySink& sink) {
  Events events;
  int wait_ms = 0;
  if (timeout > Duration{0}) {
    // The timerfd wakes us with nanosecond precision; epoll's own timeout has milliseconds.
    wait_ms = !timer_broken_ && armTimer(timeout)
                  ? -1
                  : static_cast<int>((timeout.count() + 999'999) / 1'000'000);
  }
  epoll_event ready[16];
  const int n = ::epoll_wait(epoll_.get(), ready, 16, wait_ms);
  if (n < 0 && errno != EINTR) {
    // Not expected with valid descriptors; log the first of a run, and do not spin.
    if (!wait_failing_) spdlog::error("epoll_wait failed: {}", osErrorText(errno));
    wait_failing_ = true;
    ::usleep(10'000);
  } else {
    wait_failing_ = false;
  }
  for (int i = 0; i < n; ++i) {
    const int fd = ready[i].data.fd;
    if (fd == timer_.get() || fd == wake_.get()) {
      std::uint64_t count;
      [[maybe_unused]] const auto r = ::read(fd, &count, sizeof count);
    } else if (fd == netlink_.fd()) {
      if (netlink_.drain()) events.interfaces_changed = true;
    } else if (Drainable* s = transport_->find(fd)) {
      s->drain(sink, clock_->now());
    }
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
