#include "reachmon/service/path_plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "reachmon/core/resolver.h"

namespace reachmon::service {

core::PathSet buildPathSet(const config::Config& cfg, const ResolvedHosts& resolved) {
  core::PathSet set;
  set.sources = cfg.sources;
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

ResolvedHosts resolveTargets(const config::Config& cfg, const ResolvedHosts& previous) {
  ResolvedHosts out;
  for (const auto& t : cfg.targets) {
    if (t.literal) continue;
    const auto key = std::make_pair(t.host, t.family);
    if (out.count(key)) continue;
    auto result = core::resolveHost(t.host, t.family);
    if (auto* a = std::get_if<core::IpAddress>(&result)) {
      out[key] = *a;
      continue;
    }
    auto prev = previous.find(key);
    out[key] = prev == previous.end() ? std::nullopt : prev->second;
    spdlog::warn("target {}: cannot resolve {} ({}){}", t.name, t.host,
                 std::get<std::string>(result),
                 out[key] ? "; keeping " + core::formatIpAddress(*out[key]) : "");
  }
  return out;
}

}  // namespace reachmon::service
