// "/path?source=S&target=T": one path, large, over 3 hours and over 10 minutes, with its
// counters and the uplinks to the same target beside it as links.
#include <fmt/format.h>

#include "page_parts.h"
#include "reachmon/service/status_page.h"
#include "rtt_graph.h"

namespace reachmon::service {

PageReply renderPathPage(const core::Snapshot& snap, const std::string& version, const PageQuery& q,
                         const PageTime& time) {
  if (q.source.empty() || q.target.empty())
    return errorPage(400, version,
                     "name the path: /path?source=SOURCE&target=TARGET (the names in the config)");
  const core::PathView* path = nullptr;
  std::vector<const core::PathView*> siblings;  // other sources to the same target
  for (const auto& p : snap.paths) {
    if (p.spec->target != q.target) continue;
    if (p.spec->source == q.source) {
      path = &p;
    } else {
      siblings.push_back(&p);
    }
  }
  if (!path)
    return errorPage(404, version,
                     "no path from source \"" + q.source + "\" to target \"" + q.target + "\"");

  const core::PathSpec& spec = *path->spec;
  const PathNumbers n(*path->stats);
  PageReply reply;
  std::string& out = reply.html;
  out.reserve(std::size_t{64} * 1024);
  appendHead(out, "reachmon: " + spec.source + " to " + spec.target, 10);
  appendBanner(out, version, time);
  out += fmt::format(
      "<div class=\"path\" data-source=\"{}\" data-target=\"{}\"><h2>{} to {} <small>{}{}, "
      "{}</small></h2><p class=\"cap\"><span class=\"state {}\">{}</span> · last RTT <span "
      "class=\"rtt\">{}</span> · since start: {} probes, loss {}</p>",
      htmlEscape(spec.source), htmlEscape(spec.target), htmlEscape(spec.source),
      htmlEscape(spec.target), htmlEscape(spec.host),
      !spec.target_address ? std::string(" (unresolved)")
      : core::formatIpAddress(*spec.target_address) == spec.host
          ? std::string()
          : " (" + core::formatIpAddress(*spec.target_address) + ")",
      spec.options.probe == core::ProbeKind::kUdp ? fmt::format("udp port {}", spec.options.port)
                                                  : std::string("icmp"),
      isUp(n.state) ? "up" : "down", stateName(n.state, n.last_error), formatRtt(n.last_rtt_ns),
      n.scheduled, formatLoss(n.scheduled - n.replied, n.scheduled));
  if (!path->history) {
    out += "<p class=\"muted\">Graphs are off (\"web\": {\"graphs\": false} in the config).</p>";
  } else {
    appendLegend(out);
    for (const GraphSpan* span : {&kSpan3h, &kSpan10m}) {
      const auto windows = graphWindows(*path, *span);
      const SpanTotals totals = spanTotals(windows, time.now, span->span);
      const std::string title = graphTitle(spec, *span);
      out += fmt::format(
          "<h3>Last {} <small>loss <span class=\"loss-pct\">{}</span> of {} probes"
          "</small></h3>",
          span->label, formatLoss(totals.lost, totals.probes), totals.probes);
      GraphFrame frame = graphFrame(time, *span, title);
      frame.width = 900;
      frame.height = 260;
      renderRttGraph(out, windows, frame);
    }
  }
  out += "</div>";
  if (!siblings.empty()) {
    out += "<p>Other uplinks to this target:";
    for (const auto* s : siblings)
      out += fmt::format(" <a href=\"{}\">{}</a>", pathHref(s->spec->source, s->spec->target),
                         htmlEscape(s->spec->source));
    out += "</p>";
  }
  PageQuery row;
  row.target = spec.target;
  out += fmt::format("<p><a href=\"{}\">every uplink to {}, side by side</a></p></body></html>\n",
                     overviewHref(row), htmlEscape(spec.target));
  return reply;
}

}  // namespace reachmon::service
