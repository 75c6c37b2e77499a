#include "scm_host.h"

namespace reachmon::service::win {

void StatusReporter::starting() {
  std::lock_guard lock(mutex_);
  if (phase_ != Phase::kIdle) return;
  phase_ = Phase::kStarting;
  checkpoint_ = 1;
  report(SERVICE_START_PENDING, kStartWaitHintMs);
}

void StatusReporter::running() {
  std::lock_guard lock(mutex_);
  if (phase_ != Phase::kStarting && phase_ != Phase::kIdle) return;
  phase_ = Phase::kRunning;
  checkpoint_ = 0;
  report(SERVICE_RUNNING, 0);
}

void StatusReporter::stopRequested() {
  std::lock_guard lock(mutex_);
  if (phase_ == Phase::kStopped) return;
  if (phase_ != Phase::kStopping) enterStopping();
  report(SERVICE_STOP_PENDING, kStopWaitHintMs);
}

void StatusReporter::tick() {
  std::lock_guard lock(mutex_);
  switch (phase_) {
    case Phase::kStarting:
      ++checkpoint_;
      report(SERVICE_START_PENDING, kStartWaitHintMs);
      return;
    case Phase::kRunning:
      if (!control_.stopRequested()) return;
      enterStopping();
      report(SERVICE_STOP_PENDING, kStopWaitHintMs);
      return;
    case Phase::kStopping:
      if (const auto progress = control_.stopProgress(); progress != stop_progress_) {
        stop_progress_ = progress;
        ++checkpoint_;
      }
      report(SERVICE_STOP_PENDING, kStopWaitHintMs);
      return;
    default:
      return;
  }
}

void StatusReporter::stopped(int exit_code) {
  std::lock_guard lock(mutex_);
  phase_ = Phase::kStopped;
  checkpoint_ = 0;
  report(SERVICE_STOPPED, 0, exit_code);
}

void StatusReporter::enterStopping() {
  phase_ = Phase::kStopping;
  checkpoint_ = 1;
  stop_progress_ = control_.stopProgress();
}

void StatusReporter::report(DWORD state, DWORD wait_hint_ms, int exit_code) {
  SERVICE_STATUS s{};
  s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  s.dwCurrentState = state;
  s.dwControlsAccepted = state == SERVICE_RUNNING
                             ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN |
                                   SERVICE_ACCEPT_PRESHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                             : 0;
  s.dwCheckPoint = checkpoint_;
  s.dwWaitHint = wait_hint_ms;
  s.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  s.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
  set_(s);
}

BOOL ConsoleStop::handle(DWORD event) {
  std::unique_lock lock(mutex_);
  if (finished_) return TRUE;
  control_.requestStop();
  if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT)
    finished_cv_.wait_for(lock, limit_, [this] { return finished_; });
  return TRUE;
}

void ConsoleStop::finished() {
  {
    std::lock_guard lock(mutex_);
    finished_ = true;
  }
  finished_cv_.notify_all();
}

}  // namespace reachmon::service::win
