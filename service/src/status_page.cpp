#include "reachmon/service/status_page.h"

#include <fmt/format.h>

#include <cstdint>

namespace reachmon::service {

std::string htmlEscape(const std::string& s) {
  std::string out;
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

namespace {

const char* stateName(core::PathState s, core::ErrorReason reason) {
  switch (s) {
    case core::PathState::kUp:
      return "up";
    case core::PathState::kTimedOut:
      return "timeout";
    case core::PathState::kError:
      return reason == core::ErrorReason::kCount ? "error" : core::reasonName(reason).data();
    case core::PathState::kUnknown:
      break;
  }
  return "pending";
}

}  // namespace

std::string renderStatusPage(const core::Snapshot& snap, const std::string& version) {
  std::string html = fmt::format(
      "<!doctype html><html><head><meta charset=\"utf-8\"><title>reachmon</title>"
      "<meta http-equiv=\"refresh\" content=\"5\"><style>"
      "body{{font-family:sans-serif;margin:1.5em}}table{{border-collapse:collapse}}"
      "td,th{{border:1px solid #ccc;padding:.25em .6em;text-align:left}}"
      ".up{{background:#dfd}}.down{{background:#fdd}}</style></head><body>"
      "<h1>reachmon {}</h1><p><a href=\"/metrics\">/metrics</a></p><h2>Sources</h2>"
      "<table><tr><th>source</th><th>family</th><th>address</th></tr>",
      htmlEscape(version));
  for (const auto& s : snap.sources) {
    html += fmt::format("<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td></tr>",
                        s.address ? "up" : "down", htmlEscape(s.name), core::familyName(s.family),
                        s.address ? core::formatIpAddress(*s.address) : "none (unavailable)");
  }
  html +=
      "</table><h2>Paths</h2><table><tr><th>source</th><th>target</th><th>address</th>"
      "<th>probe</th><th>state</th><th>last RTT</th><th>loss since "
      "start</th><th>probes</th><th>sent</th>"
      "<th>replied</th><th>timed out</th><th>errors</th></tr>";
  for (const auto& p : snap.paths) {
    const auto& st = *p.stats;
    // Outcomes before `scheduled` and `sent`, which the probe thread counts first.
    const auto replied = st.replied.load();
    const auto timed_out = st.timed_out.load();
    std::uint64_t errors = 0;
    for (const auto& e : st.errors) errors += e.load();
    const auto scheduled = st.scheduled.load();
    const auto sent = st.sent.load();
    const auto state = st.state.load();
    const auto rtt_ns = st.last_rtt_ns.load();
    html += fmt::format(
        "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        state == core::PathState::kUp ? "up" : "down", htmlEscape(p.spec->source),
        htmlEscape(p.spec->target),
        p.spec->target_address ? core::formatIpAddress(*p.spec->target_address)
                               : htmlEscape(p.spec->host) + " (unresolved)",
        p.spec->options.probe == core::ProbeKind::kUdp
            ? fmt::format("udp port {}", p.spec->options.port)
            : std::string("icmp"),
        stateName(state, st.last_error.load()),
        rtt_ns < 0 ? std::string("-") : fmt::format("{:.3f} ms", static_cast<double>(rtt_ns) / 1e6),
        scheduled == 0 ? std::string("-")
                       : fmt::format("{:.1f} %", 100.0 * static_cast<double>(scheduled - replied) /
                                                     static_cast<double>(scheduled)),
        scheduled, sent, replied, timed_out, errors);
  }
  html += "</table></body></html>\n";
  return html;
}

}  // namespace reachmon::service
