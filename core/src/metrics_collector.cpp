#include "reachmon/core/metrics_collector.h"

#include <prometheus/client_metric.h>
#include <prometheus/metric_family.h>
#include <prometheus/metric_type.h>

#include <algorithm>
#include <limits>
#include <span>
#include <string_view>
#include <utility>

#include "text_exposition.h"

namespace reachmon::core {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

struct Label {
  std::string_view name;
  std::string_view value;
};

// A series' labels: those of `path` (source, target, probe, the target's own labels) if set,
// then `extra`.
struct Series {
  const PathSpec* path = nullptr;
  std::span<const Label> extra;
};

struct HistogramValues {
  std::span<const double> bounds;
  std::span<const std::uint64_t> cumulative;  // one per bound, then +Inf (the sample count)
  double sum = 0;
};

// Where walk() puts the metrics. Each family's series follow its family() call.
class Sink {
 public:
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  virtual ~Sink() = default;
  virtual void family(std::string_view name, std::string_view help, MetricType type) = 0;
  virtual void counter(const Series& series, std::uint64_t value) = 0;
  virtual void gauge(const Series& series, double value) = 0;
  virtual void histogram(const Series& series, const HistogramValues& values) = 0;
};

std::uint64_t load(const std::atomic<std::uint64_t>& c) {
  return c.load(std::memory_order_acquire);
}

// Reads `h` once into `cumulative` (reused between calls, so no allocation per series).
HistogramValues read(const Histogram& h, std::vector<std::uint64_t>& cumulative) {
  cumulative.clear();
  std::uint64_t total = 0;
  for (std::size_t i = 0; i <= h.bounds().size(); ++i) {
    total += h.bucketCount(i);
    cumulative.push_back(total);  // the +Inf bucket and the count always agree
  }
  return {h.bounds(), cumulative, h.sumSeconds()};
}

// Every metric, family by family (the text format wants each family's series together), so
// per-path families take one pass over the paths each. Outcomes are read before `sent`, and
// `sent` before `scheduled`: the probe thread counts them in the opposite order, so a scrape
// never shows more outcomes than probes sent or scheduled. Error reasons and the anomaly counters
// (late, duplicate, corrupted replies) are created lazily: a path's series appears once its count
// is above 0, so a healthy path has 20 series with the default buckets instead of 31.
void walk(const Snapshot& snap, const MonitorStats& monitor, const ReloadStatus& reload,
          const BuildInfo& build, Sink& sink) {
  std::vector<std::uint64_t> cumulative;
  const auto each_path = [&snap](auto&& fn) {
    for (const auto& p : snap.paths) fn(Series{p.spec.get(), {}}, *p.stats);
  };
  enum class Zero : bool { kExported, kOmitted };
  const auto path_counter = [&](const char* name, const char* help, auto field,
                                Zero zero = Zero::kExported) {
    sink.family(name, help, MetricType::Counter);
    each_path([&](const Series& s, const PathStats& st) {
      const std::uint64_t n = load(st.*field);
      if (n != 0 || zero == Zero::kExported) sink.counter(s, n);
    });
  };

  path_counter("reachmon_probes_replied_total",
               "Probes answered within the timeout: a valid echo, or for UDP probes a port "
               "unreachable from the target.",
               &PathStats::replied);
  path_counter("reachmon_probes_timed_out_total", "Probes with no valid answer within the timeout.",
               &PathStats::timed_out);
  sink.family("reachmon_probe_errors_total",
              "Probes that failed, by reason (ICMP errors, only corrupted replies, send "
              "failures, no source address, unresolved target).",
              MetricType::Counter);
  for (const auto& p : snap.paths) {
    for (std::size_t i = 0; i < kErrorReasonCount; ++i) {
      const std::uint64_t n = load(p.stats->errors[i]);
      if (n == 0) continue;  // lazily: from the reason's first occurrence on the path
      const Label reason[] = {{"reason", reasonName(static_cast<ErrorReason>(i))}};
      sink.counter({p.spec.get(), reason}, n);
    }
  }
  path_counter("reachmon_probes_sent_total",
               "Probes (echo requests or UDP datagrams) handed to the OS on the path.",
               &PathStats::sent);
  path_counter("reachmon_probes_scheduled_total",
               "Probes that came due on the path and have their outcome: replied, timed out or "
               "failed with a reason. Loss = 1 - replied / scheduled.",
               &PathStats::scheduled);

  sink.family("reachmon_rtt_seconds", "Round-trip time of valid replies.", MetricType::Histogram);
  each_path(
      [&](const Series& s, const PathStats& st) { sink.histogram(s, read(st.rtt, cumulative)); });
  sink.family("reachmon_last_rtt_seconds", "Round-trip time of the latest valid reply.",
              MetricType::Gauge);
  each_path([&](const Series& s, const PathStats& st) {
    if (const auto ns = st.last_rtt_ns.load(std::memory_order_relaxed); ns >= 0)
      sink.gauge(s, static_cast<double>(ns) / 1e9);
  });
  sink.family("reachmon_path_up", "1 while the latest finished probe was answered.",
              MetricType::Gauge);
  each_path([&](const Series& s, const PathStats& st) {
    sink.gauge(s, st.state.load(std::memory_order_acquire) == PathState::kUp ? 1 : 0);
  });
  sink.family("reachmon_reply_ttl", "TTL or hop limit of the latest valid reply.",
              MetricType::Gauge);
  each_path([&](const Series& s, const PathStats& st) {
    if (const int t = st.reply_ttl.load(std::memory_order_relaxed); t >= 0) sink.gauge(s, t);
  });
  path_counter("reachmon_late_replies_total",
               "Valid replies that arrived after their probe had timed out.", &PathStats::late,
               Zero::kOmitted);
  path_counter("reachmon_duplicate_replies_total",
               "Valid replies to a probe that had already been answered.", &PathStats::duplicate,
               Zero::kOmitted);
  path_counter("reachmon_corrupted_replies_total",
               "Echo replies matching a probe whose data differs from what was sent; never "
               "counted as replies.",
               &PathStats::corrupted, Zero::kOmitted);

  sink.family("reachmon_source_up", "1 while the source has a usable address.", MetricType::Gauge);
  for (const auto& s : snap.sources) {
    const Label labels[] = {{"source", s.name}};
    sink.gauge({nullptr, labels}, s.address ? 1 : 0);
  }
  sink.family("reachmon_source_info",
              "The address each source currently sends from (empty while it has none).",
              MetricType::Gauge);
  for (const auto& s : snap.sources) {
    const std::string address = s.address ? formatIpAddress(*s.address) : "";
    const Label labels[] = {{"source", s.name}, {"address", address}};
    sink.gauge({nullptr, labels}, 1);
  }

  sink.family("reachmon_target_info", "The address each target currently resolves to.",
              MetricType::Gauge);
  // One series per (target, address), in that order, from one vector rather than a node per path.
  std::vector<std::pair<std::string_view, std::string>> targets;  // views into the snapshot
  targets.reserve(snap.paths.size());
  for (const auto& p : snap.paths)
    targets.emplace_back(p.spec->target,
                         p.spec->target_address ? formatIpAddress(*p.spec->target_address) : "");
  std::sort(targets.begin(), targets.end());
  targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
  for (const auto& [target, address] : targets) {
    const Label labels[] = {{"target", target}, {"address", address}};
    sink.gauge({nullptr, labels}, 1);
  }

  sink.family("reachmon_invalid_replies_total",
              "Replies that answer none of our probes: stray, forged, or to another source.",
              MetricType::Counter);
  sink.counter({}, load(monitor.invalid_replies));
  sink.family("reachmon_unmatched_icmp_errors_total",
              "ICMP errors about our UDP probes that name no probe exactly (a router quoting "
              "only the headers, or details matching no probe in flight); counted nowhere else.",
              MetricType::Counter);
  sink.counter({}, load(monitor.unmatched_errors));

  sink.family(
      "reachmon_send_delay_seconds",
      "How far from their schedule probes left: late, or early by at most half a burst window.",
      MetricType::Histogram);
  sink.histogram({}, read(monitor.send_delay, cumulative));

  sink.family("reachmon_config_last_reload_successful",
              "1 if the latest config load or reload succeeded.", MetricType::Gauge);
  sink.gauge({}, reload.last_successful.load() ? 1 : 0);
  sink.family("reachmon_config_last_reload_success_timestamp_seconds",
              "Unix time of the latest successful config load.", MetricType::Gauge);
  sink.gauge({}, reload.last_success_unix_seconds.load());
  sink.family("reachmon_build_info",
              "Version, platform, probe engine and RTT timestamp source of reachmon.",
              MetricType::Gauge);
  const Label build_labels[] = {{"version", build.version},
                                {"platform", build.platform},
                                {"engine", build.engine},
                                {"rtt_timestamps", build.rtt_timestamps}};
  sink.gauge({nullptr, build_labels}, 1);
}

// prometheus-cpp families, for Collect().
class FamilySink final : public Sink {
 public:
  std::vector<MetricFamily> families;

  void family(std::string_view name, std::string_view help, MetricType type) override {
    families.push_back(MetricFamily{std::string(name), std::string(help), type, {}});
  }
  void counter(const Series& series, std::uint64_t value) override {
    add(series).counter.value = static_cast<double>(value);
  }
  void gauge(const Series& series, double value) override { add(series).gauge.value = value; }
  void histogram(const Series& series, const HistogramValues& values) override {
    auto& h = add(series).histogram;
    for (std::size_t i = 0; i < values.cumulative.size(); ++i) {
      ClientMetric::Bucket b;
      b.cumulative_count = values.cumulative[i];
      b.upper_bound =
          i < values.bounds.size() ? values.bounds[i] : std::numeric_limits<double>::infinity();
      h.bucket.push_back(b);
    }
    h.sample_count = values.cumulative.back();
    h.sample_sum = values.sum;
  }

 private:
  ClientMetric& add(const Series& series) {
    ClientMetric m;
    if (series.path) {
      m.label.push_back({"source", series.path->source});
      m.label.push_back({"target", series.path->target});
      m.label.push_back({"probe", std::string(probeKindName(series.path->options.probe))});
      for (const auto& [k, v] : series.path->labels) m.label.push_back({k, v});
    }
    for (const auto& l : series.extra)
      m.label.push_back({std::string(l.name), std::string(l.value)});
    return families.back().metric.emplace_back(std::move(m));
  }
};

// The text exposition format, laid out as prometheus-cpp's TextSerializer lays it out.
class TextSink final : public Sink {
 public:
  // Writes into `out`; with `write`, hands `out` to it (and empties it) whenever it holds
  // kTextPieceBytes or more at the end of a series.
  TextSink(std::string& out, const MetricsCollector::TextWriter* write)
      : out_(out), write_(write) {}

  // Hands what is left to `write`.
  void finish() {
    if (write_ && !out_.empty()) (*write_)(out_);
    out_.clear();
  }

  void family(std::string_view name, std::string_view help, MetricType type) override {
    name_ = name;
    out_ += "# HELP ";
    out_ += name;
    out_ += ' ';
    text_exposition::appendHelp(out_, help);
    out_ += "\n# TYPE ";
    out_ += name;
    out_ += type == MetricType::Counter     ? " counter\n"
            : type == MetricType::Histogram ? " histogram\n"
                                            : " gauge\n";
  }
  void counter(const Series& series, std::uint64_t value) override {
    setLabels(series);
    head("");
    text_exposition::appendUint(out_, value);
    out_ += '\n';
    pieceDone();
  }
  void gauge(const Series& series, double value) override {
    setLabels(series);
    head("");
    text_exposition::appendDouble(out_, value);
    out_ += '\n';
    pieceDone();
  }
  void histogram(const Series& series, const HistogramValues& values) override {
    setLabels(series);
    head("_count");
    text_exposition::appendUint(out_, values.cumulative.back());
    out_ += '\n';
    head("_sum");
    text_exposition::appendDouble(out_, values.sum);
    out_ += '\n';
    setBounds(values.bounds);
    for (std::size_t i = 0; i < values.cumulative.size(); ++i) {
      out_ += name_;
      out_ += "_bucket{";
      out_ += labels_;
      if (!labels_.empty()) out_ += ',';
      out_ += "le=\"";
      out_ += le_[i];
      out_ += "\"} ";
      text_exposition::appendUint(out_, values.cumulative[i]);
      out_ += '\n';
    }
    pieceDone();
  }

 private:
  void pieceDone() {
    if (write_ && out_.size() >= MetricsCollector::kTextPieceBytes) {
      (*write_)(out_);
      out_.clear();
    }
  }
  void setLabels(const Series& series) {
    labels_.clear();
    if (series.path) {
      addLabel("source", series.path->source);
      addLabel("target", series.path->target);
      addLabel("probe", probeKindName(series.path->options.probe));
      for (const auto& [k, v] : series.path->labels) addLabel(k, v);
    }
    for (const auto& l : series.extra) addLabel(l.name, l.value);
  }
  void addLabel(std::string_view name, std::string_view value) {
    if (!labels_.empty()) labels_ += ',';
    labels_ += name;
    labels_ += "=\"";
    text_exposition::appendLabelValue(labels_, value);
    labels_ += '"';
  }
  void head(std::string_view suffix) {
    out_ += name_;
    out_ += suffix;
    if (!labels_.empty()) {
      out_ += '{';
      out_ += labels_;
      out_ += '}';
    }
    out_ += ' ';
  }
  // The `le` values of `bounds`, then "+Inf"; formatted once per histogram layout.
  void setBounds(std::span<const double> bounds) {
    if (bounds.data() == le_of_ && le_.size() == bounds.size() + 1) return;
    le_.clear();
    for (const double b : bounds) text_exposition::appendDouble(le_.emplace_back(), b);
    le_.emplace_back("+Inf");
    le_of_ = bounds.data();
  }

  std::string& out_;
  const MetricsCollector::TextWriter* write_;
  std::string_view name_;
  std::string labels_;  // the current series' labels, escaped, without braces
  std::vector<std::string> le_;
  const double* le_of_ = nullptr;
};

// HELP and TYPE lines, sources and self-monitoring: what the text holds besides the paths.
constexpr std::size_t kOtherTextBytes = std::size_t{16} * 1024;

// Bytes of text before a render has measured them, on the high side: 20 lines per path with the
// default buckets (4 counters, 3 gauges, a histogram's 11 buckets, sum and count; the lazily
// created ones seldom add many), each with the path's labels and 30 to 45 bytes of name,
// suffix, extra label and value.
std::size_t estimateTextBytes(const Snapshot& snap) {
  constexpr std::size_t kLinesPerPath = 20;
  constexpr std::size_t kLineBytes = 44;
  std::size_t bytes = kOtherTextBytes;
  for (const auto& p : snap.paths) {
    std::size_t labels = p.spec->source.size() + p.spec->target.size() + 30;
    for (const auto& [k, v] : p.spec->labels) labels += k.size() + v.size() + 4;
    bytes += kLinesPerPath * (labels + kLineBytes) + p.spec->target.size() + 64;
  }
  return bytes;
}

}  // namespace

MetricsCollector::MetricsCollector(SnapshotFn snapshot, const MonitorStats& monitor,
                                   const ReloadStatus& reload, BuildInfo build)
    : snapshot_(std::move(snapshot)),
      monitor_(monitor),
      reload_(reload),
      build_(std::move(build)) {}

std::string MetricsCollector::renderText() const {
  const auto snap = snapshot_();
  const std::size_t paths = snap->paths.size();
  // Reserved once: growing by doubling would hold the old and the new buffer at once. Reserving
  // too much costs address space only (a large block is a mapping of its own; pages never
  // written are never resident), so the latest render's size per path gets 1/16 more, for
  // counters gaining digits and paths gaining RTT samples.
  const std::size_t per_path = text_bytes_per_path_.load(std::memory_order_relaxed);
  std::string out;
  out.reserve(per_path != 0 && paths != 0 ? paths * (per_path + per_path / 16) + kOtherTextBytes
                                          : estimateTextBytes(*snap));
  TextSink sink(out, nullptr);
  walk(*snap, monitor_, reload_, build_, sink);
  if (paths != 0) text_bytes_per_path_.store(out.size() / paths, std::memory_order_relaxed);
  return out;
}

void MetricsCollector::renderText(const TextWriter& write) const {
  const auto snap = snapshot_();
  std::string piece;
  // A series' lines go into one piece: a histogram's with long labels may overshoot a little.
  piece.reserve(kTextPieceBytes + kTextPieceBytes / 4);
  TextSink sink(piece, &write);
  walk(*snap, monitor_, reload_, build_, sink);
  sink.finish();
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  const auto snap = snapshot_();
  FamilySink sink;
  walk(*snap, monitor_, reload_, build_, sink);
  return std::move(sink.families);
}

}  // namespace reachmon::core
