#include "target_resolver.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <vector>

#include "reachmon/core/resolver.h"

namespace reachmon::service {

using Clock = std::chrono::steady_clock;

namespace {

struct Entry {
  TargetResolver::NameState state;
  bool running = false;      // a worker thread for this name is alive (maybe past its deadline)
  std::uint64_t ticket = 0;  // of that worker: a late or foreign result is recognised
  Clock::time_point deadline{};
  Clock::time_point next_due{};
};

std::string describe(const TargetResolver::Key& key) {
  return key.first + " (" + std::string(core::familyName(key.second)) + ")";
}

}  // namespace

// Shared by the TargetResolver and its workers, which may outlive it.
struct TargetResolver::State {
  State(std::function<void()> callback, TargetResolverOptions opts)
      : on_change(std::move(callback)), options(std::move(opts)) {
    if (!options.lookup) options.lookup = &core::resolveHost;
    options.max_in_flight = std::max<std::size_t>(options.max_in_flight, 1);
  }

  // Called by a worker when its lookup returned.
  void finish(const Key& key, std::uint64_t ticket,
              std::variant<core::IpAddress, std::string> result) {
    {
      std::lock_guard lock(mutex);
      --in_flight;
      auto it = entries.find(key);
      if (!stopping && it != entries.end() && it->second.running && it->second.ticket == ticket) {
        Entry& e = it->second;
        e.running = false;
        if (e.state.in_progress) record(key, e, std::move(result), Clock::now());
        // else: past its deadline, already counted as a failure; the answer is dropped.
      }
    }
    cv.notify_all();
  }

  // Under mutex: the outcome of one lookup.
  void record(const Key& key, Entry& e, std::variant<core::IpAddress, std::string> result,
              Clock::time_point now) {
    e.state.in_progress = false;
    ++e.state.lookups;
    e.next_due = now + interval;
    if (auto* a = std::get_if<core::IpAddress>(&result)) {
      e.state.last_error.clear();
      if (e.state.address != *a) {
        e.state.address = *a;
        changed = true;
        logs.push_back(
            {spdlog::level::info, describe(key) + " resolves to " + core::formatIpAddress(*a)});
      }
      return;
    }
    e.state.last_error = std::get<std::string>(std::move(result));
    logs.push_back({spdlog::level::warn,
                    "cannot resolve " + describe(key) + ": " + e.state.last_error +
                        (e.state.address ? "; keeping " + core::formatIpAddress(*e.state.address)
                                         : std::string("; its paths report resolve_failed"))});
  }

  std::function<void()> on_change;
  TargetResolverOptions options;

  mutable std::mutex mutex;
  std::condition_variable cv;
  bool stopping = false;
  std::map<Key, Entry> entries;
  std::chrono::nanoseconds interval{std::chrono::minutes(5)};
  std::size_t in_flight = 0;
  std::uint64_t next_ticket = 1;
  bool changed = false;  // addresses changed since on_change last ran
  std::vector<std::pair<spdlog::level::level_enum, std::string>> logs;  // written by the loop
};

TargetResolver::TargetResolver(std::function<void()> on_change, TargetResolverOptions options)
    : state_(std::make_shared<State>(std::move(on_change), std::move(options))),
      thread_([this] { loop(); }) {}

TargetResolver::~TargetResolver() {
  {
    std::lock_guard lock(state_->mutex);
    state_->stopping = true;
    state_->entries.clear();
  }
  state_->cv.notify_all();
  thread_.join();
}

void TargetResolver::setNames(const std::set<Key>& names, std::chrono::nanoseconds interval) {
  {
    std::lock_guard lock(state_->mutex);
    State& s = *state_;
    s.interval = interval;
    std::erase_if(s.entries, [&](const auto& kv) { return !names.count(kv.first); });
    const auto now = Clock::now();
    for (const auto& key : names) {
      Entry& e = s.entries[key];
      if (!e.running) e.next_due = now;
    }
  }
  state_->cv.notify_all();
}

ResolvedHosts TargetResolver::results() const {
  std::lock_guard lock(state_->mutex);
  ResolvedHosts out;
  for (const auto& [key, e] : state_->entries) out[key] = e.state.address;
  return out;
}

std::map<TargetResolver::Key, TargetResolver::NameState> TargetResolver::states() const {
  std::lock_guard lock(state_->mutex);
  std::map<Key, NameState> out;
  for (const auto& [key, e] : state_->entries) out[key] = e.state;
  return out;
}

std::size_t TargetResolver::inFlight() const {
  std::lock_guard lock(state_->mutex);
  return state_->in_flight;
}

void TargetResolver::loop() {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  while (!s.stopping) {
    const auto now = Clock::now();
    for (auto& [key, e] : s.entries) {
      if (e.state.in_progress && now >= e.deadline)
        s.record(key, e, "no answer within " + std::to_string(s.options.deadline.count()) + " ms",
                 now);
    }
    for (auto& [key, e] : s.entries) {
      if (s.in_flight >= s.options.max_in_flight) break;
      if (e.running || now < e.next_due) continue;
      e.running = e.state.in_progress = true;
      e.ticket = s.next_ticket++;
      e.deadline = now + s.options.deadline;
      ++s.in_flight;
      try {
        // Detached: nobody waits for a lookup. The worker owns a reference to the state.
        std::thread([state = state_, lookup = s.options.lookup, key = key, ticket = e.ticket] {
          state->finish(key, ticket, lookup(key.first, key.second));
        }).detach();
      } catch (const std::system_error& err) {
        --s.in_flight;
        e.running = false;
        s.record(key, e, std::string("cannot start a lookup thread: ") + err.what(), now);
      }
    }
    if (s.changed || !s.logs.empty()) {
      const bool changed = std::exchange(s.changed, false);
      auto logs = std::move(s.logs);
      s.logs.clear();
      lock.unlock();  // on_change may call back into us, and takes the App's locks
      for (const auto& [level, text] : logs) spdlog::log(level, "{}", text);
      if (changed && s.on_change) s.on_change();
      lock.lock();
      continue;
    }
    auto wake = Clock::time_point::max();
    for (const auto& [key, e] : s.entries) {
      if (e.state.in_progress) wake = std::min(wake, e.deadline);
      if (!e.running && s.in_flight < s.options.max_in_flight) wake = std::min(wake, e.next_due);
    }
    if (wake == Clock::time_point::max())
      s.cv.wait(lock);
    else
      s.cv.wait_until(lock, wake);
  }
}

}  // namespace reachmon::service
