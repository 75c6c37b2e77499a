// Monotonic time for the probe loop. Injected so that scheduler tests run without sleeping.
#pragma once

#include <chrono>

namespace reachmon::core {

// Nanoseconds on a monotonic clock with an arbitrary epoch.
using TimePoint = std::chrono::nanoseconds;
using Duration = std::chrono::nanoseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::duration_cast<TimePoint>(
        std::chrono::steady_clock::now().time_since_epoch());
  }
};

}  // namespace reachmon::core
