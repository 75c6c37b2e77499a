// `reachmon probe`: probes one target like ping, from one source or from every interface at
// once, for troubleshooting. Lines are written as outcomes come (flushed: line-buffered even
// into a pipe), and a summary per source at the end.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <optional>
#include <vector>

#include "commands.h"
#include "reachmon/config/duration.h"
#include "reachmon/config/limits.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/monitor.h"
#include "reachmon/core/resolver.h"

namespace reachmon::service {
namespace {

int fail(const std::string& message) {
  std::cerr << "reachmon probe: " << message << "\n";
  return 2;
}

// One source's path and what was printed of it so far.
struct ProbedPath {
  std::string source;  // as the user named it (or the interface's name)
  std::shared_ptr<const core::PathStats> stats;
  std::uint64_t seq = 0;  // outcomes printed
  std::uint64_t replied = 0;
  std::uint64_t timed_out = 0;
  std::array<std::uint64_t, core::kErrorReasonCount> errors{};
  std::uint64_t timed = 0;  // replies printed with their RTT
  std::int64_t min_ns = INT64_MAX;
  std::int64_t max_ns = 0;
  std::int64_t sum_ns = 0;
};

// Whether an interface's address `a` can reach `target`: a loopback target from loopback
// addresses only, another from other addresses, and a global one not from a link-local address
// (every IPv6 interface has one, bridges and tunnels included).
bool canReach(const core::IpAddress& a, const core::IpAddress& target) {
  if (target.isLoopback()) return a.isLoopback();
  return !a.isLoopback() && (!a.isLinkLocal() || target.isLinkLocal());
}

// Every interface that is up with an address of `family` that can reach `target`.
std::vector<core::SourceSpec> allSources(core::Family family, const core::IpAddress& target) {
  std::vector<core::SourceSpec> out;
  for (const auto& ifc : core::listInterfaces()) {
    if (!ifc.up) continue;
    bool usable = false;
    for (const auto& a : ifc.addresses)
      usable = usable || (a.family == family && canReach(a, target));
    if (!usable) continue;
    core::SourceSpec src;
    src.name = ifc.name;
    src.family = family;
    src.interface_name = ifc.name;
    out.push_back(std::move(src));
  }
  return out;
}

// Prints what happened on `p` since the last look. Outcomes of one path come in the order the
// probes were sent when the timeout is at most the interval; the RTT of a reply is exact when
// replies of the path come further apart than the polling (a millisecond), else the older ones
// of a burst are printed without it.
// Nothing beyond `limit` outcomes (0: no limit).
void printNews(ProbedPath& p, const std::string& target, bool prefix, std::uint64_t limit) {
  const auto more = [&] { return limit == 0 || p.seq < limit; };
  const std::string tag = prefix ? "[" + p.source + "] " : "";
  const std::uint64_t replied = p.stats->replied.load();
  if (replied > p.replied) {
    const std::int64_t ns = p.stats->last_rtt_ns.load();
    const int ttl = p.stats->reply_ttl.load();
    for (; p.replied < replied && more(); ++p.replied) {
      ++p.seq;
      if (p.replied + 1 < replied) {
        std::cout << fmt::format("{}reply from {}: seq={} time=? ms (replies came too close)\n",
                                 tag, target, p.seq);
        continue;
      }
      ++p.timed;
      p.min_ns = std::min(p.min_ns, ns);
      p.max_ns = std::max(p.max_ns, ns);
      p.sum_ns += ns;
      // UDP: an echo, or the target's port unreachable (its TTL is the ICMP error's).
      std::cout << fmt::format("{}reply from {}: seq={} time={:.3f} ms ttl={}\n", tag, target,
                               p.seq, static_cast<double>(ns) / 1e6, ttl);
    }
  }
  for (std::size_t i = 0; i < p.errors.size(); ++i) {
    for (const std::uint64_t n = p.stats->errors[i].load(); p.errors[i] < n && more();
         ++p.errors[i]) {
      std::cout << fmt::format("{}{}: seq={}\n", tag,
                               core::reasonName(static_cast<core::ErrorReason>(i)), ++p.seq);
    }
  }
  for (const std::uint64_t n = p.stats->timed_out.load(); p.timed_out < n && more(); ++p.timed_out)
    std::cout << fmt::format("{}timeout: seq={}\n", tag, ++p.seq);
  std::cout << std::flush;
}

void printSummary(const ProbedPath& p, const std::string& target, bool named) {
  std::cout << fmt::format("--- {}{} ---\n", target, named ? " from " + p.source : "");
  const std::uint64_t lost = p.seq - p.replied;
  std::cout << fmt::format(
      "{} probes, {} replied, {:.1f}% loss", p.seq, p.replied,
      p.seq ? 100.0 * static_cast<double>(lost) / static_cast<double>(p.seq) : 0.0);
  // Over the replies printed with their time (all but the older ones of a burst).
  if (p.timed)
    std::cout << fmt::format(", rtt min/avg/max = {:.3f}/{:.3f}/{:.3f} ms",
                             static_cast<double>(p.min_ns) / 1e6,
                             static_cast<double>(p.sum_ns) / static_cast<double>(p.timed) / 1e6,
                             static_cast<double>(p.max_ns) / 1e6);
  std::cout << "\n";
}

}  // namespace

int probeCommand(const ProbeOptions& opts, Control& control) {
  const auto interval = config::parseDuration(opts.interval);
  const auto timeout = config::parseDuration(opts.timeout);
  if (!interval || *interval < config::kInterval.min || *interval > config::kInterval.max)
    return fail("invalid --interval '" + opts.interval + "' (10ms to 1h)");
  if (!timeout || *timeout < config::kTimeout.min || *timeout > config::kTimeout.max)
    return fail("invalid --timeout '" + opts.timeout + "' (10ms to 1m, independent of --interval)");

  const std::string& target = opts.target;
  std::optional<core::IpAddress> target_address = core::parseIpAddress(target);
  std::vector<core::SourceSpec> sources;
  if (!opts.all_sources) {
    core::SourceSpec src;
    src.name = opts.source;
    if (auto a = core::parseIpAddress(opts.source)) {
      src.address = a;
      src.family = a->family;
    } else {
      src.interface_name = opts.source;
      src.family = target_address ? target_address->family : core::Family::kIpv4;
    }
    sources.push_back(std::move(src));
  }
  const core::Family family = sources.empty()
                                  ? (target_address ? target_address->family : core::Family::kIpv4)
                                  : sources.front().family;
  if (!target_address) {
    auto r = core::resolveHost(target, family);
    if (auto* err = std::get_if<std::string>(&r))
      return fail("cannot resolve " + target + ": " + *err);
    target_address = std::get<core::IpAddress>(r);
  }
  if (target_address->family != family)
    return fail("source and target are of different address families");
  if (opts.all_sources) {
    sources = allSources(family, *target_address);
    if (sources.empty())
      return fail(fmt::format("no interface is up with an {} address that can reach {}",
                              core::familyName(family), core::formatIpAddress(*target_address)));
  }

  core::PathSet set;
  for (const auto& src : sources) {
    core::PathSpec path{src.name, target, target, {}, target_address, {}};
    path.options.interval = *interval;
    path.options.timeout = *timeout;
    if (opts.udp_port) {
      path.options.probe = core::ProbeKind::kUdp;
      path.options.port = static_cast<std::uint16_t>(opts.udp_port);
    }
    set.paths.push_back(std::move(path));
  }
  set.sources = sources;
  set.history = false;  // no status page here
  const std::size_t payload = set.paths.front().options.payload_size;
  spdlog::set_level(spdlog::level::warn);
  std::unique_ptr<core::Monitor> monitor;
  try {
    monitor = core::Monitor::create({});
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  monitor->apply(std::move(set), std::chrono::microseconds(50));
  std::string from = opts.source;
  if (opts.all_sources) {
    from.clear();
    for (const auto& s : sources) from += (from.empty() ? "" : ", ") + s.name;
  }
  std::cout << fmt::format("PROBE {} ({}) from {}: {}{} data bytes\n", target,
                           core::formatIpAddress(*target_address), from,
                           opts.udp_port ? fmt::format("UDP port {}, ", opts.udp_port) : "",
                           payload)
            << std::flush;
  monitor->start();
  std::vector<ProbedPath> paths;
  for (const auto& p : monitor->snapshot()->paths) paths.push_back({p.spec->source, p.stats});
  const bool named = paths.size() > 1;
  for (;;) {
    // Ctrl-C, SIGTERM, and SIGHUP too (the terminal went away): a reload means nothing here.
    const bool stop = control.waitFor(std::chrono::milliseconds(1)) != Control::Event::kNone;
    bool done = opts.count > 0;
    for (auto& p : paths) {
      printNews(p, target, named, opts.count);
      done = done && p.seq >= opts.count;
    }
    if (stop || done) break;
  }
  monitor->stop();
  std::cout << "\n";
  bool every_source_replied = true;
  for (const auto& p : paths) {
    printSummary(p, target, named);
    every_source_replied = every_source_replied && p.replied > 0;
  }
  std::cout << std::flush;
  return every_source_replied ? 0 : 1;
}

}  // namespace reachmon::service
