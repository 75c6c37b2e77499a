// `reachmon probe`: a few probes on one path, printed like ping, for troubleshooting.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <iostream>
#include <optional>
#include <thread>

#include "commands.h"
#include "reachmon/config/duration.h"
#include "reachmon/config/limits.h"
#include "reachmon/core/monitor.h"
#include "reachmon/core/resolver.h"

namespace reachmon::service {
namespace {

int fail(const std::string& message) {
  std::cerr << "reachmon probe: " << message << "\n";
  return 2;
}

}  // namespace

int probeCommand(const std::map<std::string, std::string>& opts) {
  const std::string& source = opts.at("--source");
  const std::string& target = opts.at("--target");
  if (source.empty() || target.empty()) return fail("--source and --target are required");
  int count = 0;
  const std::string& c = opts.at("--count");
  auto [p, ec] = std::from_chars(c.data(), c.data() + c.size(), count);
  if (ec != std::errc() || p != c.data() + c.size() || count < 1 || count > 100000)
    return fail("--count must be a whole number from 1 to 100000");
  const auto interval = config::parseDuration(opts.at("--interval"));
  const auto timeout = config::parseDuration(opts.at("--timeout"));
  if (!interval || *interval < config::kInterval.min || *interval > config::kInterval.max)
    return fail("invalid --interval (10ms to 1h)");
  if (!timeout || *timeout < config::kTimeout.min || *timeout > config::kTimeout.max)
    return fail("invalid --timeout (10ms to 1m, independent of --interval)");
  std::optional<std::uint16_t> udp_port;
  if (const std::string& u = opts.at("--udp"); !u.empty()) {
    unsigned port = 0;
    auto [end, err] = std::from_chars(u.data(), u.data() + u.size(), port);
    if (err != std::errc() || end != u.data() + u.size() || port < config::kPort.min ||
        port > config::kPort.max)
      return fail("--udp must be a port number from 1 to 65535");
    udp_port = static_cast<std::uint16_t>(port);
  }

  core::SourceSpec src;
  src.name = "cli";
  std::optional<core::IpAddress> target_address = core::parseIpAddress(target);
  if (auto a = core::parseIpAddress(source)) {
    src.address = a;
    src.family = a->family;
  } else {
    src.interface_name = source;
    src.family = target_address ? target_address->family : core::Family::kIpv4;
  }
  if (!target_address) {
    auto r = core::resolveHost(target, src.family);
    if (auto* err = std::get_if<std::string>(&r))
      return fail("cannot resolve " + target + ": " + *err);
    target_address = std::get<core::IpAddress>(r);
  }
  if (target_address->family != src.family)
    return fail("source and target are of different address families");

  core::PathSpec path{"cli", target, target, {}, target_address, {}};
  path.options.interval = *interval;
  path.options.timeout = *timeout;
  if (udp_port) {
    path.options.probe = core::ProbeKind::kUdp;
    path.options.port = *udp_port;
  }
  spdlog::set_level(spdlog::level::warn);
  std::unique_ptr<core::Monitor> monitor;
  try {
    monitor = core::Monitor::create({});
  } catch (const std::exception& e) {
    return fail(e.what());
  }
  monitor->apply({{src}, {path}}, std::chrono::microseconds(50));
  std::cout << fmt::format(
      "PROBE {} ({}) from {}: {}{} data bytes\n", target, core::formatIpAddress(*target_address),
      source, udp_port ? fmt::format("UDP port {}, ", *udp_port) : "", path.options.payload_size);
  monitor->start();
  const auto stats = monitor->snapshot()->paths.front().stats;
  std::uint64_t seen = 0, replied = 0, timeouts = 0;
  std::int64_t min_ns = INT64_MAX, max_ns = 0, sum_ns = 0;
  std::array<std::uint64_t, core::kErrorReasonCount> errors{};
  while (seen < static_cast<std::uint64_t>(count)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (stats->replied.load() > replied) {
      ++replied;
      ++seen;
      const auto ns = stats->last_rtt_ns.load();
      min_ns = std::min(min_ns, ns);
      max_ns = std::max(max_ns, ns);
      sum_ns += ns;
      // UDP: an echo, or the target's port unreachable (its TTL is the ICMP error's).
      std::cout << fmt::format("reply from {}: time={:.3f} ms ttl={}\n", target,
                               static_cast<double>(ns) / 1e6, stats->reply_ttl.load());
    }
    for (std::size_t i = 0; i < errors.size(); ++i) {
      if (stats->errors[i].load() > errors[i]) {
        ++errors[i];
        ++seen;
        std::cout << core::reasonName(static_cast<core::ErrorReason>(i)) << "\n";
      }
    }
    for (; stats->timed_out.load() > timeouts; ++timeouts, ++seen) std::cout << "timeout\n";
  }
  monitor->stop();
  const std::uint64_t lost = seen - replied;
  std::cout << fmt::format("--- {} ---\n{} probes, {} replied, {:.1f}% loss", target, seen, replied,
                           100.0 * static_cast<double>(lost) / static_cast<double>(seen));
  if (replied)
    std::cout << fmt::format(", rtt min/avg/max = {:.3f}/{:.3f}/{:.3f} ms",
                             static_cast<double>(min_ns) / 1e6,
                             static_cast<double>(sum_ns) / static_cast<double>(replied) / 1e6,
                             static_cast<double>(max_ns) / 1e6);
  std::cout << "\n";
  return replied == seen ? 0 : 1;
}

}  // namespace reachmon::service
