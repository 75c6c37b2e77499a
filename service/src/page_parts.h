// What "/" and "/path" share: the document head and its style, the counters of a path, the
// caption above a graph, links, and the totals of the time a graph shows. Internal to
// reachmon_service.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "reachmon/core/history.h"
#include "reachmon/core/snapshot.h"
#include "reachmon/service/status_page.h"
#include "rtt_graph.h"

namespace reachmon::service {

// The two time spans a graph can show.
struct GraphSpan {
  std::string_view name;   // as in ?window=
  std::string_view label;  // for people
  core::Duration span;
};
inline constexpr GraphSpan kSpan3h{"3h", "3 hours", core::Duration{3LL * 3600 * 1'000'000'000}};
inline constexpr GraphSpan kSpan10m{"10m", "10 minutes", core::Duration{600LL * 1'000'000'000}};

// A path's history as a graph of `span` draws it: the minutes of the coarse ring then the 10 s
// slots since its newest closed minute (3 hours), or the 10 s slots only (10 minutes). Empty when
// the path keeps no history.
std::vector<core::HistoryWindow> graphWindows(const core::PathView& path, const GraphSpan& span);

// A graph of `span` at `time`, of GraphFrame's default size and RTT top (`title`, which must
// outlive the frame, from graphTitle()).
GraphFrame graphFrame(const PageTime& time, const GraphSpan& span, std::string_view title);
std::string graphTitle(const core::PathSpec& spec, const GraphSpan& span);

// Probes and lost probes of the slots a graph over [now - span, now] shows.
struct SpanTotals {
  std::uint64_t probes = 0;
  std::uint64_t lost = 0;
};
SpanTotals spanTotals(std::span<const core::HistoryWindow> windows, core::TimePoint now,
                      core::Duration span);

// A path's counters, read in an order that never shows more outcomes than probes.
struct PathNumbers {
  std::uint64_t scheduled = 0, sent = 0, replied = 0, timed_out = 0, errors = 0;
  core::PathState state = core::PathState::kUnknown;
  core::ErrorReason last_error = core::ErrorReason::kCount;
  std::int64_t last_rtt_ns = -1;
  explicit PathNumbers(const core::PathStats& stats);
};
std::string_view stateName(core::PathState state, core::ErrorReason reason);
bool isUp(core::PathState state);
std::string formatRtt(std::int64_t ns);                            // "12.345 ms", "-" for none
std::string formatLoss(std::uint64_t lost, std::uint64_t probes);  // "2.5 %", "-" for no probes

// "/path?source=..&target=.." (percent-encoded, then HTML-escaped for an attribute).
std::string pathHref(std::string_view source, std::string_view target);
// "/?..." with the given variables (empty ones left out), HTML-escaped for an attribute.
std::string overviewHref(const PageQuery& query);

// <!doctype html> up to and including <body>; `refresh_seconds` 0: no automatic reload.
void appendHead(std::string& out, std::string_view title, int refresh_seconds);
// The reachmon header line with links, and the loss colours' legend.
void appendBanner(std::string& out, const std::string& version, const PageTime& time);
void appendLegend(std::string& out);
// A whole page that says what is wrong (status 400 or 404).
PageReply errorPage(int status, const std::string& version, std::string_view message);

}  // namespace reachmon::service
