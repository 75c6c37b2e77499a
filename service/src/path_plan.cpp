#include "reachmon/service/path_plan.h"

#include <algorithm>

namespace reachmon::service {

core::PathSet buildPathSet(const config::Config& cfg, const ResolvedHosts& resolved) {
  core::PathSet set;
  set.sources = cfg.sources;
  set.history = cfg.web.graphs;
  for (const auto& t : cfg.targets) {
    std::optional<core::IpAddress> address = t.literal;
    if (!address) {
      auto it = resolved.find({t.host, t.family});
      if (it != resolved.end()) address = it->second;
    }
    for (const auto& s : cfg.sources) {
      const bool wanted = t.sources.empty() ? s.family == t.family
                                            : std::find(t.sources.begin(), t.sources.end(),
                                                        s.name) != t.sources.end();
      if (!wanted) continue;
      set.paths.push_back({s.name, t.name, t.host, t.labels, address, t.probe});
    }
  }
  return set;
}

}  // namespace reachmon::service
