// The Windows engine: the probe thread issues every ICMP request and UDP socket operation itself
// and waits alertably on a wake event and a waitable timer, so completions (APCs), the next
// deadline, wake() and address-change notifications all reach it in one wait, one at a time.
// See engine.h.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "../../engine.h"
#include "icmp_api.h"
#include "icmp_transport.h"
#include "udp_transport.h"
#include "win_transport.h"
#include "winsock_api.h"

namespace reachmon::core::win {

// Owns a kernel object HANDLE.
class Handle {
 public:
  Handle() = default;
  explicit Handle(HANDLE h) : h_(h) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      if (h_) CloseHandle(h_);
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }
  ~Handle() {
    if (h_) CloseHandle(h_);
  }
  HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  HANDLE h_ = nullptr;
};

class WinEngine final : public Engine {
 public:
  // With `interfaces` unset the engine lists the host's interfaces and follows their address and
  // up/down changes (NotifyUnicastIpAddressChange, NotifyIpInterfaceChange); tests pass a fixed
  // list instead. UDP probes go through `winsock` (the system's when null), whose sockets open
  // at the first UDP probe. Throws std::runtime_error when the ICMP helper cannot be opened.
  WinEngine(std::shared_ptr<IcmpApi> api, std::shared_ptr<const Clock> clock,
            std::optional<std::vector<InterfaceInfo>> interfaces,
            std::shared_ptr<WinsockApi> winsock = nullptr);
  ~WinEngine() override;
  WinEngine(const WinEngine&) = delete;
  WinEngine& operator=(const WinEngine&) = delete;

  Transport& transport() override { return transport_; }
  std::vector<InterfaceInfo> interfaces() override;
  bool watchesInterfaces() const override { return fixed_interfaces_ || notify_ != nullptr; }
  Events wait(Duration timeout, ReplySink& sink) override;
  void wake() override { SetEvent(wake_event_.get()); }
  Duration timerResolution() const override { return timer_resolution_; }
  void finish(ReplySink& sink) override;
  std::string name() const override { return "iphlpapi"; }
  // QueryPerformanceCounter at the send and when the completion APC runs; the OS's own RTT has
  // whole milliseconds only.
  std::string rttTimestamps() const override { return "user_space"; }

  // How long finish() waits for cancelled requests, then for those of closed handles and
  // sockets.
  static constexpr std::chrono::milliseconds kCancelBudget{1500};
  static constexpr std::chrono::milliseconds kCloseBudget{300};

 private:
  // Run on a system thread: only flag the change and wake the probe thread.
  static void NETIOAPI_API_ onAddressChange(PVOID self, PMIB_UNICASTIPADDRESS_ROW,
                                            MIB_NOTIFICATION_TYPE);
  static void NETIOAPI_API_ onInterfaceChange(PVOID self, PMIB_IPINTERFACE_ROW,
                                              MIB_NOTIFICATION_TYPE);
  void flagInterfaceChange();
  void createTimer();

  std::shared_ptr<IcmpApi> api_;
  std::shared_ptr<const Clock> clock_;
  std::optional<std::vector<InterfaceInfo>> fixed_interfaces_;
  std::shared_ptr<WinsockApi> winsock_;
  IcmpTransport icmp_;
  UdpTransport udp_;
  WinTransport transport_;
  Handle wake_event_;  // auto-reset: set by wake() and by address-change notifications
  Handle timer_;       // the next deadline
  Duration timer_resolution_{0};
  bool period_raised_ = false;  // timeBeginPeriod(1) in force (no high-resolution timer)
  std::atomic<bool> interfaces_changed_{false};
  bool wait_failing_ = false;
  HANDLE notify_ = nullptr;            // NotifyUnicastIpAddressChange registration
  HANDLE interface_notify_ = nullptr;  // NotifyIpInterfaceChange registration
};

}  // namespace reachmon::core::win
