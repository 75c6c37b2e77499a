// The pages "/" and "/path": a graph per path with uplinks to one target side by side, filters,
// pages, the errors of a bad query, and that nothing from the config reaches the HTML unescaped.
#include "reachmon/service/status_page.h"

#include <catch2/catch.hpp>
#include <regex>

using namespace reachmon;
using namespace std::chrono_literals;

namespace {

std::size_t count(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + what.size())) ++n;
  return n;
}

// The text between the path's own element and the next path's (its caption and graph).
std::string pathCell(const std::string& html, const std::string& source,
                     const std::string& target) {
  const std::string tag =
      "<div class=\"path\" data-source=\"" + source + "\" data-target=\"" + target + "\">";
  const auto at = html.find(tag);
  if (at == std::string::npos) return {};
  const auto end = html.find("<div class=\"path", at + tag.size());
  return html.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

// The RTT axis' top label of the graph in `cell`.
std::string topLabel(const std::string& cell) {
  const auto g = cell.find("class=\"rtt-labels\"");
  const auto end = cell.find("</g>", g);
  if (g == std::string::npos || end == std::string::npos) return {};
  const auto last = cell.rfind("</text>", end);
  return cell.substr(cell.rfind('>', last) + 1, last - cell.rfind('>', last) - 1);
}

struct Fixture {
  core::Snapshot snap;
  service::PageTime time;
  Fixture() {
    time.now = core::TimePoint{1000h};
    time.unix_seconds = 1'800'000'000;
    snap.sources = {{"isp-a", core::Family::kIpv4, core::parseIpAddress("192.0.2.1")},
                    {"isp-b", core::Family::kIpv4, std::nullopt}};
  }
  // A path whose history has 20 minutes of probes every second: RTT 10 ms, and `lost_every`-th
  // probes lost (0: none).
  core::PathView& add(const std::string& source, const std::string& target, int lost_every,
                      core::Duration rtt = 10ms) {
    auto spec = std::make_shared<core::PathSpec>();
    spec->source = source;
    spec->target = target;
    spec->host = "192.0.2.50";
    spec->target_address = core::parseIpAddress("192.0.2.50");
    auto stats = std::make_shared<core::PathStats>();
    auto history = std::make_shared<core::PathHistory>();
    int n = 0;
    for (auto t = time.now - 20min; t <= time.now; t += 1s, ++n) {
      const bool lost = lost_every > 0 && n % lost_every == 0;
      history->record(t, lost ? std::nullopt : std::optional<core::Duration>(rtt));
      core::PathStats::add(stats->scheduled);
      if (!lost) core::PathStats::add(stats->replied);
    }
    stats->state = core::PathState::kUp;
    stats->last_rtt_ns = 10'000'000;
    snap.paths.push_back({spec, stats, history});
    return snap.paths.back();
  }
  service::PageReply overview(const std::string& query, std::size_t per_page = 100) {
    return service::renderStatusPage(snap, "1.2.3", service::PageQuery::parse(query), time,
                                     {per_page});
  }
};

}  // namespace

TEST_CASE("StatusPage: HTML special characters are escaped", "[status_page]") {
  CHECK(service::htmlEscape(R"(<a href="x">&'</a>)") ==
        "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  CHECK(service::htmlEscape("plain-name_1.2") == "plain-name_1.2");
}

TEST_CASE("StatusPage: the query's variables are URL-decoded, the first of each counts",
          "[status_page]") {
  const auto q =
      service::PageQuery::parse("source=isp%2Da&target=a+b&window=10m&page=2&source=x&other=1");
  CHECK(q.source == "isp-a");
  CHECK(q.target == "a b");
  CHECK(q.window == "10m");
  CHECK(q.page == "2");
  CHECK(service::PageQuery::parse("").source.empty());
}

TEST_CASE("StatusPage: sources and paths with their state, RTT and loss", "[status_page]") {
  Fixture f;
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
  f.snap.paths = {{up, up_stats, std::make_shared<core::PathHistory>()},
                  {hostile, hostile_stats, std::make_shared<core::PathHistory>()}};
  const auto r = f.overview("");
  const std::string& html = r.html;
  CHECK(r.status == 200);
  CHECK(html.find("reachmon</a> <small>1.2.3</small>") != std::string::npos);
  CHECK(html.find("<td>isp-a</td><td>ipv4</td><td>192.0.2.1</td>") != std::string::npos);
  CHECK(html.find("<td>isp-b</td><td>ipv4</td><td>none (unavailable)</td>") != std::string::npos);
  // Loss counts every outcome but a reply, the probes that could not be sent included.
  CHECK(html.find("<td>gw</td><td>198.51.100.1</td><td>icmp</td><td>up</td><td>2.500 ms</td>"
                  "<td>40.0 %</td><td>5</td><td>4</td><td>3</td><td>1</td><td>1</td>") !=
        std::string::npos);
  CHECK(html.find("<script") == std::string::npos);
  CHECK(html.find("&lt;script&gt;x&lt;/script&gt;") != std::string::npos);
  CHECK(html.find("evil&quot;host (unresolved)") != std::string::npos);
  CHECK(html.find("<td>udp port 53</td><td>resolve_failed</td>") != std::string::npos);
  // The hostile name in a link is percent-encoded, then escaped.
  CHECK(html.find("/path?source=isp-b&amp;target=%3Cscript%3Ex%3C%2Fscript%3E") !=
        std::string::npos);
  // No data yet: each path still has its graph, which says so.
  CHECK(count(html, "class=\"rtt-graph\"") == 2);
  CHECK(count(html, "no data yet") == 2);
  // Nothing to fetch from elsewhere, nothing to run.
  const std::string own =
      std::regex_replace(html, std::regex("xmlns=\"http://www.w3.org/2000/svg\""), "");
  CHECK(own.find("http://") == std::string::npos);
  CHECK(own.find("https://") == std::string::npos);
  CHECK(own.find("src=") == std::string::npos);
}

TEST_CASE("StatusPage: the uplinks to a target are one row on one RTT scale, loss only where lost",
          "[status_page]") {
  Fixture f;
  f.add("isp-a", "gw", 0);
  f.add("isp-b", "gw", 4, 40ms);  // a quarter lost, and slower
  f.add("isp-a", "dns", 0);
  const auto r = f.overview("");
  REQUIRE(r.status == 200);
  // Rows by target name, sources in the config's order.
  const auto dns = r.html.find("<section class=\"target\" data-target=\"dns\">");
  const auto gw = r.html.find("<section class=\"target\" data-target=\"gw\">");
  REQUIRE(dns != std::string::npos);
  REQUIRE(gw != std::string::npos);
  CHECK(dns < gw);
  CHECK(r.html.find("isp-b: not probed", dns) < gw);
  const std::string a = pathCell(r.html, "isp-a", "gw");
  const std::string b = pathCell(r.html, "isp-b", "gw");
  REQUIRE_FALSE(a.empty());
  REQUIRE_FALSE(b.empty());
  CHECK(count(a, "class=\"rtt-graph\"") == 1);
  CHECK(count(b, "class=\"rtt-graph\"") == 1);
  CHECK(count(a, "class=\"loss\"") == 0);
  CHECK(count(b, "class=\"loss\"") > 0);
  CHECK(a.find("<span class=\"loss-pct\">0.0 %</span>") != std::string::npos);
  // 3 hours: 20 minutes of data, a quarter of each slot lost.
  std::smatch m;
  REQUIRE(std::regex_search(b, m, std::regex("class=\"loss-pct\">([0-9.]+) %<")));
  CHECK(std::stod(m[1]) == Approx(25.0).margin(1.0));
  // Both graphs of the row share the RTT axis, the slower uplink's: a's top label is b's, while
  // the other row's path at a's RTT gets a lower one.
  CHECK(topLabel(a) == topLabel(b));
  CHECK(topLabel(b) == "50 ms");
  CHECK(topLabel(pathCell(r.html, "isp-a", "dns")) == "20 ms");
}

TEST_CASE("StatusPage: the UTC offset of local time, across a day's and a year's end",
          "[status_page]") {
  auto tm = [](int year, int yday, int hour, int min) {
    std::tm t{};
    t.tm_year = year;
    t.tm_yday = yday;
    t.tm_hour = hour;
    t.tm_min = min;
    return t;
  };
  CHECK(service::PageTime::utcOffset(tm(126, 10, 13, 30), tm(126, 10, 12, 0)) == 5400);
  CHECK(service::PageTime::utcOffset(tm(126, 10, 1, 0), tm(126, 9, 23, 0)) == 7200);
  CHECK(service::PageTime::utcOffset(tm(126, 9, 19, 0), tm(126, 10, 1, 0)) == -6 * 3600);
  CHECK(service::PageTime::utcOffset(tm(127, 0, 0, 30), tm(126, 364, 23, 30)) == 3600);
  CHECK(service::PageTime::utcOffset(tm(126, 364, 23, 0), tm(127, 0, 4, 0)) == -5 * 3600);
  CHECK(service::PageTime::utcOffset(tm(126, 5, 8, 0), tm(126, 5, 8, 0)) == 0);
}

TEST_CASE("StatusPage: filters by source and target, and says which names exist", "[status_page]") {
  Fixture f;
  f.add("isp-a", "gw", 0);
  f.add("isp-b", "gw", 0);
  f.add("isp-a", "dns", 0);
  auto r = f.overview("source=isp-b");
  CHECK(r.status == 200);
  CHECK(count(r.html, "<div class=\"path\" ") == 1);
  CHECK_FALSE(pathCell(r.html, "isp-b", "gw").empty());
  r = f.overview("target=dns&window=10m");
  CHECK(r.status == 200);
  CHECK(count(r.html, "<div class=\"path\" ") == 1);
  CHECK_FALSE(pathCell(r.html, "isp-a", "dns").empty());
  CHECK(r.html.find("Graphs of the last 10 minutes") != std::string::npos);
  r = f.overview("source=isp-c");
  CHECK(r.status == 404);
  CHECK(r.html.find("no path has the source \"isp-c\"; the sources are: isp-a, isp-b") ==
        std::string::npos);  // escaped
  CHECK(r.html.find("no path has the source &quot;isp-c&quot;; the sources are: isp-a, isp-b") !=
        std::string::npos);
  r = f.overview("source=isp-b&target=dns");  // both exist, but not this path
  CHECK(r.status == 404);
  CHECK(r.html.find("no path from source &quot;isp-b&quot; to target &quot;dns&quot;") !=
        std::string::npos);
  r = f.overview("target=%3Cb%3E");
  CHECK(r.status == 404);
  CHECK(r.html.find("&lt;b&gt;") != std::string::npos);
  CHECK(r.html.find("<b>") == std::string::npos);
  r = f.overview("window=1d");
  CHECK(r.status == 400);
  CHECK(r.html.find("use 3h or 10m") != std::string::npos);
}

TEST_CASE("StatusPage: above the page size, pages that keep each target's uplinks together",
          "[status_page]") {
  Fixture f;
  for (int t = 0; t < 7; ++t) {
    f.add("isp-a", "t" + std::to_string(t), 0);
    f.add("isp-b", "t" + std::to_string(t), 0);
  }
  // 14 paths, 5 per page: rows of 2 never split, so 2 rows (4 paths) a page, 4 pages.
  auto r = f.overview("", 5);
  CHECK(r.status == 200);
  CHECK(count(r.html, "<div class=\"path\" ") == 4);
  CHECK(r.html.find("<a href=\"/?page=4\">4</a>") != std::string::npos);
  r = f.overview("page=4", 5);
  CHECK(r.status == 200);
  CHECK(count(r.html, "<div class=\"path\" ") == 2);
  CHECK_FALSE(pathCell(r.html, "isp-b", "t6").empty());
  CHECK(f.overview("page=5", 5).status == 404);
  CHECK(f.overview("page=0", 5).status == 400);
  CHECK(f.overview("page=x", 5).status == 400);
  // Filters carry into the page links.
  r = f.overview("source=isp-a", 5);
  CHECK(r.html.find("<a href=\"/?source=isp-a&amp;page=2\">2</a>") != std::string::npos);
  // At or under the page size: one page, no page links.
  CHECK(f.overview("", 100).html.find("class=\"pages\"") == std::string::npos);
}

TEST_CASE("StatusPage: with graphs off, the table only", "[status_page]") {
  Fixture f;
  f.add("isp-a", "gw", 0).history.reset();
  const auto r = f.overview("");
  CHECK(r.status == 200);
  CHECK(r.html.find("rtt-graph") == std::string::npos);
  CHECK(r.html.find("Graphs are off") != std::string::npos);
  CHECK(r.html.find("<td>gw</td>") != std::string::npos);
}

TEST_CASE("PathPage: one path over 3 hours and 10 minutes, 404 for a path that is not",
          "[status_page]") {
  Fixture f;
  f.add("isp-a", "gw", 0);
  f.add("isp-b", "gw", 10);
  auto page = [&](const std::string& q) {
    return service::renderPathPage(f.snap, "1.2.3", service::PageQuery::parse(q), f.time);
  };
  auto r = page("source=isp-b&target=gw");
  REQUIRE(r.status == 200);
  CHECK(count(r.html, "class=\"rtt-graph\"") == 2);
  CHECK(count(r.html, "class=\"loss-pct\"") == 2);
  CHECK(r.html.find("Last 3 hours") < r.html.find("Last 10 minutes"));
  CHECK(r.html.find("class=\"loss\"") != std::string::npos);
  CHECK(r.html.find("<a href=\"/path?source=isp-a&amp;target=gw\">isp-a</a>") != std::string::npos);
  r = page("source=isp-a&target=gw");
  CHECK(r.html.find("class=\"loss\"") == std::string::npos);
  r = page("source=isp-a&target=nope");
  CHECK(r.status == 404);
  CHECK(r.html.find("no path from source &quot;isp-a&quot; to target &quot;nope&quot;") !=
        std::string::npos);
  CHECK(page("target=gw").status == 400);
}
