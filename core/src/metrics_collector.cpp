#include "reachmon/core/metrics_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <limits>
#include <map>
#include <set>

namespace reachmon::core {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(const char* name, const char* help, MetricType type) {
  return MetricFamily{name, help, type, {}};
}

ClientMetric withLabels(std::vector<ClientMetric::Label> labels) {
  ClientMetric m;
  m.label = std::move(labels);
  return m;
}

void addCounter(MetricFamily& f, const std::vector<ClientMetric::Label>& labels, double v) {
  auto m = withLabels(labels);
  m.counter.value = v;
  f.metric.push_back(std::move(m));
}

void addGauge(MetricFamily& f, const std::vector<ClientMetric::Label>& labels, double v) {
  auto m = withLabels(labels);
  m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

void addHistogram(MetricFamily& f, const std::vector<ClientMetric::Label>& labels,
                  const Histogram& h) {
  auto m = withLabels(labels);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
    cumulative += h.bucketCount(i);
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < h.bounds().size() ? h.bounds()[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  m.histogram.sample_count = cumulative;  // the +Inf bucket and _count always agree
  m.histogram.sample_sum = h.sumSeconds();
  f.metric.push_back(std::move(m));
}

double load(const std::atomic<std::uint64_t>& c) {
  return static_cast<double>(c.load(std::memory_order_acquire));
}

}  // namespace

MetricsCollector::MetricsCollector(SnapshotFn snapshot, const MonitorStats& monitor,
                                   const ReloadStatus& reload, BuildInfo build)
    : snapshot_(std::move(snapshot)),
      monitor_(monitor),
      reload_(reload),
      build_(std::move(build)) {}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  const auto snap = snapshot_();
  auto scheduled = family("reachmon_probes_scheduled_total",
                          "Probes that came due on the path and have their outcome: replied, "
                          "timed out or failed with a reason. Loss = 1 - replied / scheduled.",
                          MetricType::Counter);
  auto sent = family("reachmon_probes_sent_total", "Echo requests handed to the OS on the path.",
                     MetricType::Counter);
  auto replied = family("reachmon_probes_replied_total",
                        "Valid echo replies received within the timeout.", MetricType::Counter);
  auto timed_out =
      family("reachmon_probes_timed_out_total",
             "Echo requests with no valid reply within the timeout.", MetricType::Counter);
  auto errors = family("reachmon_probe_errors_total",
                       "Probes that failed, by reason (ICMP errors, only corrupted replies, send "
                       "failures, no source address, unresolved target).",
                       MetricType::Counter);
  auto rtt =
      family("reachmon_rtt_seconds", "Round-trip time of valid replies.", MetricType::Histogram);
  auto last_rtt = family("reachmon_last_rtt_seconds", "Round-trip time of the latest valid reply.",
                         MetricType::Gauge);
  auto up = family("reachmon_path_up", "1 while the latest finished probe was answered.",
                   MetricType::Gauge);
  auto ttl = family("reachmon_reply_ttl", "TTL or hop limit of the latest valid reply.",
                    MetricType::Gauge);
  auto late =
      family("reachmon_late_replies_total",
             "Valid replies that arrived after their probe had timed out.", MetricType::Counter);
  auto dup =
      family("reachmon_duplicate_replies_total",
             "Valid replies to a probe that had already been answered.", MetricType::Counter);
  auto corrupted = family("reachmon_corrupted_replies_total",
                          "Echo replies matching a probe whose data differs from what was sent; "
                          "never counted as replies.",
                          MetricType::Counter);

  // Read outcomes before `sent` and `scheduled`: the probe thread counts those first, so a
  // scrape never shows more outcomes than probes.
  for (const auto& p : snap->paths) {
    std::vector<ClientMetric::Label> labels = {{"source", p.spec->source},
                                               {"target", p.spec->target}};
    for (const auto& [k, v] : p.spec->labels) labels.push_back({k, v});
    const PathStats& s = *p.stats;
    const double replied_v = load(s.replied);
    const double timed_out_v = load(s.timed_out);
    std::array<double, kErrorReasonCount> error_v{};
    for (std::size_t i = 0; i < kErrorReasonCount; ++i) error_v[i] = load(s.errors[i]);
    addCounter(replied, labels, replied_v);
    addCounter(timed_out, labels, timed_out_v);
    addCounter(sent, labels, load(s.sent));
    addCounter(scheduled, labels, load(s.scheduled));
    for (std::size_t i = 0; i < kErrorReasonCount; ++i) {
      auto l = labels;
      l.push_back({"reason", std::string(reasonName(static_cast<ErrorReason>(i)))});
      addCounter(errors, l, error_v[i]);
    }
    addHistogram(rtt, labels, s.rtt);
    if (const auto ns = s.last_rtt_ns.load(std::memory_order_relaxed); ns >= 0)
      addGauge(last_rtt, labels, static_cast<double>(ns) / 1e9);
    addGauge(up, labels, s.state.load(std::memory_order_acquire) == PathState::kUp ? 1 : 0);
    if (const int t = s.reply_ttl.load(std::memory_order_relaxed); t >= 0) addGauge(ttl, labels, t);
    addCounter(late, labels, load(s.late));
    addCounter(dup, labels, load(s.duplicate));
    addCounter(corrupted, labels, load(s.corrupted));
  }

  auto source_up =
      family("reachmon_source_up", "1 while the source has a usable address.", MetricType::Gauge);
  auto source_info = family("reachmon_source_info",
                            "The address each source currently sends from (empty while it has "
                            "none).",
                            MetricType::Gauge);
  for (const auto& s : snap->sources) {
    addGauge(source_up, {{"source", s.name}}, s.address ? 1 : 0);
    addGauge(source_info,
             {{"source", s.name}, {"address", s.address ? formatIpAddress(*s.address) : ""}}, 1);
  }

  auto target_info = family("reachmon_target_info",
                            "The address each target currently resolves to.", MetricType::Gauge);
  std::set<std::pair<std::string, std::string>> targets;
  for (const auto& p : snap->paths)
    targets.insert(
        {p.spec->target, p.spec->target_address ? formatIpAddress(*p.spec->target_address) : ""});
  for (const auto& [t, a] : targets) addGauge(target_info, {{"target", t}, {"address", a}}, 1);

  auto delay = family("reachmon_send_delay_seconds",
                      "How late probes left compared with their schedule.", MetricType::Histogram);
  addHistogram(delay, {}, monitor_.send_delay);

  auto reload_ok = family("reachmon_config_last_reload_successful",
                          "1 if the latest config load or reload succeeded.", MetricType::Gauge);
  addGauge(reload_ok, {}, reload_.last_successful.load() ? 1 : 0);
  auto reload_ts = family("reachmon_config_last_reload_success_timestamp_seconds",
                          "Unix time of the latest successful config load.", MetricType::Gauge);
  addGauge(reload_ts, {}, reload_.last_success_unix_seconds.load());
  auto build = family("reachmon_build_info",
                      "Version, platform, probe engine and RTT timestamp source of reachmon.",
                      MetricType::Gauge);
  addGauge(build,
           {{"version", build_.version},
            {"platform", build_.platform},
            {"engine", build_.engine},
            {"rtt_timestamps", build_.rtt_timestamps}},
           1);

  std::vector<MetricFamily> out;
  for (auto* f :
       {&scheduled, &sent, &replied, &timed_out, &errors, &rtt, &last_rtt, &up, &ttl, &late, &dup,
        &corrupted, &source_up, &source_info, &target_info, &delay, &reload_ok, &reload_ts, &build})
    out.push_back(std::move(*f));
  return out;
}

}  // namespace reachmon::core
