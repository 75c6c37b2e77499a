// Windows probe loop: one thread issues every ICMP request and waits alertably, so that request
// completions, the schedule timer (a waitable timer), control requests (QueueUserAPC) and address
// change notifications all run on it as APCs, one at a time.
#include "win_monitor.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "icmp_engine.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/probe_core.h"

namespace reachmon::core::win {
namespace {

constexpr Duration kMaxSleep{500'000'000};             // keeps the heartbeat fresh when idle
constexpr Duration kRescanInterval{30'000'000'000LL};  // when change notifications are missing

class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (h_) CloseHandle(h_);
  }
  HANDLE get() const { return h_; }

 private:
  HANDLE h_ = nullptr;
};

class WinMonitor final : public Monitor {
 public:
  WinMonitor(std::shared_ptr<IcmpApi> api, std::optional<std::vector<InterfaceInfo>> interfaces)
      : api_(std::move(api)),
        watch_interfaces_(!interfaces),
        core_(clock_, forwarder_, stats_, snapshots_, std::random_device{}()) {
    core_.setInterfaces(interfaces ? std::move(*interfaces) : listInterfaces());
  }

  ~WinMonitor() override { stop(); }

  void start() override {
    if (thread_.joinable()) return;
    stopping_ = false;
    std::promise<bool> ready;
    auto started = ready.get_future();
    thread_ = std::thread([this, &ready] { run(ready); });
    if (!started.get()) {
      thread_.join();
      throw std::runtime_error(start_error_);
    }
  }

  void stop() override {
    if (!thread_.joinable()) return;
    stopping_ = true;
    QueueUserAPC(&WinMonitor::controlApc, thread_handle_, reinterpret_cast<ULONG_PTR>(this));
    thread_.join();
  }

  void apply(PathSet set, Duration min_send_gap) override {
    {
      std::lock_guard lock(mailbox_mutex_);
      mailbox_ = std::make_pair(std::move(set), min_send_gap);
    }
    if (thread_.joinable()) {
      QueueUserAPC(&WinMonitor::controlApc, thread_handle_, reinterpret_cast<ULONG_PTR>(this));
    } else {
      takeMailbox();
    }
  }

  std::shared_ptr<const Snapshot> snapshot() const override { return snapshots_.get(); }
  const MonitorStats& stats() const override { return stats_; }
  std::string engineName() const override { return "iphlpapi"; }

 private:
  // The engine needs the probe thread (handles are opened there); ProbeCore needs a Transport
  // at construction. This forwarder bridges the two.
  struct Forwarder final : Transport {
    IcmpEngine* engine = nullptr;
    SendResult send(const EchoRequest& r) override {
      if (!engine) return {SendStatus::kFailed, ERROR_NOT_READY, 0};
      return engine->send(r);
    }
  };

  static void CALLBACK controlApc(ULONG_PTR self) {
    reinterpret_cast<WinMonitor*>(self)->takeMailbox();
  }
  static void CALLBACK timerApc(LPVOID, DWORD, DWORD) {}
  static void CALLBACK interfacesApc(ULONG_PTR self) {
    auto* m = reinterpret_cast<WinMonitor*>(self);
    m->core_.setInterfaces(listInterfaces());
  }
  // Runs on a system thread: only forwards to the probe thread.
  static void NETIOAPI_API_ onAddressChange(PVOID self, PMIB_UNICASTIPADDRESS_ROW,
                                            MIB_NOTIFICATION_TYPE) {
    auto* m = static_cast<WinMonitor*>(self);
    QueueUserAPC(&WinMonitor::interfacesApc, m->thread_handle_, reinterpret_cast<ULONG_PTR>(m));
  }

  void takeMailbox() {
    std::optional<std::pair<PathSet, Duration>> next;
    {
      std::lock_guard lock(mailbox_mutex_);
      next.swap(mailbox_);
    }
    if (next) core_.apply(std::move(next->first), next->second);
  }

  void armTimer(HANDLE timer) {
    const TimePoint now = clock_.now();
    const TimePoint wake_at = std::min(core_.nextWake(), now + kMaxSleep);
    LARGE_INTEGER due;
    due.QuadPart = -std::max<std::int64_t>(1, (wake_at - now).count() / 100);  // relative, 100 ns
    SetWaitableTimer(timer, &due, 0, &WinMonitor::timerApc, this, FALSE);
  }

  void run(std::promise<bool>& ready) {
    HANDLE self = nullptr;
    DuplicateHandle(GetCurrentProcess(), GetCurrentThread(), GetCurrentProcess(), &self, 0, FALSE,
                    DUPLICATE_SAME_ACCESS);
    thread_handle_owner_ = std::make_unique<Handle>(self);
    thread_handle_ = self;
    Handle timer(CreateWaitableTimerW(nullptr, FALSE, nullptr));
    std::optional<IcmpEngine> engine;
    try {
      engine.emplace(*api_, clock_);
    } catch (const std::exception& e) {
      start_error_ = e.what();
      ready.set_value(false);
      return;
    }
    engine->setCore(&core_);
    forwarder_.engine = &*engine;
    HANDLE notify = nullptr;
    if (watch_interfaces_ && NotifyUnicastIpAddressChange(AF_UNSPEC, &WinMonitor::onAddressChange,
                                                          this, FALSE, &notify) != NO_ERROR) {
      spdlog::warn("address change notifications unavailable; rescanning interfaces every 30 s");
      notify = nullptr;
    }
    ready.set_value(true);
    TimePoint next_rescan = clock_.now() + kRescanInterval;
    while (!stopping_) {
      core_.runDue();
      if (watch_interfaces_ && !notify && clock_.now() >= next_rescan) {
        core_.setInterfaces(listInterfaces());
        next_rescan = clock_.now() + kRescanInterval;
      }
      armTimer(timer.get());
      SleepEx(INFINITE, TRUE);
    }
    if (notify) CancelMibChangeNotify2(notify);
    CancelWaitableTimer(timer.get());
    // Every request in flight still owns buffers that Windows writes into: wait alertably for
    // all completions (bounded by the longest timeout) before the handles and buffers go.
    const TimePoint deadline = clock_.now() + engine->longestTimeout() + Duration{1'000'000'000};
    while (engine->inFlight() > 0 && clock_.now() < deadline) {
      const auto left_ms = (deadline - clock_.now()).count() / 1'000'000;
      SleepEx(static_cast<DWORD>(std::max<std::int64_t>(1, left_ms)), TRUE);
    }
    if (engine->inFlight() > 0) engine->abandon();
    forwarder_.engine = nullptr;
  }

  SteadyClock clock_;
  MonitorStats stats_;
  SnapshotBox snapshots_;
  std::shared_ptr<IcmpApi> api_;
  bool watch_interfaces_;
  Forwarder forwarder_;
  ProbeCore core_;
  std::thread thread_;
  HANDLE thread_handle_ = nullptr;
  std::unique_ptr<Handle> thread_handle_owner_;
  std::string start_error_;
  std::atomic<bool> stopping_{false};
  std::mutex mailbox_mutex_;
  std::optional<std::pair<PathSet, Duration>> mailbox_;
};

}  // namespace

std::unique_ptr<Monitor> createMonitor(std::shared_ptr<IcmpApi> api,
                                       std::optional<std::vector<InterfaceInfo>> interfaces) {
  return std::make_unique<WinMonitor>(std::move(api), std::move(interfaces));
}

}  // namespace reachmon::core::win

namespace reachmon::core {

std::unique_ptr<Monitor> Monitor::create(const MonitorOptions&) {
  return win::createMonitor(win::systemIcmpApi(), std::nullopt);
}

}  // namespace reachmon::core
