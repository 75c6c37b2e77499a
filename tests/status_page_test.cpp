// The status page at "/": what it shows per source and path, and that nothing from the config
// reaches the HTML unescaped.
#include "reachmon/service/status_page.h"

#include <catch2/catch.hpp>

using namespace reachmon;

TEST_CASE("StatusPage: HTML special characters are escaped", "[status_page]") {
  CHECK(service::htmlEscape(R"(<a href="x">&'</a>)") ==
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(service::htmlEscape("plain-name_1.2") == "plain-name_1.2");
}

TEST_CASE("StatusPage: sources and paths with their state, RTT and loss", "[status_page]") {
  core::Snapshot snap;
  auto up = std::make_shared<core::PathSpec>();
  up->source = "isp-a";
  up->target = "gw";
  up->host = "198.51.100.1";
  up->target_address = core::parseIpAddress("198.51.100.1");
  auto up_stats = std::make_shared<core::PathStats>();
  up_stats->scheduled = 5;
  up_stats->sent = 4;
  up_stats->replied = 3;
  up_stats->timed_out = 1;
  up_stats->addError(core::ErrorReason::kSourceUnavailable);
  up_stats->last_rtt_ns = 2'500'000;
  up_stats->state = core::PathState::kUp;
  auto hostile = std::make_shared<core::PathSpec>();
  hostile->source = "isp-b";
  hostile->target = "<script>x</script>";
  hostile->host = "evil\"host";
  hostile->options.probe = core::ProbeKind::kUdp;
  hostile->options.port = 53;
  auto hostile_stats = std::make_shared<core::PathStats>();
  hostile_stats->state = core::PathState::kError;
  hostile_stats->last_error = core::ErrorReason::kResolveFailed;
  snap.paths = {{up, up_stats}, {hostile, hostile_stats}};
  snap.sources = {{"isp-a", core::Family::kIpv4, core::parseIpAddress("192.0.2.1")},
                  {"isp-b", core::Family::kIpv4, std::nullopt}};
  const std::string html = service::renderStatusPage(snap, "1.2.3");
  CHECK(html.find("<h1>reachmon 1.2.3</h1>") != std::string::npos);
  CHECK(html.find("<td>isp-a</td><td>ipv4</td><td>192.0.2.1</td>") != std::string::npos);
  CHECK(html.find("<td>isp-b</td><td>ipv4</td><td>none (unavailable)</td>") != std::string::npos);
  // Loss counts every outcome but a reply, the probes that could not be sent included.
  CHECK(
      html.find(
          "<td>gw</td><td>198.51.100.1</td><td>icmp</td><td>up</td><td>2.500 ms</td><td>40.0 %</td>"
          "<td>5</td><td>4</td><td>3</td><td>1</td><td>1</td>") != std::string::npos);
  CHECK(html.find("<script>") == std::string::npos);
  CHECK(html.find("&lt;script&gt;x&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("evil&quot;host (unresolved)") != std::string::npos);
  CHECK(html.find("<td>udp port 53</td><td>resolve_failed</td>") != std::string::npos);
}
