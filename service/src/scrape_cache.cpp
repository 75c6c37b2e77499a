#include "scrape_cache.h"

namespace reachmon::service {

std::shared_ptr<const std::string> ScrapeCache::get() {
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
  // unmapping hundreds of MB takes a while.
  std::shared_ptr<const std::string> previous;
  if (waiting_ == 0) previous = std::move(body_);
  lock.unlock();
  previous.reset();
  std::shared_ptr<const std::string> body;
  try {
    body = std::make_shared<const std::string>(render_());
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
