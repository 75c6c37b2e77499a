// "/": the graphs of every path, a row per target with one column per source, so that the uplinks
// to one target are side by side on one RTT scale; then the sources and every path's counters.
#include "reachmon/service/status_page.h"

#include <civetweb.h>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <ctime>
#include <map>

#include "page_parts.h"
#include "rtt_graph.h"

namespace reachmon::service {

PageTime PageTime::current(core::TimePoint probe_now) {
  PageTime t;
  t.now = probe_now;
  t.unix_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(t.unix_seconds);
  t.utc_offset_seconds = utcOffset(fmt::localtime(secs), fmt::gmtime(secs));
  return t;
}

int PageTime::utcOffset(const std::tm& local, const std::tm& utc) {
  // At most a day apart: across a year's end the day of the year wraps.
  int days = local.tm_yday - utc.tm_yday;
  if (local.tm_year != utc.tm_year) days = local.tm_year > utc.tm_year ? 1 : -1;
  return days * 86400 + (local.tm_hour - utc.tm_hour) * 3600 + (local.tm_min - utc.tm_min) * 60 +
         (local.tm_sec - utc.tm_sec);
}

PageQuery PageQuery::parse(std::string_view query_string) {
  PageQuery q;
  const std::string data(query_string);
  std::vector<char> buffer(data.size() + 1);
  for (auto [name, out] : {std::pair<const char*, std::string*>{"source", &q.source},
                           {"target", &q.target},
                           {"window", &q.window},
                           {"page", &q.page}}) {
    const int n = mg_get_var(data.c_str(), data.size(), name, buffer.data(), buffer.size());
    if (n > 0) out->assign(buffer.data(), static_cast<std::size_t>(n));
  }
  return q;
}

namespace {

constexpr std::size_t kMaxTargetSuggestions = 500;

struct Row {
  std::string_view target;
  std::vector<const core::PathView*> paths;  // by source, in the page's column order
};

std::string joinNames(const std::vector<std::string_view>& names) {
  std::string s;
  for (const auto& n : names) {
    if (!s.empty()) s += ", ";
    s += n;
  }
  return s;
}

void appendFilters(std::string& out, const core::Snapshot& snap,
                   const std::vector<std::string_view>& targets, const PageQuery& q,
                   const GraphSpan& span) {
  out +=
      "<form method=\"get\" action=\"/\"><label>source <select name=\"source\"><option "
      "value=\"\">all</option>";
  for (const auto& s : snap.sources)
    out += fmt::format("<option{}>{}</option>", s.name == q.source ? " selected" : "",
                       htmlEscape(s.name));
  out +=
      "</select></label><label>target <input name=\"target\" size=\"16\" list=\"targets\" "
      "placeholder=\"all\" value=\"";
  out += htmlEscape(q.target);
  out += "\"><datalist id=\"targets\">";
  // Suggestions while typing, unless they would outweigh the page itself.
  if (targets.size() <= kMaxTargetSuggestions)
    for (const auto& t : targets) out += fmt::format("<option value=\"{}\">", htmlEscape(t));
  out += "</datalist></label><label>window <select name=\"window\">";
  for (const GraphSpan* s : {&kSpan3h, &kSpan10m})
    out += fmt::format("<option value=\"{}\"{}>{}</option>", s->name,
                       s->name == span.name ? " selected" : "", s->label);
  out += "</select></label><button>show</button></form>";
}

void appendPathCell(std::string& out, const core::PathView& p, const GraphSpan& span,
                    const PageTime& time, core::Duration rtt_top,
                    const std::vector<core::HistoryWindow>& windows) {
  const PathNumbers n(*p.stats);
  const SpanTotals totals = spanTotals(windows, time.now, span.span);
  out += fmt::format(
      "<div class=\"path\" data-source=\"{0}\" data-target=\"{1}\"><div class=\"cap\"><a "
      "href=\"{2}\"><b>{0}</b></a> <span class=\"state {3}\">{4}</span> last <span "
      "class=\"rtt\">{5}</span> · loss <span class=\"loss-pct\">{6}</span></div>",
      htmlEscape(p.spec->source), htmlEscape(p.spec->target),
      pathHref(p.spec->source, p.spec->target), isUp(n.state) ? "up" : "down",
      stateName(n.state, n.last_error), formatRtt(n.last_rtt_ns),
      formatLoss(totals.lost, totals.probes));
  const std::string title = graphTitle(*p.spec, span);
  GraphFrame frame = graphFrame(time, span, title);
  frame.rtt_top = rtt_top;
  renderRttGraph(out, windows, frame);
  out += "</div>";
}

void appendGraphs(std::string& out, const std::vector<Row>& rows,
                  const std::vector<std::string_view>& columns, const GraphSpan& span,
                  const PageTime& time) {
  const GraphFrame frame = graphFrame(time, span, {});
  for (const Row& row : rows) {
    const core::PathView* first = nullptr;
    std::vector<std::vector<core::HistoryWindow>> windows(row.paths.size());
    core::Duration top{0};
    for (std::size_t i = 0; i < row.paths.size(); ++i) {
      if (!row.paths[i]) continue;
      if (!first) first = row.paths[i];
      windows[i] = graphWindows(*row.paths[i], span);
      top = std::max(top, autoRttTop(windows[i], frame));  // one scale for the whole row
    }
    const core::PathSpec& spec = *first->spec;
    out += fmt::format(
        "<section class=\"target\" data-target=\"{}\"><h3>{} <small>{}{}</small></h3><div "
        "class=\"row\" style=\"grid-template-columns:repeat({},max-content)\">",
        htmlEscape(row.target), htmlEscape(row.target), htmlEscape(spec.host),
        spec.target_address && core::formatIpAddress(*spec.target_address) != spec.host
            ? " (" + core::formatIpAddress(*spec.target_address) + ")"
            : std::string(),
        columns.size());
    for (std::size_t i = 0; i < row.paths.size(); ++i) {
      if (row.paths[i]) {
        appendPathCell(out, *row.paths[i], span, time, top, windows[i]);
      } else {
        out += fmt::format("<div class=\"path none\">{}: not probed</div>", htmlEscape(columns[i]));
      }
    }
    out += "</div></section>";
  }
}

void appendSources(std::string& out, const core::Snapshot& snap) {
  out += "<h2>Sources</h2><table><tr><th>source</th><th>family</th><th>address</th></tr>";
  for (const auto& s : snap.sources) {
    out += fmt::format("<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                       s.address ? "up" : "down", htmlEscape(s.name), core::familyName(s.family),
                       s.address ? core::formatIpAddress(*s.address) : "none (unavailable)");
  }
  out += "</table>";
}

void appendCounters(std::string& out, const std::vector<Row>& rows) {
  out +=
      "<h2>Paths</h2><table><tr><th>source</th><th>target</th><th>address</th>"
      "<th>probe</th><th>state</th><th>last RTT</th><th>loss since "
      "start</th><th>probes</th><th>sent</th>"
      "<th>replied</th><th>timed out</th><th>errors</th></tr>";
  for (const Row& row : rows) {
    for (const core::PathView* p : row.paths) {
      if (!p) continue;
      const PathNumbers n(*p->stats);
      out += fmt::format(
          "<tr class=\"{}\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
          "<td>{}</td></tr>",
          isUp(n.state) ? "up" : "down", pathHref(p->spec->source, p->spec->target),
          htmlEscape(p->spec->source), htmlEscape(p->spec->target),
          p->spec->target_address ? core::formatIpAddress(*p->spec->target_address)
                                  : htmlEscape(p->spec->host) + " (unresolved)",
          p->spec->options.probe == core::ProbeKind::kUdp
              ? fmt::format("udp port {}", p->spec->options.port)
              : std::string("icmp"),
          stateName(n.state, n.last_error), formatRtt(n.last_rtt_ns),
          formatLoss(n.scheduled - n.replied, n.scheduled), n.scheduled, n.sent, n.replied,
          n.timed_out, n.errors);
    }
  }
  out += "</table>";
}

}  // namespace

PageReply renderStatusPage(const core::Snapshot& snap, const std::string& version,
                           const PageQuery& q, const PageTime& time,
                           const StatusPageOptions& options) {
  const GraphSpan* span = q.window.empty() || q.window == kSpan3h.name ? &kSpan3h
                          : q.window == kSpan10m.name                  ? &kSpan10m
                                                                       : nullptr;
  if (!span)
    return errorPage(400, version,
                     "window \"" + q.window + "\" is not one of the graphs' spans: use 3h or 10m");

  // Columns: the sources in the config's order; rows: the targets by name.
  std::map<std::string_view, std::size_t> column_of;
  std::vector<std::string_view> all_sources;
  for (const auto& s : snap.sources) {
    column_of.emplace(s.name, column_of.size());
    all_sources.push_back(s.name);
  }
  std::map<std::string_view, std::vector<const core::PathView*>> by_target;
  std::vector<std::string_view> all_targets;
  bool source_known = q.source.empty(), target_known = q.target.empty();
  std::vector<bool> column_used(column_of.size(), false);
  for (const auto& p : snap.paths) {
    source_known = source_known || p.spec->source == q.source;
    target_known = target_known || p.spec->target == q.target;
    all_targets.push_back(p.spec->target);
    if ((!q.source.empty() && p.spec->source != q.source) ||
        (!q.target.empty() && p.spec->target != q.target))
      continue;
    // A source the snapshot does not list (the probe thread never publishes one) gets a column.
    const auto [col, added] = column_of.emplace(p.spec->source, column_of.size());
    if (added) {
      all_sources.push_back(p.spec->source);
      column_used.push_back(false);
    }
    auto& row = by_target[p.spec->target];
    row.resize(column_of.size(), nullptr);
    row[col->second] = &p;
    column_used[col->second] = true;
  }
  if (!source_known)
    return errorPage(
        404, version,
        "no path has the source \"" + q.source + "\"; the sources are: " + joinNames(all_sources));
  if (!target_known) return errorPage(404, version, "no path has the target \"" + q.target + "\"");
  if (by_target.empty() && !snap.paths.empty())
    return errorPage(404, version,
                     "no path from source \"" + q.source + "\" to target \"" + q.target + "\"");

  std::sort(all_targets.begin(), all_targets.end());
  all_targets.erase(std::unique(all_targets.begin(), all_targets.end()), all_targets.end());
  // Only the columns of sources with a path on this page's filter.
  std::vector<std::string_view> columns;
  for (std::size_t c = 0; c < all_sources.size(); ++c)
    if (column_used[c]) columns.push_back(all_sources[c]);
  std::vector<std::vector<Row>> pages(1);
  std::size_t on_page = 0, total = 0;
  for (auto& [target, paths] : by_target) {
    Row row{target, {}};
    std::size_t n = 0;
    paths.resize(column_of.size(), nullptr);
    for (std::size_t c = 0; c < paths.size(); ++c) {
      if (!column_used[c]) continue;
      row.paths.push_back(paths[c]);
      n += paths[c] ? 1 : 0;
    }
    if (on_page > 0 && on_page + n > options.paths_per_page) {
      pages.emplace_back();
      on_page = 0;
    }
    pages.back().push_back(std::move(row));
    on_page += n;
    total += n;
  }
  std::size_t page = 1;
  if (!q.page.empty()) {
    const auto [end, ec] = std::from_chars(q.page.data(), q.page.data() + q.page.size(), page);
    if (ec != std::errc() || end != q.page.data() + q.page.size() || page == 0)
      return errorPage(
          400, version,
          "page \"" + q.page + "\" is not a page number: use 1 to " + std::to_string(pages.size()));
    if (page > pages.size())
      return errorPage(404, version,
                       "there is no page " + q.page + ": the paths fill " +
                           std::to_string(pages.size()) + " page" + (pages.size() == 1 ? "" : "s"));
  }
  const std::vector<Row>& rows = pages[page - 1];

  PageReply reply;
  std::string& out = reply.html;
  out.reserve(4096 + 12'000 * std::min(total, options.paths_per_page));
  appendHead(out, "reachmon", 10);
  appendBanner(out, version, time);
  appendFilters(out, snap, all_targets, q, *span);
  std::size_t up = 0, shown = 0;
  for (const Row& row : rows) {
    for (const auto* p : row.paths) {
      if (!p) continue;
      ++shown;
      up += isUp(p->stats->state.load()) ? 1 : 0;
    }
  }
  out += fmt::format("<p>{} path{}{}: <b>{} up</b>, <b>{} not up</b>. Graphs of the last {}.</p>",
                     shown, shown == 1 ? "" : "s",
                     pages.size() > 1 ? fmt::format(" on this page (of {})", total) : "", up,
                     shown - up, span->label);
  if (pages.size() > 1) {
    out += "<nav class=\"pages\">page";
    for (std::size_t i = 1; i <= pages.size(); ++i) {
      PageQuery link = q;
      link.page = std::to_string(i);
      out += i == page ? fmt::format(" <b>{}</b>", i)
                       : fmt::format(" <a href=\"{}\">{}</a>", overviewHref(link), i);
    }
    out += "</nav>";
  }
  const bool graphs = std::any_of(snap.paths.begin(), snap.paths.end(),
                                  [](const core::PathView& p) { return p.history != nullptr; });
  if (graphs) {
    appendLegend(out);
    appendGraphs(out, rows, columns, *span, time);
  } else if (!snap.paths.empty()) {
    out += "<p class=\"muted\">Graphs are off (\"web\": {\"graphs\": false} in the config).</p>";
  }
  appendSources(out, snap);
  appendCounters(out, rows);
  out += "</body></html>\n";
  return reply;
}

}  // namespace reachmon::service
