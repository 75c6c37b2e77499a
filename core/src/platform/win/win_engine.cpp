#include "win_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>
#include <stdexcept>

#include "../../probe_loop.h"
#include "reachmon/core/os_text.h"

namespace reachmon::core::win {
namespace {

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("cannot create the probe loop: ") + what + ": " +
                           osErrorText(static_cast<int>(GetLastError())));
}

}  // namespace

WinEngine::WinEngine(std::shared_ptr<IcmpApi> api, std::shared_ptr<const Clock> clock,
                     std::optional<std::vector<InterfaceInfo>> interfaces,
                     std::shared_ptr<WinsockApi> winsock)
    : api_(std::move(api)),
      clock_(std::move(clock)),
      fixed_interfaces_(std::move(interfaces)),
      winsock_(winsock ? std::move(winsock) : std::shared_ptr<WinsockApi>(systemWinsockApi())),
      icmp_(*api_, *clock_),
      udp_(*winsock_, *clock_),
      transport_(icmp_, udp_),
      wake_event_(CreateEventW(nullptr, FALSE, FALSE, nullptr)) {
  if (!wake_event_) fail("CreateEvent");
  createTimer();
  if (fixed_interfaces_) return;
  if (const DWORD rc = NotifyUnicastIpAddressChange(AF_UNSPEC, &WinEngine::onAddressChange, this,
                                                    FALSE, &notify_);
      rc != NO_ERROR) {
    spdlog::warn("no address change notifications ({}); re-listing interfaces every 30 s instead",
                 osErrorText(static_cast<int>(rc)));
    notify_ = nullptr;
  }
  // A link can go down and keep its addresses: its sources must still become unavailable.
  if (const DWORD rc = NotifyIpInterfaceChange(AF_UNSPEC, &WinEngine::onInterfaceChange, this,
                                               FALSE, &interface_notify_);
      rc != NO_ERROR) {
    spdlog::warn(
        "no interface up/down notifications ({}); links going down are seen when "
        "addresses change or every 30 s",
        osErrorText(static_cast<int>(rc)));
    interface_notify_ = nullptr;
  }
}

void WinEngine::createTimer() {
  // A default waitable timer ticks every 15.6 ms: a probe due in between would leave up to a
  // tick late. High-resolution timers exist since Windows 10 1803; before, raise the system
  // timer resolution to 1 ms while the engine lives.
  timer_ = Handle(CreateWaitableTimerExW(nullptr, nullptr, CREATE_WAITABLE_TIMER_HIGH_RESOLUTION,
                                         TIMER_ALL_ACCESS));
  if (timer_) {
    timer_resolution_ = std::chrono::milliseconds(1);
    return;
  }
  timer_ = Handle(CreateWaitableTimerW(nullptr, FALSE, nullptr));
  if (!timer_) fail("CreateWaitableTimer");
  period_raised_ = timeBeginPeriod(1) == TIMERR_NOERROR;
  timer_resolution_ = period_raised_ ? std::chrono::milliseconds(2) : std::chrono::milliseconds(16);
  spdlog::info("no high-resolution waitable timer; {}",
               period_raised_ ? "timer resolution raised to 1 ms (timeBeginPeriod)"
                              : "sends may leave up to 16 ms late");
}

WinEngine::~WinEngine() {
  // Waits for a notification callback that is running, so none can touch a destroyed engine.
  if (notify_) CancelMibChangeNotify2(notify_);
  if (interface_notify_) CancelMibChangeNotify2(interface_notify_);
  if (period_raised_) timeEndPeriod(1);
}

void WinEngine::flagInterfaceChange() {
  interfaces_changed_.store(true, std::memory_order_release);
  wake();
}

void NETIOAPI_API_ WinEngine::onAddressChange(PVOID self, PMIB_UNICASTIPADDRESS_ROW,
                                              MIB_NOTIFICATION_TYPE) {
  static_cast<WinEngine*>(self)->flagInterfaceChange();
}

void NETIOAPI_API_ WinEngine::onInterfaceChange(PVOID self, PMIB_IPINTERFACE_ROW,
                                                MIB_NOTIFICATION_TYPE) {
  static_cast<WinEngine*>(self)->flagInterfaceChange();
}

std::vector<InterfaceInfo> WinEngine::interfaces() {
  return fixed_interfaces_ ? *fixed_interfaces_ : listInterfaces();
}

Engine::Events WinEngine::wait(Duration timeout, ReplySink& sink) {
  HANDLE handles[2] = {wake_event_.get(), timer_.get()};
  DWORD count = 1;
  DWORD wait_ms = 0;
  if (timeout > Duration{0}) {
    LARGE_INTEGER due;  // negative: relative, in 100 ns units
    due.QuadPart = -std::max<std::int64_t>(1, (timeout.count() + 99) / 100);
    if (SetWaitableTimer(timer_.get(), &due, 0, nullptr, nullptr, FALSE)) {
      count = 2;
      wait_ms = INFINITE;
    } else {
      wait_ms = static_cast<DWORD>((timeout.count() + 999'999) / 1'000'000);
    }
  }
  icmp_.deliverTo(&sink);  // completions run inside this wait, as APCs
  udp_.deliverTo(&sink);
  const DWORD rc = WaitForMultipleObjectsEx(count, handles, FALSE, wait_ms, TRUE);
  if (rc == WAIT_FAILED) {
    // Not expected with valid handles; log the first of a run, and do not spin.
    if (!wait_failing_)
      spdlog::error("probe loop wait failed: {}", osErrorText(static_cast<int>(GetLastError())));
    wait_failing_ = true;
    Sleep(10);
  } else {
    wait_failing_ = false;
  }
  Events events;
  events.interfaces_changed = interfaces_changed_.exchange(false, std::memory_order_acquire);
  return events;
}

namespace {

// Waits alertably, so that completions run, until nothing is in flight or `budget` (real time:
// the service manager's and the OS shutdown's clocks) has passed. True when nothing is left.
bool drain(const IcmpTransport& icmp, const UdpTransport& udp, std::chrono::milliseconds budget) {
  const auto end = std::chrono::steady_clock::now() + budget;
  while (icmp.inFlight() + udp.inFlight() > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        end - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    SleepEx(static_cast<DWORD>(std::clamp<std::int64_t>(left.count(), 1, 10)), TRUE);
  }
  return true;
}

}  // namespace

void WinEngine::finish(ReplySink& sink) {
  CancelWaitableTimer(timer_.get());
  // Every ICMP request and UDP operation in flight (each UDP socket has a receive pending) still
  // owns buffers that Windows writes into. Cancel them all and wait (alertably) for their
  // routines; if a handle or socket refuses the cancellation, or something stays in flight,
  // close the handles and sockets, which cancels too; what still does not complete is abandoned
  // (leaked, never freed). Bounded at 2 s whatever the timeouts, so a stop never waits out
  // probes. UDP sockets are closed in any case: the next run opens new ones.
  icmp_.deliverTo(&sink);
  udp_.deliverTo(&sink);
  if (icmp_.inFlight() + udp_.inFlight() > 0) {
    const bool icmp_cancelled = icmp_.inFlight() == 0 || icmp_.cancelAll();
    const bool udp_cancelled = udp_.inFlight() == 0 || udp_.cancelAll();
    if (!icmp_cancelled || !udp_cancelled || !drain(icmp_, udp_, kCancelBudget)) {
      spdlog::warn("{} ICMP requests and {} UDP operations not cancelled; closing their handles",
                   icmp_.inFlight(), udp_.inFlight());
      if (icmp_.inFlight() > 0) icmp_.closeHandles();
      udp_.closeAll();
      if (!drain(icmp_, udp_, kCloseBudget)) {
        if (icmp_.inFlight() > 0) icmp_.abandon();
        if (udp_.inFlight() > 0) udp_.abandon();
      }
    }
  }
  udp_.reset();
  icmp_.deliverTo(nullptr);
  udp_.deliverTo(nullptr);
}

}  // namespace reachmon::core::win

namespace reachmon::core {

std::unique_ptr<Monitor> Monitor::create(const MonitorOptions&) {
  auto clock = std::make_shared<SteadyClock>();
  return std::make_unique<ProbeLoop>(
      clock, std::make_unique<win::WinEngine>(win::systemIcmpApi(), clock, std::nullopt),
      std::random_device{}());
}

}  // namespace reachmon::core
