// One serialised /metrics body shared by the scrapes that come in together. A scrape takes a
// body whose rendering started after the scrape arrived (never older data than it asked for);
// scrapes arriving while a body renders wait for it to finish, then share the next render. N
// parallel scrapes hold two or three bodies, not N (the latest one, kept for the scrapes that
// waited for it until the next render starts, the one rendering, and one still being sent to a
// slow scraper). Between scrapes it keeps one body. reachmon's body is the gzip-compressed text
// (MetricsBody, about 1/25 of the text): 10,000 paths keep about 1 MB, not 15.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <utility>

namespace reachmon::service {

template <typename Body>
class ScrapeCache {
 public:
  using Render = std::function<Body()>;

  explicit ScrapeCache(Render render) : render_(std::move(render)) {}

  // A body rendered for this call, or shared with the calls that arrived with it. Rethrows what
  // render threw (the next call renders again).
  std::shared_ptr<const Body> get();

 private:
  const Render render_;
  std::mutex mutex_;
  std::condition_variable rendered_;
  bool rendering_ = false;
  int waiting_ = 0;  // scrapes waiting for a render to finish
  std::shared_ptr<const Body> body_;
  std::chrono::steady_clock::time_point body_started_;  // when body_'s rendering started
};

template <typename F>
ScrapeCache(F) -> ScrapeCache<std::invoke_result_t<F>>;

template <typename Body>
std::shared_ptr<const Body> ScrapeCache<Body>::get() {
  std::unique_lock lock(mutex_);
  const auto arrived = std::chrono::steady_clock::now();
  for (;;) {
    if (body_ && body_started_ >= arrived) return body_;  // rendered after we asked: share it
    if (!rendering_) break;
    ++waiting_;
    rendered_.wait(lock);
    --waiting_;
  }
  rendering_ = true;
  const auto started = std::chrono::steady_clock::now();
  // With no scrape waiting, none can take the previous body any more: let it go before the new
  // one takes as much memory again (unless a scrape still sends it). Freed outside the lock:
  // unmapping a large body takes a while.
  std::shared_ptr<const Body> previous;
  if (waiting_ == 0) previous = std::move(body_);
  lock.unlock();
  previous.reset();
  std::shared_ptr<const Body> body;
  try {
    body = std::make_shared<const Body>(render_());
  } catch (...) {
    lock.lock();
    rendering_ = false;
    rendered_.notify_all();
    throw;
  }
  lock.lock();
  body_ = body;
  body_started_ = started;
  rendering_ = false;
  rendered_.notify_all();
  return body;
}

}  // namespace reachmon::service
