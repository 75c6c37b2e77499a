#include "readiness.h"

namespace reachmon::service {

std::pair<bool, std::string> startupDone(
    const config::Config& cfg,
    const std::map<TargetResolver::Key, TargetResolver::NameState>& names,
    const core::Snapshot& snapshot) {
  std::size_t unanswered = 0;
  for (const auto& [key, state] : names)
    if (state.lookups == 0) ++unanswered;
  if (unanswered > 0)
    return {false, "not ready: the first lookup of " + std::to_string(unanswered) + " of " +
                       std::to_string(names.size()) + " target names is under way"};
  // A lookup's outcome reaches the paths through the resolver's callback and the probe thread's
  // next snapshot: until then a scrape would still show the path without its address.
  std::map<std::string, TargetResolver::Key> named;  // target name -> its DNS name
  for (const auto& t : cfg.targets)
    if (!t.literal) named.emplace(t.name, TargetResolver::Key{t.host, t.family});
  for (const auto& p : snapshot.paths) {
    const auto target = named.find(p.spec->target);
    if (target == named.end()) continue;
    const auto state = names.find(target->second);
    if (state != names.end() && p.spec->target_address != state->second.address)
      return {false, "not ready: target " + p.spec->target +
                         " waits for its looked-up address to reach the probe loop"};
  }
  return {true, "ready"};
}

std::pair<bool, std::string> Readiness::check() {
  if (ready_.load(std::memory_order_acquire)) return {true, "ready"};
  auto answer = done_();
  if (answer.first) ready_.store(true, std::memory_order_release);
  return answer;
}

}  // namespace reachmon::service
