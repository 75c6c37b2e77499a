// The parts of the Windows host that decide what to tell the service control manager and how a
// console run stops, apart from the SCM itself so that tests drive them (tests/win_host_test.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

#include "reachmon/service/control.h"
#include "windows.h"

namespace reachmon::service::win {

// The service's status as the SCM hears it. START_PENDING with a checkpoint that advances on
// every tick while the body starts (resolving targets may take many seconds); RUNNING once it
// probes and serves; STOP_PENDING whose checkpoint advances only when the stop sequence made
// progress (Control::stopProgress), re-reported unchanged otherwise, so a hung stop shows as
// hung; then STOPPED with the exit code. Thread-safe: the SCM's handler, the service thread and
// the ticker all report.
class StatusReporter {
 public:
  // Sends one status: SetServiceStatus in the service, a recorder in tests.
  using SetStatus = std::function<void(const SERVICE_STATUS&)>;

  // How often the host's ticker calls tick().
  static constexpr std::chrono::milliseconds kTickInterval{500};
  // Every tick advances START_PENDING: the hint only has to outlast one tick.
  static constexpr DWORD kStartWaitHintMs = 5000;
  // The longest step of the stop sequence (stopping the probe engine: at most 2 s), with margin.
  static constexpr DWORD kStopWaitHintMs = 3000;

  StatusReporter(const Control& control, SetStatus set) : control_(control), set_(std::move(set)) {}

  void starting();       // START_PENDING, checkpoint 1
  void running();        // RUNNING; accepts stop, shutdown, preshutdown and paramchange
  void stopRequested();  // STOP_PENDING at once (the control handler, before requestStop)
  void tick();           // re-reports START_PENDING or STOP_PENDING (see above); else nothing
  void stopped(int exit_code);  // STOPPED; the last report

 private:
  enum class Phase { kIdle, kStarting, kRunning, kStopping, kStopped };
  void enterStopping();                                             // under mutex_
  void report(DWORD state, DWORD wait_hint_ms, int exit_code = 0);  // under mutex_

  const Control& control_;
  const SetStatus set_;
  std::mutex mutex_;
  Phase phase_ = Phase::kIdle;
  DWORD checkpoint_ = 0;
  std::uint64_t stop_progress_ = 0;  // Control::stopProgress() at the last checkpoint
};

// A console run (`reachmon run` not started by the SCM): every console event requests a stop.
// Ctrl-C and Ctrl-Break return at once, the stop then runs as usual; closing the console, logging
// off and shutting down also wait (at most `limit`) until the body has finished, because Windows
// ends the process as soon as the handler returns from those (and after about 5 s anyway).
class ConsoleStop {
 public:
  static constexpr std::chrono::milliseconds kDrainLimit{5000};

  explicit ConsoleStop(Control& control, std::chrono::milliseconds limit = kDrainLimit)
      : control_(control), limit_(limit) {}

  // The console control handler's work; TRUE: handled.
  BOOL handle(DWORD event);
  // The body has returned: waiting handlers return, later ones no longer touch the Control.
  void finished();

 private:
  Control& control_;
  const std::chrono::milliseconds limit_;
  std::mutex mutex_;
  std::condition_variable finished_cv_;
  bool finished_ = false;
};

}  // namespace reachmon::service::win
