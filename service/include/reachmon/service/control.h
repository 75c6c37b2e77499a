// Requests that reach the service's main loop from signal handlers, the SCM, or HTTP.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace reachmon::service {

class Control {
 public:
  enum class Event { kNone, kStop, kReload };

  void requestStop() { post(stop_); }
  // `why` names the request in the log ("SIGHUP", "PARAMCHANGE"); it must be a literal.
  void requestReload(const char* why) {
    {
      std::lock_guard lock(mutex_);
      reload_reason_ = why;
    }
    post(reload_);
  }
  const char* reloadReason() const {
    std::lock_guard lock(mutex_);
    return reload_reason_;
  }
  bool stopRequested() const {
    std::lock_guard lock(mutex_);
    return stop_;
  }
  // Waits up to `timeout` for a request; stop wins over reload. Consumes a reload request.
  Event waitFor(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, timeout, [&] { return stop_ || reload_; });
    if (stop_) return Event::kStop;
    if (reload_) {
      reload_ = false;
      return Event::kReload;
    }
    return Event::kNone;
  }

 private:
  void post(bool& flag) {
    {
      std::lock_guard lock(mutex_);
      flag = true;
    }
    cv_.notify_all();
  }
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool reload_ = false;
  const char* reload_reason_ = "reload request";
};

}  // namespace reachmon::service
