#include "scrape_cache.h"

namespace reachmon::service {

bool ScrapeCache::freshLocked(std::chrono::steady_clock::time_point now) const {
  return body_ && now - rendered_at_ <= max_age_;
}

std::shared_ptr<const std::string> ScrapeCache::get() {
  std::unique_lock lock(mutex_);
  const auto arrived = std::chrono::steady_clock::now();
  while (rendering_) rendered_.wait(lock);  // share the body being rendered
  if (freshLocked(arrived)) return body_;
  rendering_ = true;
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
  rendered_at_ = std::chrono::steady_clock::now();
  rendering_ = false;
  rendered_.notify_all();
  return body;
}

}  // namespace reachmon::service
