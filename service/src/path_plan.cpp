#include "path_plan.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "reachmon/core/resolver.h"

namespace reachmon::service {

core::PathSet buildPathSet(const config::Config& cfg, const ResolvedHosts& resolved) {
  core::PathSet set;
  for (const auto& s : cfg.sources)
    set.sources.push_back({s.name, s.family, s.address, s.interface_name});
  for (const auto& t : cfg.targets) {
    std::optional<core::IpAddress> address = t.literal;
    if (!address) {
      auto it = resolved.find({t.host, t.family});
      if (it != resolved.end()) address = it->second;
    }
    core::ProbeOptions opts;
    opts.interval = t.probe.interval;
    opts.timeout = t.probe.timeout;
    opts.payload_size = static_cast<std::uint16_t>(t.probe.payload_size);
    opts.ttl = static_cast<std::uint8_t>(t.probe.ttl);
    opts.tos = static_cast<std::uint8_t>(t.probe.tos);
    opts.dont_fragment = t.probe.dont_fragment;
    core::Labels labels(t.labels.begin(), t.labels.end());
    for (const auto& s : cfg.sources) {
      const bool wanted = t.sources.empty() ? s.family == t.family
                                            : std::find(t.sources.begin(), t.sources.end(),
                                                        s.name) != t.sources.end();
      if (!wanted) continue;
      set.paths.push_back({s.name, t.name, t.host, labels, address, opts});
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
