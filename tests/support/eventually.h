// Waiting in tests for something another thread does: poll instead of sleeping a guessed time.
#pragma once

#include <chrono>
#include <thread>

namespace reachmon::test {

// Polls `done` until it returns true (true) or `limit` of real time has passed (false).
template <typename F>
bool eventually(F done, std::chrono::seconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

}  // namespace reachmon::test
