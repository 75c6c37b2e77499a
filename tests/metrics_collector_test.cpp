#include "reachmon/core/metrics_collector.h"

#include <prometheus/text_serializer.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>
#include <thread>
#include <vector>

#include "fakes.h"
#include "text_exposition.h"

using namespace reachmon;
using namespace reachmon::test;

namespace {

core::MetricsCollector collector(const core::Snapshot& snap, const core::MonitorStats& ms,
                                 const core::ReloadStatus& rs) {
  auto shared = std::make_shared<const core::Snapshot>(snap);
  return core::MetricsCollector([shared] { return shared; }, ms, rs,
                                {"1.2.3", "linux", "icmp-dgram", "kernel"});
}

// What /metrics serves.
std::string render(const core::Snapshot& snap, const core::MonitorStats& ms,
                   const core::ReloadStatus& rs) {
  return collector(snap, ms, rs).renderText();
}

bool hasLine(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

}  // namespace

TEST_CASE("Metrics: per-path series carry source, target and the target's labels", "[metrics]") {
  core::Snapshot snap;
  auto spec = std::make_shared<core::PathSpec>();
  spec->source = "isp-a";
  spec->target = "gw";
  spec->labels = {{"site", "par"}};
  spec->target_address = ip("198.51.100.1");
  auto stats = std::make_shared<core::PathStats>();
  stats->scheduled = 10;
  stats->sent = 10;
  stats->replied = 8;
  stats->corrupted = 2;
  stats->timed_out = 1;
  stats->late = 1;
  stats->addError(core::ErrorReason::kDestUnreachable);
  stats->rtt.observe(3ms);
  stats->last_rtt_ns = 3'000'000;
  stats->reply_ttl = 60;
  stats->state = core::PathState::kUp;
  snap.paths.push_back({spec, stats});
  snap.sources.push_back({"isp-a", core::Family::kIpv4, ip("192.0.2.1")});
  snap.sources.push_back({"isp-b", core::Family::kIpv4, std::nullopt});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  rs.last_successful = true;
  rs.last_success_unix_seconds = 1700000000;
  const std::string text = render(snap, ms, rs);
  const std::string l = R"({source="isp-a",target="gw",probe="icmp",site="par"})";
  CHECK(hasLine(text, "# TYPE reachmon_probes_sent_total counter"));
  CHECK(hasLine(text, "reachmon_probes_sent_total" + l + " 10"));
  CHECK(hasLine(text, "reachmon_probes_scheduled_total" + l + " 10"));
  CHECK(hasLine(text, "reachmon_corrupted_replies_total" + l + " 2"));
  CHECK(hasLine(text, "reachmon_probes_replied_total" + l + " 8"));
  CHECK(hasLine(text, "reachmon_probes_timed_out_total" + l + " 1"));
  CHECK(hasLine(text, "reachmon_late_replies_total" + l + " 1"));
  // Created lazily: no duplicate reply and no source_unavailable yet, so no series.
  CHECK(text.find("reachmon_duplicate_replies_total{") == std::string::npos);
  CHECK(hasLine(
      text,
      R"(reachmon_probe_errors_total{source="isp-a",target="gw",probe="icmp",site="par",reason="dest_unreachable"} 1)"));
  CHECK(text.find("source_unavailable") == std::string::npos);
  CHECK(hasLine(text, "# TYPE reachmon_rtt_seconds histogram"));
  CHECK(hasLine(
      text,
      R"(reachmon_rtt_seconds_bucket{source="isp-a",target="gw",probe="icmp",site="par",le="0.0025"} 0)"));
  CHECK(hasLine(
      text,
      R"(reachmon_rtt_seconds_bucket{source="isp-a",target="gw",probe="icmp",site="par",le="0.01"} 1)"));
  CHECK(hasLine(
      text,
      R"(reachmon_rtt_seconds_bucket{source="isp-a",target="gw",probe="icmp",site="par",le="+Inf"} 1)"));
  CHECK(hasLine(text, "reachmon_rtt_seconds_count" + l + " 1"));
  CHECK(hasLine(text, "reachmon_last_rtt_seconds" + l + " 0.003"));
  CHECK(hasLine(text, "reachmon_path_up" + l + " 1"));
  CHECK(hasLine(text, "reachmon_reply_ttl" + l + " 60"));
  // source_up keeps one series per source, whatever its address; source_info tells the address.
  CHECK(hasLine(text, R"(reachmon_source_up{source="isp-a"} 1)"));
  CHECK(hasLine(text, R"(reachmon_source_up{source="isp-b"} 0)"));
  CHECK(hasLine(text, R"(reachmon_source_info{source="isp-a",address="192.0.2.1"} 1)"));
  CHECK(hasLine(text, R"(reachmon_source_info{source="isp-b",address=""} 1)"));
  CHECK(hasLine(text, R"(reachmon_target_info{target="gw",address="198.51.100.1"} 1)"));
  CHECK(hasLine(text, "reachmon_config_last_reload_successful 1"));
  CHECK(hasLine(text, "reachmon_config_last_reload_success_timestamp_seconds 1700000000"));
  CHECK(hasLine(
      text,
      R"(reachmon_build_info{version="1.2.3",platform="linux",engine="icmp-dgram",rtt_timestamps="kernel"} 1)"));
  CHECK(hasLine(text, "reachmon_send_delay_seconds_count 0"));
}

TEST_CASE("Metrics: a path with no reply yet has no RTT or TTL sample and is down", "[metrics]") {
  core::Snapshot snap;
  auto spec = std::make_shared<core::PathSpec>();
  spec->source = "s";
  spec->target = "t";
  snap.paths.push_back({spec, std::make_shared<core::PathStats>()});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const std::string text = render(snap, ms, rs);
  CHECK(text.find("reachmon_last_rtt_seconds{") == std::string::npos);
  CHECK(text.find("reachmon_reply_ttl{") == std::string::npos);
  CHECK(hasLine(text, R"(reachmon_path_up{source="s",target="t",probe="icmp"} 0)"));
  CHECK(hasLine(text, R"(reachmon_target_info{target="t",address=""} 1)"));
  CHECK(hasLine(text, "reachmon_config_last_reload_successful 0"));
}

namespace {

std::shared_ptr<core::PathSpec> pathSpec(std::string source, std::string target,
                                         core::Labels labels = {}) {
  auto spec = std::make_shared<core::PathSpec>();
  spec->source = std::move(source);
  spec->target = std::move(target);
  spec->labels = std::move(labels);
  return spec;
}

std::string appended(void (*append)(std::string&, double), double v) {
  std::string out;
  append(out, v);
  return out;
}

}  // namespace

TEST_CASE("Metrics: the text is what prometheus-cpp's TextSerializer makes of the same data",
          "[metrics]") {
  core::Snapshot snap;
  // Label values with every character the text format escapes, and one with none.
  auto odd =
      pathSpec("isp \"a\"", "back\\slash", {{"note", "two\nlines"}, {"quote", "say \"hi\""}});
  odd->target_address = ip("2001:db8::1");
  auto odd_stats = std::make_shared<core::PathStats>();
  odd_stats->scheduled = 12345678901;
  odd_stats->sent = 12345678900;
  odd_stats->replied = 1000;
  odd_stats->timed_out = 7;
  odd_stats->duplicate = 3;
  odd_stats->addError(core::ErrorReason::kTtlExpired);
  odd_stats->addError(core::ErrorReason::kSendFailed);
  for (const core::Duration rtt : {core::Duration(250us), core::Duration(3ms), core::Duration(3ms),
                                   core::Duration(120ms), core::Duration(7s)})
    odd_stats->rtt.observe(rtt);
  odd_stats->last_rtt_ns = 1'234'567;
  odd_stats->reply_ttl = 255;
  odd_stats->state = core::PathState::kTimedOut;
  snap.paths.push_back({odd, odd_stats});
  snap.paths.push_back(
      {pathSpec("isp-b", "gw", {{"site", "par"}}), std::make_shared<core::PathStats>()});
  snap.paths.push_back({pathSpec("isp-b", "back\\slash"), std::make_shared<core::PathStats>()});
  snap.sources.push_back({"isp \"a\"", core::Family::kIpv6, ip("2001:db8::2")});
  snap.sources.push_back({"isp-b", core::Family::kIpv4, std::nullopt});
  core::MonitorStats ms;
  ms.send_delay.observe(20us);
  ms.send_delay.observe(1500us);
  core::ReloadStatus rs;
  rs.last_successful = true;
  rs.last_success_unix_seconds = 1700000000.25;
  const auto c = collector(snap, ms, rs);

  const std::string text = c.renderText();
  CHECK(text == prometheus::TextSerializer().Serialize(c.Collect()));
  const std::string l =
      R"({source="isp \"a\"",target="back\\slash",probe="icmp",note="two\nlines",quote="say \"hi\""})";
  CHECK(hasLine(text, "reachmon_probes_scheduled_total" + l + " 12345678901"));
  CHECK(hasLine(text, "reachmon_rtt_seconds_sum" + l + " 7.12625"));
  CHECK(hasLine(text, "reachmon_last_rtt_seconds" + l + " 0.001234567"));
  CHECK(hasLine(text, R"(reachmon_source_info{source="isp \"a\"",address="2001:db8::2"} 1)"));
  CHECK(hasLine(text, R"(reachmon_target_info{target="back\\slash",address="2001:db8::1"} 1)"));
  CHECK(hasLine(text, "reachmon_config_last_reload_success_timestamp_seconds 1700000000.25"));
}

TEST_CASE("Metrics: every family is written whole, with its HELP and TYPE first", "[metrics]") {
  core::Snapshot snap;
  for (int i = 0; i < 3; ++i)
    snap.paths.push_back(
        {pathSpec("s", "t" + std::to_string(i)), std::make_shared<core::PathStats>()});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const std::string text = render(snap, ms, rs);
  std::set<std::string> seen;
  std::string current;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      INFO(current);
      CHECK(seen.insert(current).second);
      continue;
    }
    if (line.rfind("# TYPE " + current + " ", 0) == 0) continue;
    INFO(line);
    REQUIRE(line.rfind(current, 0) == 0);
  }
  CHECK(seen.size() == 21);
}

TEST_CASE("Metrics: a scrape never shows more outcomes than probes sent or scheduled",
          "[metrics]") {
  // The probe thread counts scheduled, then sent, then the outcome; the text is written family
  // by family, so it must read the outcomes' families first.
  core::Snapshot snap;
  auto stats = std::make_shared<core::PathStats>();
  snap.paths.push_back({pathSpec("s", "t"), stats});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const auto c = collector(snap, ms, rs);
  std::atomic<bool> stop{false};
  std::thread prober([&] {
    while (!stop) {
      core::PathStats::add(stats->scheduled);
      core::PathStats::add(stats->sent);
      core::PathStats::add(stats->replied);
    }
  });
  const auto value = [](const std::string& text, const std::string& name) {
    const auto at = text.find("\n" + name + "{");
    REQUIRE(at != std::string::npos);
    const auto end = text.find('\n', at + 1);
    return std::stoull(text.substr(text.rfind(' ', end) + 1, end));
  };
  for (int i = 0; i < 300; ++i) {
    const std::string text = c.renderText();
    const auto replied = value(text, "reachmon_probes_replied_total");
    const auto sent = value(text, "reachmon_probes_sent_total");
    const auto scheduled = value(text, "reachmon_probes_scheduled_total");
    CHECK(replied <= sent);
    CHECK(sent <= scheduled);
  }
  stop = true;
  prober.join();
}

TEST_CASE("Metrics: a render reserves its text's size up front", "[metrics]") {
  core::Snapshot snap;
  for (int i = 0; i < 2000; ++i) {
    auto stats = std::make_shared<core::PathStats>();
    stats->scheduled = static_cast<std::uint64_t>(i) * 1000;
    stats->rtt.observe(std::chrono::microseconds(i * 37));
    snap.paths.push_back(
        {pathSpec("isp-a", "target-" + std::to_string(i), {{"site", "par"}}), stats});
  }
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const auto c = collector(snap, ms, rs);
  // Grown by doubling, a string ends with up to twice the capacity it needs (and held the old
  // buffer and the new one at once while it grew).
  const std::string first = c.renderText();
  CHECK(first.capacity() < first.size() + first.size() / 4);  // the estimate from the labels
  const std::string second = c.renderText();
  CHECK(second.capacity() < second.size() + second.size() / 8);  // from the first render
}

TEST_CASE("Text exposition: label values, HELP texts and numbers", "[metrics]") {
  using namespace core::text_exposition;
  std::string label;
  appendLabelValue(label, "a\"b\\c\nd\te");
  CHECK(label == "a\\\"b\\\\c\\nd\te");
  std::string help;
  appendHelp(help, "say \"x\\y\"\nz");
  CHECK(help == "say \"x\\\\y\"\\nz");

  const auto d = [](double v) { return appended(appendDouble, v); };
  CHECK(d(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(d(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(d(-std::numeric_limits<double>::infinity()) == "-Inf");
  // As TextSerializer writes them wherever 16 digits are exact ...
  CHECK(d(0) == "0");
  CHECK(d(1) == "1");
  CHECK(d(0.003) == "0.003");
  CHECK(d(1e-7) == "1e-07");
  CHECK(d(1700000000) == "1700000000");
  CHECK(d(1e20) == "1e+20");
  CHECK(d(1.0 / 3) == "0.3333333333333333");
  // ... and with a 17th digit where they are not, so every value reads back as itself.
  CHECK(d(0.1 + 0.2) == "0.30000000000000004");
  for (const double v : {0.1 + 0.2, 1.0 / 3, 2.0 / 3, 123456789.123456789, 2.2250738585072014e-308,
                         1.7976931348623157e308}) {
    INFO(v);
    CHECK(std::stod(d(v)) == v);
  }

  std::string n;
  appendUint(n, 0);
  n += ' ';
  appendUint(n, std::numeric_limits<std::uint64_t>::max());
  CHECK(n == "0 18446744073709551615");
}

TEST_CASE("Metrics: the probe label tells UDP paths from ICMP ones, and unmatched errors count",
          "[metrics]") {
  core::Snapshot snap;
  auto udp = std::make_shared<core::PathSpec>(*pathSpec("s", "dns"));
  udp->options.probe = core::ProbeKind::kUdp;
  snap.paths.push_back({udp, std::make_shared<core::PathStats>()});
  snap.paths.push_back({pathSpec("s", "gw"), std::make_shared<core::PathStats>()});
  core::MonitorStats ms;
  ms.unmatched_errors = 3;
  ms.invalid_replies = 5;
  core::ReloadStatus rs;
  const std::string text = render(snap, ms, rs);
  CHECK(hasLine(text, R"(reachmon_probes_sent_total{source="s",target="dns",probe="udp"} 0)"));
  CHECK(hasLine(text, R"(reachmon_probes_sent_total{source="s",target="gw",probe="icmp"} 0)"));
  CHECK(hasLine(text, "reachmon_unmatched_icmp_errors_total 3"));
  CHECK(hasLine(text, "reachmon_invalid_replies_total 5"));
}

namespace {

// Every sample line (not a comment) of `text` whose labels hold `labels` (e.g. a path's).
std::vector<std::string> samples(const std::string& text, const std::string& labels) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty() && line[0] != '#' && line.find(labels) != std::string::npos)
      out.push_back(line);
  return out;
}

std::vector<std::string> leValues(const std::string& text, const std::string& target) {
  std::vector<std::string> out;
  for (const auto& line : samples(text, "target=\"" + target + "\"")) {
    if (line.rfind("reachmon_rtt_seconds_bucket{", 0) != 0) continue;
    const auto at = line.find("le=\"") + 4;
    out.push_back(line.substr(at, line.find('"', at) - at));
  }
  return out;
}

}  // namespace

TEST_CASE("Metrics: error reasons and anomaly counters appear once they have occurred",
          "[metrics]") {
  core::Snapshot snap;
  auto stats = std::make_shared<core::PathStats>();
  snap.paths.push_back({pathSpec("s", "t"), stats});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const auto c = collector(snap, ms, rs);
  std::string text = c.renderText();
  for (const char* family :
       {"reachmon_probe_errors_total", "reachmon_late_replies_total",
        "reachmon_duplicate_replies_total", "reachmon_corrupted_replies_total"}) {
    INFO(family);
    CHECK(text.find(std::string("\n") + family + "{") == std::string::npos);
    // The family is still described, so the metric is known before its first series.
    CHECK(hasLine(text, std::string("# TYPE ") + family + " counter"));
  }
  // Always there, at 0: the counters loss and outcomes are computed from.
  for (const char* family : {"reachmon_probes_scheduled_total", "reachmon_probes_sent_total",
                             "reachmon_probes_replied_total", "reachmon_probes_timed_out_total"}) {
    INFO(family);
    CHECK(hasLine(text, std::string(family) + R"({source="s",target="t",probe="icmp"} 0)"));
  }

  stats->addError(core::ErrorReason::kSourceUnavailable);
  core::PathStats::add(stats->late);
  core::PathStats::add(stats->corrupted);
  text = c.renderText();
  CHECK(hasLine(
      text,
      R"(reachmon_probe_errors_total{source="s",target="t",probe="icmp",reason="source_unavailable"} 1)"));
  CHECK(samples(text, "reachmon_probe_errors_total{").size() == 1);  // only that reason
  CHECK(hasLine(text, R"(reachmon_late_replies_total{source="s",target="t",probe="icmp"} 1)"));
  CHECK(hasLine(text, R"(reachmon_corrupted_replies_total{source="s",target="t",probe="icmp"} 1)"));
  CHECK(text.find("reachmon_duplicate_replies_total{") == std::string::npos);
  // The registry view (Collect) agrees with the text.
  CHECK(text == prometheus::TextSerializer().Serialize(c.Collect()));
}

TEST_CASE("Metrics: a path with the default buckets has 20 series", "[metrics]") {
  core::Snapshot snap;
  auto stats = std::make_shared<core::PathStats>();
  stats->scheduled = 3;
  stats->sent = 3;
  stats->replied = 3;
  stats->rtt.observe(12ms);
  stats->last_rtt_ns = 12'000'000;
  stats->reply_ttl = 64;
  stats->state = core::PathState::kUp;
  snap.paths.push_back({pathSpec("s", "t"), stats});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const std::string text = render(snap, ms, rs);
  INFO(text);
  CHECK(samples(text, R"(source="s",target="t")").size() == 20);
  CHECK(leValues(text, "t") == std::vector<std::string>{"0.0005", "0.0025", "0.01", "0.025", "0.05",
                                                        "0.1", "0.25", "0.5", "1", "2", "+Inf"});
}

TEST_CASE("Metrics: each path's histogram has the buckets of its own stats", "[metrics]") {
  core::Snapshot snap;
  auto custom = std::make_shared<core::PathStats>(core::RttBuckets({0.0001, 0.00025, 0.6}));
  custom->rtt.observe(200us);
  custom->rtt.observe(550ms);
  custom->rtt.observe(3s);
  // Paths with other layouts in between: each histogram gets its own le values.
  snap.paths.push_back({pathSpec("s", "a"), std::make_shared<core::PathStats>()});
  snap.paths.push_back({pathSpec("s", "custom"), custom});
  snap.paths.push_back({pathSpec("s", "b"), std::make_shared<core::PathStats>()});
  snap.paths.push_back(
      {pathSpec("s", "one"), std::make_shared<core::PathStats>(core::RttBuckets({1.5}))});
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const auto c = collector(snap, ms, rs);
  const std::string text = c.renderText();
  CHECK(leValues(text, "custom") == std::vector<std::string>{"0.0001", "0.00025", "0.6", "+Inf"});
  CHECK(leValues(text, "one") == std::vector<std::string>{"1.5", "+Inf"});
  CHECK(leValues(text, "a").size() == 11);
  CHECK(leValues(text, "b") == leValues(text, "a"));
  const std::string l = R"(source="s",target="custom",probe="icmp")";
  CHECK(hasLine(text, "reachmon_rtt_seconds_bucket{" + l + R"(,le="0.00025"} 1)"));
  CHECK(hasLine(text, "reachmon_rtt_seconds_bucket{" + l + R"(,le="0.6"} 2)"));
  CHECK(hasLine(text, "reachmon_rtt_seconds_bucket{" + l + R"(,le="+Inf"} 3)"));
  CHECK(hasLine(text, "reachmon_rtt_seconds_count{" + l + "} 3"));
  CHECK(text == prometheus::TextSerializer().Serialize(c.Collect()));
}

TEST_CASE("Histogram: at most 24 bounds are used, whatever it is given", "[metrics]") {
  std::vector<double> bounds;
  for (int i = 1; i <= 30; ++i) bounds.push_back(i * 0.001);
  core::Histogram h(bounds);
  CHECK(h.bounds().size() == core::kMaxHistogramBounds);
  h.observe(29ms);  // above the 24th bound: +Inf
  h.observe(1ms);
  CHECK(h.bucketCount(core::kMaxHistogramBounds) == 1);
  CHECK(h.bucketCount(0) == 1);
  CHECK(h.count() == 2);
}

TEST_CASE("Metrics: the text in pieces is the whole text, in pieces of at least 64 KiB",
          "[metrics]") {
  core::Snapshot snap;
  for (int i = 0; i < 2000; ++i) {
    auto stats = std::make_shared<core::PathStats>();
    stats->scheduled = static_cast<std::uint64_t>(i) * 1000;
    if (i % 7 == 0) stats->addError(core::ErrorReason::kTtlExpired);
    snap.paths.push_back({pathSpec("isp-a", "target-" + std::to_string(i)), stats});
  }
  core::MonitorStats ms;
  core::ReloadStatus rs;
  const auto c = collector(snap, ms, rs);
  std::vector<std::string> pieces;
  c.renderText([&](std::string_view piece) { pieces.emplace_back(piece); });
  REQUIRE(pieces.size() > 2);
  std::string joined;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    INFO(i);
    if (i + 1 < pieces.size()) CHECK(pieces[i].size() >= core::MetricsCollector::kTextPieceBytes);
    CHECK(pieces[i].size() < 2 * core::MetricsCollector::kTextPieceBytes);
    CHECK(pieces[i].back() == '\n');  // whole lines
    joined += pieces[i];
  }
  CHECK(joined == c.renderText());
}
