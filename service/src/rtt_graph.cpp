#include "rtt_graph.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace reachmon::service {

namespace {

using core::Duration;
using core::HistoryQuantile;
using core::HistorySlot;
using core::HistoryWindow;
using core::TimePoint;

constexpr std::int64_t kNsPerSecond = 1'000'000'000;
constexpr std::int64_t kMinTopNs = 1'000;                 // 1 us: finer is noise
constexpr std::int64_t kMaxTopNs = 1'000 * kNsPerSecond;  // beyond any probe timeout
constexpr std::int64_t kDefaultTopNs = 1'000'000;         // 1 ms
constexpr Duration kMinSpan{kNsPerSecond};
constexpr Duration kMaxSpan{400LL * 86400 * kNsPerSecond};

// Loss buckets: none, (0, 5 %], (5 %, 20 %], (20 %, 100 %), all lost.
constexpr std::array<LossBand, 5> kLossBands = {{{"#1a9641", "no loss"},
                                                 {"#2b83ba", "up to 5 %"},
                                                 {"#7b3294", "up to 20 %"},
                                                 {"#f46d43", "over 20 %"},
                                                 {"#d7191c", "all lost"}}};
// Smoke, from the outer band (min-max) to the inner one (p25-p75): darker towards the median.
struct Band {
  HistoryQuantile low, high;
  std::string_view fill;
};
constexpr std::array<Band, 3> kBands = {
    {{HistoryQuantile::kMin, HistoryQuantile::kMax, "#dcdcdc"},
     {HistoryQuantile::kP10, HistoryQuantile::kP90, "#b4b4b4"},
     {HistoryQuantile::kP25, HistoryQuantile::kP75, "#8c8c8c"}}};

// The length of the valid UTF-8 sequence (of a character XML allows) that `s` starts with, 0 if
// it starts with none. s[0] is not ASCII.
std::size_t utf8Length(std::string_view s) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (byte(0) >= 0xC2 && byte(0) <= 0xDF) {
    n = 2;
    cp = byte(0) & 0x1Fu;
  } else if (byte(0) >= 0xE0 && byte(0) <= 0xEF) {
    n = 3;
    cp = byte(0) & 0x0Fu;
  } else if (byte(0) >= 0xF0 && byte(0) <= 0xF4) {
    n = 4;
    cp = byte(0) & 0x07u;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((byte(k) & 0xC0u) != 0x80u) return 0;
    cp = cp << 6 | (byte(k) & 0x3Fu);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  const bool invalid =
      cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF;
  return overlong || invalid ? 0 : n;
}

// Appends to a string through a fixed buffer: a graph is thousands of tiny pieces, and
// std::string's per-append capacity checks and growth cost more than the formatting.
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { flush(); }

  void put(char c) {
    room(1);
    buf_[n_++] = c;
  }
  void put(std::string_view s) {
    if (s.size() > kSize / 2) {
      flush();
      out_.append(s);
      return;
    }
    room(s.size());
    std::memcpy(buf_.data() + n_, s.data(), s.size());
    n_ += s.size();
  }
  void num(std::int64_t v) {
    room(24);
    n_ = static_cast<std::size_t>(std::to_chars(buf_.data() + n_, buf_.data() + kSize, v).ptr -
                                  buf_.data());
  }
  // A coordinate in tenths of a pixel: "12", "12.5", "-0.5".
  void tenths(std::int64_t v) {
    if (v < 0) {
      put('-');
      v = -v;
    }
    num(v / 10);
    if (v % 10 != 0) {
      room(2);
      buf_[n_++] = '.';
      buf_[n_++] = static_cast<char>('0' + v % 10);
    }
  }
  // `v` / `unit` (a power of ten) with the decimals it needs: 2500 / 1000 -> "2.5".
  void decimal(std::int64_t v, std::int64_t unit) {
    num(v / unit);
    std::int64_t frac = v % unit;
    if (frac == 0) return;
    int digits = 0;
    for (std::int64_t u = unit; u > 1; u /= 10) ++digits;
    while (frac % 10 == 0) {
      frac /= 10;
      --digits;
    }
    std::array<char, 20> d{};
    auto len = static_cast<int>(std::to_chars(d.data(), d.data() + d.size(), frac).ptr - d.data());
    put('.');
    for (int i = len; i < digits; ++i) put('0');
    put(std::string_view(d.data(), static_cast<std::size_t>(len)));
  }
  // Text or an attribute value: XML-escaped, and without what XML 1.0 has no way to carry (not
  // even as references): control characters become spaces, invalid UTF-8 U+FFFD.
  void escaped(std::string_view s) {
    for (std::size_t i = 0; i < s.size();) {
      const char c = s[i];
      if (static_cast<unsigned char>(c) >= 0x80) {
        const std::size_t n = utf8Length(s.substr(i));
        put(n == 0 ? std::string_view("\xEF\xBF\xBD") : s.substr(i, n));
        i += n == 0 ? 1 : n;
        continue;
      }
      ++i;
      switch (c) {
        case '&':
          put("&amp;");
          break;
        case '<':
          put("&lt;");
          break;
        case '>':
          put("&gt;");
          break;
        case '"':
          put("&quot;");
          break;
        case '\'':
          put("&#39;");
          break;
        default:
          put(static_cast<unsigned char>(c) < 0x20 ? ' ' : c);
      }
    }
  }
  void twoDigits(std::int64_t v) {
    put(static_cast<char>('0' + v / 10));
    put(static_cast<char>('0' + v % 10));
  }
  void flush() {
    out_.append(buf_.data(), n_);
    n_ = 0;
  }

 private:
  static constexpr std::size_t kSize = 2048;
  void room(std::size_t k) {
    if (n_ + k > kSize) flush();
  }
  std::string& out_;
  std::array<char, kSize> buf_;
  std::size_t n_ = 0;
};

// Local seconds since the epoch as "HH:MM" or "HH:MM:SS".
void putClock(Writer& w, std::int64_t local, bool seconds) {
  const std::int64_t day = ((local % 86400) + 86400) % 86400;
  w.twoDigits(day / 3600);
  w.put(':');
  w.twoDigits(day / 60 % 60);
  if (seconds) {
    w.put(':');
    w.twoDigits(day % 60);
  }
}

// An RTT to three significant digits: "850 us", "12.3 ms", "3.00 s".
void putRtt(Writer& w, Duration rtt) {
  const double ns = static_cast<double>(std::max<std::int64_t>(rtt.count(), 0));
  std::int64_t unit = 1'000;
  std::string_view name = " us";
  if (ns >= 999.5 * 1e6) {
    unit = kNsPerSecond;
    name = " s";
  } else if (ns >= 999.5 * 1e3) {
    unit = 1'000'000;
    name = " ms";
  }
  const double v = ns / static_cast<double>(unit);
  const int decimals = v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
  const std::int64_t scale = decimals == 2 ? 100 : decimals == 1 ? 10 : 1;
  const auto scaled = static_cast<std::int64_t>(std::llround(v * static_cast<double>(scale)));
  w.num(scaled / scale);
  if (decimals > 0) {
    w.put('.');
    if (decimals == 2) {
      w.twoDigits(scaled % 100);
    } else {
      w.put(static_cast<char>('0' + scaled % 10));
    }
  }
  w.put(name);
}

// The span shown, on the probe clock.
struct Range {
  TimePoint begin, end;
};
Range shownRange(const GraphFrame& frame) {
  const Duration span = std::clamp(frame.span, kMinSpan, kMaxSpan);
  return {frame.now - span, frame.now};
}

// Calls f(slot, start, stop) for each non-empty slot drawn: in the span, and in windows after the
// first only from the end of the newest slot of the windows before.
template <typename F>
void forEachShownSlot(std::span<const HistoryWindow> windows, Range range, F&& f) {
  TimePoint boundary = TimePoint::min();
  for (const auto& win : windows) {
    if (win.slot_width <= Duration::zero() || win.newest < 0) continue;
    for (std::size_t i = 0; i < win.slots.size(); ++i) {
      const HistorySlot& slot = win.slots[i];
      if (slot.empty()) continue;
      const TimePoint start = win.slotStart(win.numberOf(i));
      const TimePoint stop = start + win.slot_width;
      if (start < boundary || stop <= range.begin || start >= range.end) continue;
      f(slot, start, stop);
    }
    boundary = std::max(boundary, win.slotStart(win.newest + 1));
  }
}

bool hasReplies(const HistorySlot& s) { return s.lost < s.probes; }

int lossBucket(std::uint32_t lost, std::uint32_t probes) {
  if (lost == 0) return 0;
  if (lost >= probes) return 4;
  if (lost * 20 <= probes) return 1;
  if (lost * 5 <= probes) return 2;
  return 3;
}

// The smallest 1, 2 or 5 times a power of ten at or above `ns`, within [kMinTopNs, kMaxTopNs].
std::int64_t roundUp125(double ns) {
  for (std::int64_t p = kMinTopNs; p < kMaxTopNs; p *= 10) {
    for (std::int64_t m : {1, 2, 5}) {
      if (static_cast<double>(m * p) >= ns) return m * p;
    }
  }
  return kMaxTopNs;
}

// The RTT axis' tick step: the smallest 1, 2, 2.5 or 5 times a power of ten that gives at most
// five intervals up to `top` (so 4-6 ticks on any round top).
std::int64_t rttStep(std::int64_t top) {
  for (std::int64_t p = 1; p < kMaxTopNs; p *= 10) {
    for (std::int64_t m : {10, 20, 25, 50}) {
      if (top / (m * p) <= 5) return m * p;
    }
  }
  return kMaxTopNs;
}

// The time axis' step in seconds: the smallest round step giving at most eight labels.
std::int64_t timeStep(double span_seconds) {
  static constexpr std::array<std::int64_t, 21> kSteps = {
      1,   2,   5,    10,   15,   20,   30,    60,    120,   180,  300,
      600, 900, 1200, 1800, 3600, 7200, 10800, 14400, 21600, 43200};
  for (std::int64_t s : kSteps) {
    if (span_seconds / static_cast<double>(s) <= 7.5) return s;
  }
  return static_cast<std::int64_t>(std::ceil(span_seconds / 7.5 / 86400)) * 86400;
}

// A slot as drawn: x in tenths of a pixel, clipped to the plot.
struct Column {
  TimePoint start, stop;            // the slot (for titles)
  TimePoint clip_start, clip_stop;  // its part in the span (for joining neighbours)
  std::int32_t x0 = 0, x1 = 0;
  std::array<std::int32_t, 7> y{};  // the quantiles' y in whole pixels, clipped to the plot
  std::array<std::uint16_t, 7> rtt{};
  std::uint16_t probes = 0, lost = 0;
  std::uint8_t bucket = 0;
  bool replies = false;
  bool joined = false;  // continues the previous column with replies without a gap
};

class Plot {
 public:
  Plot(const GraphFrame& frame, Range range)
      : range_(range),
        width_(10 * std::clamp(frame.width, 20, 20000)),
        height_(10 * std::clamp(frame.height, 20, 5000)) {}
  std::int32_t left() const { return 10 * kRttGraphMarginLeft; }
  std::int32_t top() const { return 10 * kRttGraphMarginTop; }
  std::int32_t right() const { return left() + width_; }
  std::int32_t bottom() const { return top() + height_; }
  std::int32_t width() const { return width_; }
  std::int32_t height() const { return height_; }
  // In tenths of a pixel, clipped to the plot. Adding 0.5 rounds (the values are not negative)
  // without lround's call: this runs for every slot of every graph.
  std::int32_t x(TimePoint t) const {
    t = std::clamp(t, range_.begin, range_.end);
    const double f = static_cast<double>((t - range_.begin).count()) /
                     static_cast<double>((range_.end - range_.begin).count());
    // NOLINTNEXTLINE(bugprone-incorrect-roundings)
    return left() + static_cast<std::int32_t>(f * width_ + 0.5);
  }
  // In whole pixels, clipped to the plot: finer steps in RTT would not show, and whole pixels
  // keep the page small (the smoke is most of its bytes).
  std::int32_t yPixel(std::int64_t rtt_ns) const {
    if (rtt_ns >= top_ns_) return top() / 10;
    if (rtt_ns <= 0) return bottom() / 10;
    const double px = static_cast<double>(rtt_ns) * px_per_ns_;
    return bottom() / 10 - static_cast<std::int32_t>(px + 0.5);  // NOLINT(*-incorrect-roundings)
  }
  void setTop(std::int64_t top_ns) {
    top_ns_ = top_ns;
    px_per_ns_ = (height_ / 10.0) / static_cast<double>(top_ns);  // whole pixels: height_ is too
  }

 private:
  Range range_;
  std::int32_t width_, height_;
  std::int64_t top_ns_ = kDefaultTopNs;
  double px_per_ns_ = 0;
};

void putAttr(Writer& w, std::string_view name, std::int64_t tenths) {
  w.put(' ');
  w.put(name);
  w.put("=\"");
  w.tenths(tenths);
  w.put('"');
}

// The local time of a probe-clock instant, to the second.
std::int64_t localSeconds(const GraphFrame& frame, TimePoint t) {
  const double wall = frame.now_unix_seconds + static_cast<double>((t - frame.now).count()) / 1e9;
  return static_cast<std::int64_t>(std::llround(wall)) + frame.utc_offset_seconds;
}

void putSlotTimes(Writer& w, const GraphFrame& frame, const Column& c) {
  putClock(w, localSeconds(frame, c.start), true);
  w.put("&#8211;");
  putClock(w, localSeconds(frame, c.stop), true);
  w.put(": ");
}

// One rect per run of adjacent slots with loss of the same colour, its title giving the run's
// totals: a path losing a probe now and then would otherwise carry a rect and a title per slot
// (180 in a 3-hour graph), most of the page's bytes; the colour already tells the slots apart.
void putLossRects(Writer& w, const GraphFrame& frame, const Plot& plot,
                  const std::vector<Column>& cols) {
  for (std::size_t a = 0; a < cols.size(); ++a) {
    if (cols[a].lost == 0) continue;
    std::size_t last = a;
    std::uint32_t lost = cols[a].lost, probes = cols[a].probes;
    while (last + 1 < cols.size() && cols[last + 1].lost != 0 &&
           cols[last + 1].bucket == cols[a].bucket &&
           cols[last + 1].clip_start == cols[last].clip_stop) {
      ++last;
      lost += cols[last].lost;
      probes += cols[last].probes;
    }
    // At least a pixel wide: a lost probe in a 10 s slot of a 3 h graph must stay visible.
    std::int32_t x0 = cols[a].x0, x1 = cols[last].x1;
    if (x1 - x0 < 10) {
      const std::int32_t mid = (x0 + x1) / 2;
      x0 = std::max(plot.left(), mid - 5);
      x1 = std::min(plot.right(), x0 + 10);
      x0 = std::max(plot.left(), x1 - 10);
    }
    w.put("<rect class=\"loss\"");
    putAttr(w, "x", x0);
    putAttr(w, "y", plot.top());
    putAttr(w, "width", x1 - x0);
    putAttr(w, "height", plot.height());
    w.put(" fill=\"");
    w.put(kLossBands[cols[a].bucket].colour);
    // From faint for a single loss to nearly solid when everything was lost.
    const std::int64_t opacity = 20 + 70 * std::int64_t{lost} / probes;
    w.put("\" fill-opacity=\"0.");
    w.twoDigits(opacity);
    w.put("\"><title>");
    Column run = cols[a];
    run.stop = cols[last].stop;
    putSlotTimes(w, frame, run);
    w.num(lost);
    w.put(" of ");
    w.num(probes);
    w.put(probes == 1 ? " probe lost (" : " probes lost (");
    const std::int64_t permille = (std::int64_t{lost} * 1000 + probes / 2) / probes;
    w.num(permille / 10);
    w.put('.');
    w.put(static_cast<char>('0' + permille % 10));
    w.put(" %)</title></rect>");
    a = last;
  }
}

void putSmoke(Writer& w, const std::vector<Column>& cols) {
  for (const Band& band : kBands) {
    const auto lo = static_cast<std::size_t>(band.low);
    const auto hi = static_cast<std::size_t>(band.high);
    w.put("<path class=\"smoke\" fill=\"");
    w.put(band.fill);
    w.put("\" d=\"");
    // One closed outline per run of adjacent slots: the high edge forwards, the low one back.
    for (std::size_t a = 0; a < cols.size();) {
      if (!cols[a].replies) {
        ++a;
        continue;
      }
      std::size_t last = a;  // the run is [a, last]
      while (last + 1 < cols.size() && cols[last + 1].replies && cols[last + 1].joined) ++last;
      w.put('M');
      w.tenths(cols[a].x0);
      w.put(' ');
      w.num(cols[a].y[hi]);
      std::int32_t y = cols[a].y[hi];
      // One step of an edge: to the column's level, then across it (dx < 0: backwards).
      auto step = [&](std::int32_t level, std::int32_t dx) {
        if (level != y) {
          y = level;
          w.put('V');
          w.num(y);
        }
        w.put('h');
        w.tenths(dx);
      };
      for (std::size_t i = a; i <= last; ++i) step(cols[i].y[hi], cols[i].x1 - cols[i].x0);
      for (std::size_t i = last + 1; i-- > a;) step(cols[i].y[lo], cols[i].x0 - cols[i].x1);
      w.put('z');
      a = last + 1;
    }
    w.put("\"/>");
  }
}

void putMedians(Writer& w, const std::vector<Column>& cols, unsigned buckets) {
  constexpr auto kMed = static_cast<std::size_t>(HistoryQuantile::kMedian);
  for (std::uint8_t bucket = 0; bucket < 4; ++bucket) {
    if ((buckets & (1U << bucket)) == 0) continue;
    w.put("<path class=\"median loss-");
    w.put(static_cast<char>('0' + bucket));
    w.put("\" fill=\"none\" stroke=\"");
    w.put(kLossBands[bucket].colour);
    w.put("\" stroke-width=\"1.5\" d=\"");
    // Step-wise: level across each slot, vertical between adjacent ones; a slot after one of
    // another colour starts with the vertical step from its neighbour's level.
    const Column* prev = nullptr;  // the previous column with replies
    bool open = false;             // this path's line ends at prev
    std::int32_t y = 0;
    for (const Column& c : cols) {
      if (!c.replies) continue;
      const bool joined = c.joined && prev != nullptr;
      if (c.bucket == bucket) {
        if (!(open && joined)) {
          w.put('M');
          w.tenths(c.x0);
          w.put(' ');
          y = joined ? prev->y[kMed] : c.y[kMed];
          w.num(y);
        }
        if (c.y[kMed] != y) {
          y = c.y[kMed];
          w.put('V');
          w.num(y);
        }
        w.put('h');
        w.tenths(c.x1 - c.x0);
        open = true;
      } else {
        open = false;
      }
      prev = &c;
    }
    w.put("\"/>");
  }
}

void putClipped(Writer& w, const GraphFrame& frame, const Plot& plot,
                const std::vector<Column>& cols, std::int64_t top_ns) {
  constexpr auto kMax = static_cast<std::size_t>(HistoryQuantile::kMax);
  for (const Column& c : cols) {
    if (!c.replies) continue;
    const Duration max = core::decodeRtt(c.rtt[kMax]);
    if (max.count() <= top_ns) continue;
    // A triangle pointing up, in the margin above the plot.
    w.put("<path class=\"clipped\" fill=\"");
    w.put(kLossBands[4].colour);
    w.put("\" d=\"M");
    w.tenths((c.x0 + c.x1) / 2 - 30);
    w.put(' ');
    w.tenths(plot.top() - 10);
    w.put("l3-5 3 5z\"><title>");
    putSlotTimes(w, frame, c);
    w.put("max ");
    putRtt(w, max);
    w.put(", above the axis</title></path>");
  }
}

void putAxes(Writer& w, const GraphFrame& frame, const Plot& plot, Range range,
             std::int64_t top_ns) {
  w.put(
      "<g class=\"axis\" font-family=\"sans-serif\" font-size=\"10\" fill=\"#555\">"
      "<path class=\"grid\" fill=\"none\" stroke=\"#000\" stroke-opacity=\"0.12\" "
      "shape-rendering=\"crispEdges\" d=\"");
  const std::int64_t step = rttStep(top_ns);
  for (std::int64_t v = step; v <= top_ns; v += step) {
    w.put('M');
    w.tenths(plot.left());
    w.put(' ');
    w.num(plot.yPixel(v));
    w.put('H');
    w.tenths(plot.right());
  }
  const double span_s = static_cast<double>((range.end - range.begin).count()) / 1e9;
  const double local_end = frame.now_unix_seconds + frame.utc_offset_seconds;
  const double local_begin = local_end - span_s;
  const std::int64_t tstep = timeStep(span_s);
  const auto first =
      static_cast<std::int64_t>(std::ceil(local_begin / static_cast<double>(tstep))) * tstep;
  auto tick_x = [&](std::int64_t t) {  // t is not before local_begin: adding 0.5 rounds
    const double x = (static_cast<double>(t) - local_begin) / span_s * plot.width();
    return plot.left() + static_cast<std::int32_t>(x + 0.5);  // NOLINT(*-incorrect-roundings)
  };
  for (std::int64_t t = first; static_cast<double>(t) <= local_end; t += tstep) {
    w.put('M');
    w.tenths(tick_x(t));
    w.put(' ');
    w.tenths(plot.top());
    w.put('V');
    w.tenths(plot.bottom());
  }
  w.put("\"/><rect class=\"frame\" fill=\"none\" stroke=\"#999\" shape-rendering=\"crispEdges\"");
  putAttr(w, "x", plot.left());
  putAttr(w, "y", plot.top());
  putAttr(w, "width", plot.width());
  putAttr(w, "height", plot.height());
  w.put("/><g class=\"rtt-labels\" text-anchor=\"end\">");
  std::int64_t unit = 1'000;
  std::string_view unit_name = " us";
  if (top_ns >= kNsPerSecond) {
    unit = kNsPerSecond;
    unit_name = " s";
  } else if (top_ns >= 1'000'000) {
    unit = 1'000'000;
    unit_name = " ms";
  }
  for (std::int64_t v = 0; v <= top_ns; v += step) {
    w.put("<text");
    putAttr(w, "x", plot.left() - 40);
    putAttr(w, "y", plot.yPixel(v) * 10 + 35);
    w.put('>');
    if (v == 0) {
      w.put('0');
    } else {
      w.decimal(v, unit);
      w.put(unit_name);
    }
    w.put("</text>");
  }
  w.put("</g><g class=\"time-labels\" text-anchor=\"middle\">");
  for (std::int64_t t = first; static_cast<double>(t) <= local_end; t += tstep) {
    w.put("<text");
    putAttr(w, "x", tick_x(t));
    putAttr(w, "y", plot.bottom() + 120);
    w.put('>');
    putClock(w, t, tstep < 60);
    w.put("</text>");
  }
  w.put("</g></g>");
}

}  // namespace

std::span<const LossBand> lossBands() { return kLossBands; }

core::Duration autoRttTop(std::span<const core::HistoryWindow> windows, const GraphFrame& frame) {
  std::int64_t highest = -1;
  forEachShownSlot(windows, shownRange(frame), [&](const HistorySlot& s, TimePoint, TimePoint) {
    if (!hasReplies(s)) return;
    highest = std::max({highest, s.quantile(HistoryQuantile::kP90).count(),
                        s.quantile(HistoryQuantile::kMedian).count()});
  });
  if (highest < 0) return Duration{kDefaultTopNs};
  return Duration{roundUp125(static_cast<double>(highest) * 1.1)};
}

void renderRttGraph(std::string& out, std::span<const core::HistoryWindow> windows,
                    const GraphFrame& frame) {
  const Range range = shownRange(frame);
  Plot plot(frame, range);

  std::size_t capacity = 0;
  for (const auto& win : windows) capacity += win.slots.size();
  std::vector<Column> cols;
  cols.reserve(capacity);
  std::int64_t highest = -1;  // autoRttTop()'s input, taken on the way
  forEachShownSlot(windows, range, [&](const HistorySlot& s, TimePoint start, TimePoint stop) {
    Column& c = cols.emplace_back();
    c.start = start;
    c.stop = stop;
    c.clip_start = std::max(start, range.begin);
    c.clip_stop = std::min(stop, range.end);
    c.x0 = plot.x(c.clip_start);
    c.x1 = plot.x(c.clip_stop);
    c.probes = s.probes;
    c.lost = std::min(s.lost, s.probes);
    c.bucket = static_cast<std::uint8_t>(lossBucket(c.lost, c.probes));
    c.replies = hasReplies(s);
    c.rtt = s.rtt;
    if (c.replies) {
      highest = std::max({highest, s.quantile(HistoryQuantile::kP90).count(),
                          s.quantile(HistoryQuantile::kMedian).count()});
    }
  });
  std::int64_t top_ns = frame.rtt_top.count();
  if (top_ns <= 0)
    top_ns = highest < 0 ? kDefaultTopNs : roundUp125(static_cast<double>(highest) * 1.1);
  top_ns = std::clamp(top_ns, kMinTopNs, kMaxTopNs);
  plot.setTop(top_ns);

  unsigned buckets = 0;  // the loss buckets of columns with replies
  const Column* prev = nullptr;
  for (Column& c : cols) {
    if (!c.replies) continue;
    for (std::size_t q = 0; q < c.y.size(); ++q) {
      c.y[q] = plot.yPixel(core::decodeRtt(c.rtt[q]).count());
    }
    c.joined = prev != nullptr && prev->clip_stop == c.clip_start;
    buckets |= 1U << c.bucket;
    prev = &c;
  }

  out.reserve(out.size() + 2048 + cols.size() * 64);
  Writer w(out);
  const std::int64_t svg_w = plot.width() + 10 * (kRttGraphMarginLeft + kRttGraphMarginRight);
  const std::int64_t svg_h = plot.height() + 10 * (kRttGraphMarginTop + kRttGraphMarginBottom);
  w.put("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"rtt-graph\"");
  putAttr(w, "width", svg_w);
  putAttr(w, "height", svg_h);
  w.put(" viewBox=\"0 0 ");
  w.tenths(svg_w);
  w.put(' ');
  w.tenths(svg_h);
  w.put("\" role=\"img\" aria-label=\"");
  w.escaped(frame.title);
  w.put("\"><title>");
  w.escaped(frame.title);
  w.put("</title><rect class=\"plot\" fill=\"#fff\"");
  putAttr(w, "x", plot.left());
  putAttr(w, "y", plot.top());
  putAttr(w, "width", plot.width());
  putAttr(w, "height", plot.height());
  w.put("/>");
  putLossRects(w, frame, plot, cols);
  if (buckets != 0) {
    putSmoke(w, cols);
    putMedians(w, cols, buckets);
    putClipped(w, frame, plot, cols, top_ns);
  }
  putAxes(w, frame, plot, range, top_ns);
  if (cols.empty()) {
    w.put(
        "<text class=\"no-data\" text-anchor=\"middle\" font-family=\"sans-serif\" "
        "font-size=\"12\" fill=\"#777\"");
    putAttr(w, "x", plot.left() + plot.width() / 2);
    putAttr(w, "y", plot.top() + plot.height() / 2 + 40);
    w.put(">no data yet</text>");
  }
  w.put("</svg>");
}

}  // namespace reachmon::service
