// One path's latency graph as inline SVG, SmokePing-style: the median RTT as a line coloured by the
// slot's loss, the spread of RTTs as smoke (min-max, p10-p90 and p25-p75 bands, darker towards
// the median), lost probes as coloured columns behind it, the time axis in the host's local time
// and the RTT axis with units. No script, no external asset: it renders offline and behind
// strict proxies. Internal to reachmon_service; pure functions, safe on any thread.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "reachmon/core/history.h"

namespace reachmon::service {

// The margins around the plot area, in pixels: RTT labels on the left, time labels below, the
// markers of clipped RTTs above. The SVG is width + left + right by height + top + bottom pixels.
inline constexpr int kRttGraphMarginLeft = 46;
inline constexpr int kRttGraphMarginRight = 16;
inline constexpr int kRttGraphMarginTop = 8;
inline constexpr int kRttGraphMarginBottom = 16;

struct GraphFrame {
  int width = 360;              // the plot area in pixels; the SVG adds margins for the axes
  int height = 110;             // the plot area's height
  core::TimePoint now{0};       // the probe thread's clock (Monitor::now()) when rendering
  double now_unix_seconds = 0;  // the wall clock at the same moment: what the axis shows
  int utc_offset_seconds = 0;   // the host's offset from UTC now: labels are local time
  core::Duration span{0};       // the time the graph shows, ending at `now`
  core::Duration rtt_top{0};    // the RTT axis' top; 0: autoRttTop() of the data
  std::string_view title;       // the SVG's <title> and aria-label (escaped here)
};

// The loss scale that colours the median and the loss columns (classes loss-0 to loss-4, in
// this order), for the page's legend. Labels are plain ASCII text, safe in HTML as they are.
struct LossBand {
  std::string_view colour;  // "#rrggbb"
  std::string_view label;   // "no loss", "up to 5 %", ...
};
std::span<const LossBand> lossBands();

// The RTT axis' top for these windows over `frame`'s span: a round value (1, 2 or 5 times a power
// of ten) above the highest p90 of any slot shown (and above its median when that is higher), so
// that one huge outlier does not flatten the graph; RTTs above it are clipped and marked. 1 ms
// when no slot shows an RTT. Graphs side by side share the highest of theirs.
core::Duration autoRttTop(std::span<const core::HistoryWindow> windows, const GraphFrame& frame);

// Appends the <svg> element (SVG 1.1, presentation attributes only: it looks the same without
// the page's stylesheet). `windows` are drawn in order, each only after the end of the newest
// slot of those before it: {coarse, fine} shows 3 hours by the minute and the minutes since the
// last closed minute by 10 s. Slots without outcomes are gaps. Elements the page's tests and
// styles rely on: svg.rtt-graph; rect.loss (one per run of adjacent slots with loss of one
// colour, with a <title> saying when and how many of how many probes were lost); path.smoke;
// path.median; text.no-data when no slot falls in the span; the axes in g.axis. Also: rect.plot
// (the background); path.median carries loss-0 (no loss), loss-1 (up to 5 %), loss-2 (up to 20 %)
// or loss-3 (more), rect.loss the same colours (and loss-4's when all was lost) as its fill, with
// class "loss" alone; path.clipped (with a <title>) marks a slot whose max is above the RTT axis;
// g.axis holds path.grid, rect.frame, g.rtt-labels and g.time-labels.
void renderRttGraph(std::string& out, std::span<const core::HistoryWindow> windows,
                    const GraphFrame& frame);

}  // namespace reachmon::service
