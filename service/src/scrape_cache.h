// One serialised /metrics body shared by the scrapes that come in together. A scrape takes a
// body whose rendering started after the scrape arrived (never older data than it asked for);
// scrapes arriving while a body renders wait for it to finish, then share the next render. With
// 100k paths a body is hundreds of MB: N parallel scrapes hold two or three bodies, not N (the
// latest one, kept for the scrapes that waited for it until the next render starts, the one
// rendering, and one still being sent to a slow scraper). Between scrapes it keeps one body.
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

  explicit ScrapeCache(Render render) : render_(std::move(render)) {}

  // A body rendered for this call, or shared with the calls that arrived with it. Rethrows what
  // render threw (the next call renders again).
  std::shared_ptr<const std::string> get();

 private:
  const Render render_;
  std::mutex mutex_;
  std::condition_variable rendered_;
  bool rendering_ = false;
  int waiting_ = 0;  // scrapes waiting for a render to finish
  std::shared_ptr<const std::string> body_;
  std::chrono::steady_clock::time_point body_started_;  // when body_'s rendering started
};

}  // namespace reachmon::service
