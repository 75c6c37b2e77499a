// One serialised /metrics body shared by the scrapes that come in together: concurrent scrapes
// wait for the body being rendered instead of each building their own, and a body rendered less
// than `max_age` ago is served again. With 100k paths a body is tens of MB: N parallel scrapes
// then hold one body, not N.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

namespace reachmon::service {

class ScrapeCache {
 public:
  using Render = std::function<std::string()>;
  static constexpr std::chrono::milliseconds kMaxAge{1000};

  explicit ScrapeCache(Render render, std::chrono::milliseconds max_age = kMaxAge)
      : render_(std::move(render)), max_age_(max_age) {}

  // The current body: a fresh one, or the one another scrape is rendering, or one rendered less
  // than max_age ago. Rethrows what render threw (the next call renders again).
  std::shared_ptr<const std::string> get();

 private:
  bool freshLocked(std::chrono::steady_clock::time_point now) const;

  const Render render_;
  const std::chrono::milliseconds max_age_;
  std::mutex mutex_;
  std::condition_variable rendered_;
  bool rendering_ = false;
  std::shared_ptr<const std::string> body_;
  std::chrono::steady_clock::time_point rendered_at_;
};

}  // namespace reachmon::service
