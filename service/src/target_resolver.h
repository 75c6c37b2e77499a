// Resolves the DNS names of targets off the service's main path, so that no start-up, scrape,
// reload or stop waits for DNS.
//
// Each lookup runs on a detached worker thread: a getaddrinfo that hangs cannot be interrupted
// portably, so nobody ever waits for one. A lookup that outlives its deadline counts as a failure;
// its thread still holds one of the `max_in_flight` slots until it returns, so a dead resolver
// cannot make threads pile up. Workers share the state through a std::shared_ptr and may outlive
// the TargetResolver: the results of lookups that end after its destruction are dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "reachmon/core/address.h"
#include "reachmon/service/path_plan.h"

namespace reachmon::service {

// Blocking lookup: the first address of the family, or an error message (core::resolveHost).
// Called on worker threads, possibly after the TargetResolver is gone: it must own what it uses.
using HostLookup =
    std::function<std::variant<core::IpAddress, std::string>(const std::string&, core::Family)>;

struct TargetResolverOptions {
  HostLookup lookup;                         // empty: core::resolveHost
  std::chrono::milliseconds deadline{5000};  // per lookup; a later answer counts as a failure
  std::size_t max_in_flight = 8;             // worker threads alive at once, hung ones included
};

class TargetResolver {
 public:
  using Key = std::pair<std::string, core::Family>;  // (host, family)

  // What is known about one name.
  struct NameState {
    std::optional<core::IpAddress> address;  // the latest address; kept when a lookup fails
    std::string last_error;                  // of the latest finished lookup; empty if it worked
    std::size_t lookups = 0;                 // lookups finished (answered, failed or timed out)
    bool in_progress = false;                // a lookup is running and within its deadline
  };

  // `on_change` runs on the resolver's own thread, holding none of its locks, whenever the
  // addresses returned by results() changed. It may call results() and setNames().
  TargetResolver(std::function<void()> on_change, TargetResolverOptions options);
  // Returns without waiting for any lookup (it joins only the resolver's scheduling thread, which
  // never blocks on DNS; do not destroy it from inside on_change, nor while holding a lock that
  // on_change takes).
  ~TargetResolver();
  TargetResolver(const TargetResolver&) = delete;
  TargetResolver& operator=(const TargetResolver&) = delete;

  // The names to resolve and how often to resolve each again. New names are looked up at once,
  // known ones keep their address and are looked up again now too; names not in `names` are
  // forgotten. Returns at once. Any thread.
  void setNames(const std::set<Key>& names, std::chrono::nanoseconds interval);
  // The current address of every name (nullopt: not resolved yet). Any thread.
  ResolvedHosts results() const;
  std::map<Key, NameState> states() const;
  // Worker threads still running (including those past their deadline). Any thread.
  std::size_t inFlight() const;

 private:
  struct State;
  void loop();

  std::shared_ptr<State> state_;
  std::thread thread_;
};

}  // namespace reachmon::service
