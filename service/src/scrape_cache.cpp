#include "scrape_cache.h"

namespace reachmon::service {

std::shared_ptr<const std::string> ScrapeCache::get() {
  std::unique_lock lock(mutex_);
  const auto arrived = std::chrono::steady_clock::now();
  for (;;) {
    if (body_ && body_started_ >= arrived) return body_;  // rendered after we asked: share it
    if (!rendering_) break;
    rendered_.wait(lock);
  }
  rendering_ = true;
  const auto started = std::chrono::steady_clock::now();
  lock.unlock();
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
