#include "page_parts.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>

namespace reachmon::service {

std::string htmlEscape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::vector<core::HistoryWindow> graphWindows(const core::PathView& path, const GraphSpan& span) {
  std::vector<core::HistoryWindow> windows;
  if (!path.history) return windows;
  if (span.span > kSpan10m.span) windows.push_back(path.history->coarse());
  windows.push_back(path.history->fine());
  return windows;
}

GraphFrame graphFrame(const PageTime& time, const GraphSpan& span, std::string_view title) {
  GraphFrame frame;
  frame.now = time.now;
  frame.now_unix_seconds = time.unix_seconds;
  frame.utc_offset_seconds = time.utc_offset_seconds;
  frame.span = span.span;
  frame.title = title;
  return frame;
}

std::string graphTitle(const core::PathSpec& spec, const GraphSpan& span) {
  return spec.source + " to " + spec.target + ", last " + std::string(span.label);
}

SpanTotals spanTotals(std::span<const core::HistoryWindow> windows, core::TimePoint now,
                      core::Duration span) {
  SpanTotals t;
  // Each window counts only after the end of the newest slot of those before it, as drawn.
  core::TimePoint covered = now - span;
  for (const auto& w : windows) {
    if (w.newest < 0) continue;
    for (std::size_t i = 0; i < w.slots.size(); ++i) {
      const std::int64_t k = w.numberOf(i);
      // As drawn: a slot straddling the span's start counts (clipped on the graph).
      if (w.slotStart(k) + w.slot_width <= covered || w.slotStart(k) >= now) continue;
      t.probes += w.slots[i].probes;
      t.lost += w.slots[i].lost;
    }
    covered = std::max(covered, w.slotStart(w.newest + 1));
  }
  return t;
}

PathNumbers::PathNumbers(const core::PathStats& st) {
  // Outcomes before `scheduled` and `sent`, which the probe thread counts first.
  replied = st.replied.load();
  timed_out = st.timed_out.load();
  for (const auto& e : st.errors) errors += e.load();
  scheduled = st.scheduled.load();
  sent = st.sent.load();
  state = st.state.load();
  last_error = st.last_error.load();
  last_rtt_ns = st.last_rtt_ns.load();
}

std::string_view stateName(core::PathState s, core::ErrorReason reason) {
  switch (s) {
    case core::PathState::kUp:
      return "up";
    case core::PathState::kTimedOut:
      return "timeout";
    case core::PathState::kError:
      return reason == core::ErrorReason::kCount ? "error" : core::reasonName(reason);
    case core::PathState::kUnknown:
      break;
  }
  return "pending";
}

bool isUp(core::PathState s) { return s == core::PathState::kUp; }

std::string formatRtt(std::int64_t ns) {
  return ns < 0 ? std::string("-") : fmt::format("{:.3f} ms", static_cast<double>(ns) / 1e6);
}

std::string formatLoss(std::uint64_t lost, std::uint64_t probes) {
  return probes == 0 ? std::string("-")
                     : fmt::format("{:.1f} %",
                                   100.0 * static_cast<double>(lost) / static_cast<double>(probes));
}

namespace {

// RFC 3986 percent-encoding of a query value: everything but the unreserved characters.
void appendQueryValue(std::string& out, std::string_view v) {
  for (unsigned char c : v) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
}

}  // namespace

std::string pathHref(std::string_view source, std::string_view target) {
  std::string url = "/path?source=";
  appendQueryValue(url, source);
  url += "&target=";
  appendQueryValue(url, target);
  return htmlEscape(url);
}

std::string overviewHref(const PageQuery& q) {
  std::string url = "/";
  char sep = '?';
  for (const auto& [name, value] :
       {std::pair<std::string_view, const std::string&>{"source", q.source},
        {"target", q.target},
        {"window", q.window},
        {"page", q.page}}) {
    if (value.empty()) continue;
    url += sep;
    url += name;
    url += '=';
    appendQueryValue(url, value);
    sep = '&';
  }
  return htmlEscape(url);
}

void appendHead(std::string& out, std::string_view title, int refresh_seconds) {
  out += "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">";
  out += "<meta name=\"viewport\" content=\"width=device-width\">";
  if (refresh_seconds > 0)
    out += fmt::format("<meta http-equiv=\"refresh\" content=\"{}\">", refresh_seconds);
  out += "<title>";
  out += htmlEscape(title);
  out += "</title><style>";
  out +=
      "body{font-family:system-ui,sans-serif;margin:1em 1.5em;color:#222}"
      "h1{font-size:1.3em;margin:.2em 0}h2{font-size:1.1em;margin:1.2em 0 .4em}"
      "h3{font-size:1em;margin:.8em 0 .2em}small,.muted{color:#666;font-weight:normal}"
      "a{color:#0645ad}nav a,nav b{margin-right:.8em}"
      "form{margin:.5em 0}label{margin-right:.8em}"
      "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2em .5em;"
      "text-align:left}.up{background:#dfd}.down{background:#fdd}"
      ".row{display:grid;gap:.4em 1.2em;align-items:start}"
      ".path{border:1px solid #ddd;padding:.2em .3em}.path.none{border:1px dashed #eee;"
      "color:#999;font-size:.85em}.cap{font-size:.85em;white-space:nowrap}"
      ".cap .state{padding:0 .3em;border-radius:.2em}.legend span{margin-right:.9em}"
      ".swatch{display:inline-block;width:.9em;height:.9em;vertical-align:-.1em;"
      "margin-right:.25em;border:1px solid #999}svg{display:block}";
  out += "</style></head><body>";
}

void appendBanner(std::string& out, const std::string& version, const PageTime& time) {
  const auto t = static_cast<std::time_t>(time.unix_seconds);
  const int off = time.utc_offset_seconds;
  out += fmt::format(
      "<header><h1><a href=\"/\">reachmon</a> <small>{}</small></h1><nav><a href=\"/\">all "
      "paths</a><a href=\"/metrics\">/metrics</a><a href=\"/-/healthy\">/-/healthy</a>"
      "<span class=\"muted\">{:%Y-%m-%d %H:%M:%S} UTC{}{:02}:{:02}</span></nav></header>",
      htmlEscape(version), fmt::gmtime(t + off), off < 0 ? '-' : '+', std::abs(off) / 3600,
      std::abs(off) % 3600 / 60);
}

void appendLegend(std::string& out) {
  out += "<p class=\"legend muted\">Median RTT, coloured by loss:";
  for (const auto& band : lossBands())
    out += fmt::format(" <span><i class=\"swatch\" style=\"background:{}\"></i>{}</span>",
                       band.colour, band.label);
  out +=
      " Grey smoke: the spread of RTTs (min to max, 10th to 90th and 25th to 75th percentile); "
      "a coloured column: probes lost in that time.</p>";
}

PageReply errorPage(int status, const std::string& version, std::string_view message) {
  PageReply r{status, {}};
  appendHead(r.html, "reachmon: " + std::to_string(status), 0);
  r.html += fmt::format(
      "<header><h1><a href=\"/\">reachmon</a> <small>{}</small></h1></header><p class=\"error\">"
      "{}</p><p><a href=\"/\">all paths</a></p></body></html>\n",
      htmlEscape(version), htmlEscape(message));
  return r;
}

}  // namespace reachmon::service
