// Requests that reach the service's main loop from signal handlers, the SCM, or HTTP.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
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
  // The stop sequence's progress: App::run notes each step it finished (HTTP stopped, probing
  // stopped, ...), so a host can tell a stop that moves from one that hangs (the Windows host
  // advances its STOP_PENDING checkpoint only when this changed). Any thread.
  void noteStopProgress() { stop_progress_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t stopProgress() const { return stop_progress_.load(std::memory_order_relaxed); }
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
  std::atomic<std::uint64_t> stop_progress_{0};
};

}  // namespace reachmon::service
