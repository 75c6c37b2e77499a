#include "reachmon/core/metrics_collector.h"

#include <prometheus/text_serializer.h>

#include <catch2/catch.hpp>
#include <sstream>

#include "fakes.h"

using namespace reachmon;
using namespace reachmon::test;

namespace {

std::string render(const core::Snapshot& snap, const core::MonitorStats& ms,
                   const core::ReloadStatus& rs) {
  auto shared = std::make_shared<core::Snapshot>(snap);
  core::MetricsCollector c([shared] { return shared; }, ms, rs,
                           {"1.2.3", "linux", "icmp-dgram", "kernel"});
  return prometheus::TextSerializer().Serialize(c.Collect());
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
  const std::string l = R"({source="isp-a",target="gw",site="par"})";
  CHECK(hasLine(text, "# TYPE reachmon_probes_sent_total counter"));
  CHECK(hasLine(text, "reachmon_probes_sent_total" + l + " 10"));
  CHECK(hasLine(text, "reachmon_probes_scheduled_total" + l + " 10"));
  CHECK(hasLine(text, "reachmon_corrupted_replies_total" + l + " 2"));
  CHECK(hasLine(text, "reachmon_probes_replied_total" + l + " 8"));
  CHECK(hasLine(text, "reachmon_probes_timed_out_total" + l + " 1"));
  CHECK(hasLine(text, "reachmon_late_replies_total" + l + " 1"));
  CHECK(hasLine(text, "reachmon_duplicate_replies_total" + l + " 0"));
  CHECK(hasLine(
      text,
      R"(reachmon_probe_errors_total{source="isp-a",target="gw",site="par",reason="dest_unreachable"} 1)"));
  CHECK(hasLine(
      text,
      R"(reachmon_probe_errors_total{source="isp-a",target="gw",site="par",reason="source_unavailable"} 0)"));
  CHECK(hasLine(text, "# TYPE reachmon_rtt_seconds histogram"));
  CHECK(hasLine(
      text, R"(reachmon_rtt_seconds_bucket{source="isp-a",target="gw",site="par",le="0.0025"} 0)"));
  CHECK(hasLine(
      text, R"(reachmon_rtt_seconds_bucket{source="isp-a",target="gw",site="par",le="0.005"} 1)"));
  CHECK(hasLine(
      text, R"(reachmon_rtt_seconds_bucket{source="isp-a",target="gw",site="par",le="+Inf"} 1)"));
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
  CHECK(hasLine(text, R"(reachmon_path_up{source="s",target="t"} 0)"));
  CHECK(hasLine(text, R"(reachmon_target_info{target="t",address=""} 1)"));
  CHECK(hasLine(text, "reachmon_config_last_reload_successful 0"));
}
