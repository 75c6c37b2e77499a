#include "rtt_graph.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace {

using reachmon::core::decodeRtt;
using reachmon::core::Duration;
using reachmon::core::encodeRtt;
using reachmon::core::HistorySlot;
using reachmon::core::HistoryWindow;
using reachmon::core::TimePoint;
using reachmon::service::autoRttTop;
using reachmon::service::GraphFrame;
using reachmon::service::kRttGraphMarginLeft;
using reachmon::service::kRttGraphMarginTop;
using reachmon::service::renderRttGraph;
using namespace std::chrono_literals;

// --- A strict little XML reader: enough to prove the SVG well-formed and to query it. ---

struct Node {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attrs;  // values decoded
  std::string text;                                        // direct text, decoded
  std::vector<Node> children;

  std::optional<std::string> attr(std::string_view n) const {
    for (const auto& [k, v] : attrs) {
      if (k == n) return v;
    }
    return std::nullopt;
  }
  bool hasClass(std::string_view c) const {
    const auto cls = attr("class");
    if (!cls) return false;
    std::string_view rest = *cls;
    while (!rest.empty()) {
      const auto sp = rest.find(' ');
      if (rest.substr(0, sp) == c) return true;
      if (sp == std::string_view::npos) break;
      rest.remove_prefix(sp + 1);
    }
    return false;
  }
  const Node* child(std::string_view n) const {
    for (const auto& c : children) {
      if (c.name == n) return &c;
    }
    return nullptr;
  }
};

void appendUtf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

class XmlReader {
 public:
  explicit XmlReader(std::string_view s) : s_(s) {}

  // The document's single root element, or nullopt with error() saying why.
  std::optional<Node> document() {
    Node root;
    if (!element(root)) return std::nullopt;
    if (i_ != s_.size()) {
      fail("content after the root element");
      return std::nullopt;
    }
    return root;
  }
  const std::string& error() const { return error_; }

 private:
  bool fail(const std::string& why) {
    if (error_.empty()) error_ = why + " at offset " + std::to_string(i_);
    return false;
  }
  static bool nameStart(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  }
  static bool nameChar(char c) {
    return nameStart(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
  }
  bool name(std::string& out) {
    if (i_ >= s_.size() || !nameStart(s_[i_])) return fail("bad name");
    const std::size_t b = i_;
    while (i_ < s_.size() && nameChar(s_[i_])) ++i_;
    out = std::string(s_.substr(b, i_ - b));
    return true;
  }
  void spaces() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r'))
      ++i_;
  }
  bool reference(std::string& out) {  // at '&'
    const auto end = s_.find(';', i_);
    if (end == std::string_view::npos || end - i_ > 10) return fail("unterminated &");
    const std::string_view ref = s_.substr(i_ + 1, end - i_ - 1);
    if (ref == "amp") {
      out += '&';
    } else if (ref == "lt") {
      out += '<';
    } else if (ref == "gt") {
      out += '>';
    } else if (ref == "quot") {
      out += '"';
    } else if (ref == "apos") {
      out += '\'';
    } else if (ref.size() >= 2 && ref[0] == '#') {
      const bool hex = ref[1] == 'x';
      const std::string digits(ref.substr(hex ? 2 : 1));
      if (digits.empty() || digits.find_first_not_of(hex ? "0123456789abcdefABCDEF"
                                                         : "0123456789") != std::string::npos)
        return fail("bad character reference");
      const auto cp = static_cast<std::uint32_t>(std::stoul(digits, nullptr, hex ? 16 : 10));
      if ((cp < 0x20 && cp != 9 && cp != 10 && cp != 13) || cp > 0x10FFFF)
        return fail("character XML forbids");
      appendUtf8(out, cp);
    } else {
      return fail("unknown entity");
    }
    i_ = end + 1;
    return true;
  }
  bool plainChar(char c) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t' && c != '\r')
      return fail("control character");
    return true;
  }
  bool element(Node& node) {
    if (i_ >= s_.size() || s_[i_] != '<') return fail("expected <");
    ++i_;
    if (!name(node.name)) return false;
    for (;;) {
      const std::size_t before = i_;
      spaces();
      if (i_ >= s_.size()) return fail("unterminated tag");
      if (s_.substr(i_, 2) == "/>") {
        i_ += 2;
        return true;
      }
      if (s_[i_] == '>') {
        ++i_;
        break;
      }
      if (i_ == before) return fail("no space before attribute");
      std::string key;
      if (!name(key)) return false;
      if (node.attr(key)) return fail("duplicate attribute " + key);
      if (i_ >= s_.size() || s_[i_] != '=') return fail("expected =");
      ++i_;
      if (i_ >= s_.size() || (s_[i_] != '"' && s_[i_] != '\'')) return fail("unquoted attribute");
      const char quote = s_[i_++];
      std::string value;
      while (i_ < s_.size() && s_[i_] != quote) {
        if (s_[i_] == '<') return fail("< in attribute");
        if (s_[i_] == '&') {
          if (!reference(value)) return false;
          continue;
        }
        if (!plainChar(s_[i_])) return false;
        value += s_[i_++];
      }
      if (i_ >= s_.size()) return fail("unterminated attribute");
      ++i_;
      node.attrs.emplace_back(std::move(key), std::move(value));
    }
    for (;;) {  // content
      if (i_ >= s_.size()) return fail("unclosed <" + node.name + ">");
      const char c = s_[i_];
      if (c == '<') {
        if (s_.substr(i_, 2) == "</") {
          i_ += 2;
          std::string end;
          if (!name(end)) return false;
          if (end != node.name) return fail("</" + end + "> closes " + node.name);
          spaces();
          if (i_ >= s_.size() || s_[i_] != '>') return fail("expected >");
          ++i_;
          return true;
        }
        if (s_.substr(i_, 2) == "<!" || s_.substr(i_, 2) == "<?") return fail("markup declaration");
        node.children.emplace_back();
        if (!element(node.children.back())) return false;
      } else if (c == '&') {
        if (!reference(node.text)) return false;
      } else if (c == '>') {
        return fail("unescaped > in text");  // legal XML, but we escape it
      } else {
        if (!plainChar(c)) return false;
        node.text += c;
        ++i_;
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string error_;
};

void collect(const Node& n, std::string_view name, std::string_view cls,
             std::vector<const Node*>& out) {
  if ((name.empty() || n.name == name) && (cls.empty() || n.hasClass(cls))) out.push_back(&n);
  for (const auto& c : n.children) collect(c, name, cls, out);
}
std::vector<const Node*> find(const Node& root, std::string_view name, std::string_view cls) {
  std::vector<const Node*> out;
  collect(root, name, cls, out);
  return out;
}

double num(const Node& n, std::string_view attr) {
  const auto v = n.attr(attr);
  REQUIRE(v);
  return std::stod(*v);
}

// Parses `svg` and checks what every graph must satisfy: well-formed, an SVG root with its size,
// the title first, nothing active or external.
Node parseSvg(const std::string& svg) {
  XmlReader reader(svg);
  auto doc = reader.document();
  INFO(reader.error());
  INFO(svg.substr(0, 2000));
  REQUIRE(doc);
  const Node& root = *doc;
  CHECK(root.name == "svg");
  CHECK(root.attr("xmlns") == "http://www.w3.org/2000/svg");
  CHECK(root.hasClass("rtt-graph"));
  const double w = num(root, "width"), h = num(root, "height");
  CHECK(root.attr("viewBox") == "0 0 " + *root.attr("width") + " " + *root.attr("height"));
  CHECK(w > 0);
  CHECK(h > 0);
  REQUIRE(!root.children.empty());
  CHECK(root.children.front().name == "title");
  CHECK(root.attr("aria-label") == root.children.front().text);
  for (const Node* n : find(root, "", "")) {
    CHECK(n->name != "script");
    CHECK(n->name != "style");
    CHECK(n->name != "image");
    CHECK(n->name != "foreignObject");
    for (const auto& [k, v] : n->attrs) {
      CHECK(k.rfind("on", 0) != 0);
      CHECK(k.find("href") == std::string::npos);
      CHECK(v.find("url(") == std::string::npos);
    }
  }
  return std::move(*doc);
}

// --- Path data: the bounding box of each subpath (the renderer uses M, H, h, V, v, l, z). ---

struct Box {
  double x0, x1, y0, y1;
};
std::vector<Box> subpaths(const std::string& d) {
  std::vector<Box> boxes;
  std::size_t i = 0;
  double x = 0, y = 0, sx = 0, sy = 0;
  char cmd = 0;
  auto number = [&]() {
    while (i < d.size() && (d[i] == ' ' || d[i] == ',')) ++i;
    std::size_t used = 0;
    const double v = std::stod(d.substr(i), &used);
    i += used;
    return v;
  };
  auto visit = [&]() {
    Box& b = boxes.back();
    b.x0 = std::min(b.x0, x);
    b.x1 = std::max(b.x1, x);
    b.y0 = std::min(b.y0, y);
    b.y1 = std::max(b.y1, y);
  };
  while (i < d.size()) {
    const char c = d[i];
    if (c == ' ' || c == ',') {
      ++i;
      continue;
    }
    if (std::isalpha(static_cast<unsigned char>(c))) {
      cmd = c;
      ++i;
      if (cmd == 'z' || cmd == 'Z') {
        x = sx;
        y = sy;
      }
      continue;
    }
    switch (cmd) {
      case 'M':
        x = sx = number();
        y = sy = number();
        boxes.push_back({x, x, y, y});
        cmd = 'L';
        break;
      case 'L':
        x = number();
        y = number();
        break;
      case 'l':
        x += number();
        y += number();
        break;
      case 'H':
        x = number();
        break;
      case 'h':
        x += number();
        break;
      case 'V':
        y = number();
        break;
      case 'v':
        y += number();
        break;
      default:
        FAIL("unexpected path command " << cmd << " in " << d);
    }
    REQUIRE(!boxes.empty());
    visit();
  }
  return boxes;
}

// --- Data ---

constexpr TimePoint kNow = 1'000'200s;           // the probe clock at rendering: a whole minute
constexpr double kNowUnix = 1'700'000'000 + 30;  // 2023-11-14 22:13:50 UTC

// A slot whose replies spread around `median` (min 0.8x ... max 1.3x).
HistorySlot slot(std::uint16_t probes, std::uint16_t lost, Duration median) {
  HistorySlot s;
  s.probes = probes;
  s.lost = lost;
  if (lost < probes) {
    const double f[7] = {0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.3};
    for (std::size_t q = 0; q < 7; ++q) {
      s.rtt[q] = encodeRtt(Duration{
          static_cast<Duration::rep>(std::llround(static_cast<double>(median.count()) * f[q]))});
    }
  }
  return s;
}

// A window whose newest slot ends at or before `end`, of `n` slots made by make(i) (oldest first).
template <typename F>
HistoryWindow window(Duration width, TimePoint end, std::size_t n, F make) {
  HistoryWindow w;
  w.slot_width = width;
  w.newest = end / width - 1;
  for (std::size_t i = 0; i < n; ++i) w.slots.push_back(make(i));
  return w;
}
HistoryWindow fine(std::size_t n = 60, Duration median = 20ms) {
  return window(10s, kNow, n, [&](std::size_t) { return slot(20, 0, median); });
}

GraphFrame frame(Duration span = 10min, int width = 600) {
  GraphFrame f;
  f.width = width;
  f.height = 120;
  f.now = kNow;
  f.now_unix_seconds = kNowUnix;
  f.utc_offset_seconds = 0;
  f.span = span;
  f.title = "lan -> gateway";
  return f;
}

std::string render(const std::vector<HistoryWindow>& windows, const GraphFrame& f) {
  std::string out;
  renderRttGraph(out, windows, f);
  return out;
}

std::vector<std::string> labels(const Node& root, std::string_view group) {
  std::vector<std::string> out;
  const auto groups = find(root, "g", group);
  REQUIRE(groups.size() == 1);
  for (const auto& t : groups.front()->children) out.push_back(t.text);
  return out;
}

std::string hhmm(std::int64_t local, bool seconds) {
  const std::int64_t d = ((local % 86400) + 86400) % 86400;
  char buf[16];
  if (seconds) {
    std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", static_cast<int>(d / 3600),
                  static_cast<int>(d / 60 % 60), static_cast<int>(d % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%02d:%02d", static_cast<int>(d / 3600),
                  static_cast<int>(d / 60 % 60));
  }
  return buf;
}

// The round local times in the span, second by second: what the time axis must label.
std::vector<std::string> expectedTimeLabels(const GraphFrame& f, std::int64_t step) {
  std::vector<std::string> out;
  const double span_s = static_cast<double>(f.span.count()) / 1e9;
  const auto first = static_cast<std::int64_t>(std::ceil(f.now_unix_seconds - span_s));
  for (std::int64_t t = first; static_cast<double>(t) <= f.now_unix_seconds; ++t) {
    const std::int64_t local = t + f.utc_offset_seconds;
    if (local % step == 0) out.push_back(hhmm(local, step < 60));
  }
  return out;
}

}  // namespace

TEST_CASE("RttGraph: normal data draws smoke, a green median and axes, without loss",
          "[rtt_graph]") {
  const auto svg = render({fine()}, frame());
  const Node root = parseSvg(svg);
  CHECK(root.children.front().text == "lan -> gateway");
  CHECK(find(root, "path", "smoke").size() == 3);
  const auto medians = find(root, "path", "median");
  REQUIRE(medians.size() == 1);
  CHECK(medians.front()->hasClass("loss-0"));
  CHECK(medians.front()->attr("stroke") == "#1a9641");
  CHECK(find(root, "rect", "loss").empty());
  CHECK(find(root, "text", "no-data").empty());
  CHECK(find(root, "path", "clipped").empty());
  CHECK(find(root, "g", "axis").size() == 1);
  // One closed outline per band: the 60 slots are adjacent.
  for (const Node* p : find(root, "path", "smoke")) CHECK(subpaths(*p->attr("d")).size() == 1);
  // Appends: what was in the buffer stays.
  std::string out = "<p>";
  renderRttGraph(out, std::vector<HistoryWindow>{fine()}, frame());
  CHECK(out.rfind("<p><svg ", 0) == 0);
  CHECK(out.substr(3) == svg);
}

TEST_CASE("RttGraph: without data in the span the axes are drawn and say no data yet",
          "[rtt_graph]") {
  HistoryWindow unclosed;  // newest -1
  unclosed.slot_width = 10s;
  const HistoryWindow empty_slots =
      window(10s, kNow, 60, [](std::size_t) { return HistorySlot{}; });
  HistoryWindow old = fine();  // all of it an hour before the span
  old.newest -= 360;
  const std::vector<std::vector<HistoryWindow>> cases = {
      {}, {unclosed}, {unclosed, unclosed}, {empty_slots}, {old}, {HistoryWindow{}}};
  for (const auto& windows : cases) {
    const Node root = parseSvg(render(windows, frame()));
    const auto no_data = find(root, "text", "no-data");
    REQUIRE(no_data.size() == 1);
    CHECK(no_data.front()->text == "no data yet");
    // Centred on the plot.
    CHECK(num(*no_data.front(), "x") == Approx(kRttGraphMarginLeft + 300));
    CHECK(find(root, "path", "smoke").empty());
    CHECK(find(root, "path", "median").empty());
    CHECK(find(root, "rect", "loss").empty());
    CHECK(labels(root, "rtt-labels").back() == "1 ms");
    CHECK(labels(root, "time-labels").size() >= 4);
    CHECK(autoRttTop(windows, frame()) == 1ms);
  }
}

TEST_CASE("RttGraph: all probes lost draws red loss columns and no smoke", "[rtt_graph]") {
  const auto lost = window(10s, kNow, 60, [](std::size_t) { return slot(20, 20, 0ms); });
  const Node root = parseSvg(render({lost}, frame()));
  // Adjacent slots of one loss colour are one column, its title the run's totals.
  const auto rects = find(root, "rect", "loss");
  REQUIRE(rects.size() == 1);
  const Node* r = rects.front();
  CHECK(r->attr("class") == "loss");
  CHECK(r->attr("fill") == "#d7191c");
  CHECK(num(*r, "fill-opacity") >= 0.8);
  CHECK(num(*r, "height") == 120);
  CHECK(num(*r, "x") == Approx(kRttGraphMarginLeft));
  CHECK(num(*r, "width") == Approx(600));
  REQUIRE(r->child("title"));
  const auto start = static_cast<std::int64_t>(kNowUnix) - 600;
  CHECK(r->child("title")->text == hhmm(start, true) + "\xE2\x80\x93" + hhmm(start + 600, true) +
                                       ": 1200 of 1200 probes lost (100.0 %)");
  CHECK(find(root, "path", "smoke").empty());
  CHECK(find(root, "path", "median").empty());
  CHECK(find(root, "text", "no-data").empty());
  CHECK(labels(root, "rtt-labels").back() == "1 ms");
}

TEST_CASE("RttGraph: one huge outlier is clipped and marked, not the axis' top", "[rtt_graph]") {
  auto w = fine(60, 30ms);
  w.slots[42].rtt[6] = encodeRtt(3s);  // its max
  const auto top = autoRttTop(std::vector<HistoryWindow>{w}, frame());
  CHECK(top > 33ms);  // above the p90s (1.1 x 30 ms)
  CHECK(top <= 100ms);
  const Node root = parseSvg(render({w}, frame()));
  CHECK(labels(root, "rtt-labels").back() == std::to_string(top / 1ms) + " ms");
  const auto clipped = find(root, "path", "clipped");
  REQUIRE(clipped.size() == 1);
  REQUIRE(clipped.front()->child("title"));
  CHECK_THAT(clipped.front()->child("title")->text, Catch::Contains("max 3.00 s"));
  // Above slot 42 (7 min into the span: 420 of 600 px; the slot is 10 px wide).
  const auto box = subpaths(*clipped.front()->attr("d"));
  REQUIRE(box.size() == 1);
  CHECK((box[0].x0 + box[0].x1) / 2 == Approx(kRttGraphMarginLeft + 425.0));
  CHECK(box[0].y1 <= kRttGraphMarginTop);
  // The smoke's top is the plot's top (clipped), not beyond.
  const auto outer = subpaths(*find(root, "path", "smoke").front()->attr("d"));
  REQUIRE(outer.size() == 1);
  CHECK(outer[0].y0 == Approx(kRttGraphMarginTop));
  // An explicit top is kept, and marks every slot above it.
  auto f = frame();
  f.rtt_top = 20ms;
  const Node fixed = parseSvg(render({w}, f));
  CHECK(labels(fixed, "rtt-labels").back() == "20 ms");
  CHECK(find(fixed, "path", "clipped").size() == 60);
}

TEST_CASE("RttGraph: a coarse and a fine window: fine slots only after the coarse ones",
          "[rtt_graph]") {
  // 35 s into a minute: the last closed minute ends 35 s ago, the last closed 10 s 5 s ago. Fine
  // slots before the minute's start are covered by the coarse window; mark them lost so that
  // drawing them would show.
  const TimePoint now = kNow + 35s;
  const auto coarse = window(60s, now, 180, [](std::size_t) { return slot(60, 0, 20ms); });
  const auto fine_w = window(10s, now, 60, [&](std::size_t i) {
    return i >= 57 ? slot(10, i == 58 ? 1 : 0, 40ms) : slot(10, 10, 0ms);
  });
  REQUIRE(coarse.slotStart(coarse.newest + 1) == kNow);
  REQUIRE(fine_w.slotStart(fine_w.newest + 1) == kNow + 30s);
  auto f = frame(3h, 720);
  f.now = now;
  const Node root = parseSvg(render({coarse, fine_w}, f));
  const auto rects = find(root, "rect", "loss");
  REQUIRE(rects.size() == 1);                                   // fine slot 58 only
  const auto local = static_cast<std::int64_t>(kNowUnix) - 25;  // slot 58 starts 25 s ago
  CHECK(rects.front()->child("title")->text == hhmm(local, true) + "\xE2\x80\x93" +
                                                   hhmm(local + 10, true) +
                                                   ": 1 of 10 probes lost (10.0 %)");
  // The smoke runs without a gap from the plot's left edge to the newest fine slot's end.
  const double px_per_s = 720.0 / 10800;
  for (const Node* p : find(root, "path", "smoke")) {
    const auto boxes = subpaths(*p->attr("d"));
    REQUIRE(boxes.size() == 1);
    CHECK(boxes[0].x0 == Approx(kRttGraphMarginLeft));
    CHECK(boxes[0].x1 == Approx(kRttGraphMarginLeft + 720 - 5 * px_per_s).margin(0.1));
  }
  // The fine slots, at 40 ms, lift the median at the end: its highest point is there.
  const auto medians = find(root, "path", "median");
  REQUIRE(medians.size() == 2);  // loss-0 and loss-2 (10 %)
  double lowest_y_x = 0, lowest_y = 1e9;
  for (const Node* m : medians) {
    for (const auto& b : subpaths(*m->attr("d"))) {
      if (b.y0 < lowest_y) {
        lowest_y = b.y0;
        lowest_y_x = b.x1;
      }
    }
  }
  CHECK(lowest_y_x > kRttGraphMarginLeft + 720 - 35 * px_per_s);
}

TEST_CASE("RttGraph: a window longer than the span is clipped to the plot", "[rtt_graph]") {
  // Three hours by the minute, with loss in the oldest slots, shown over 10 minutes.
  const auto coarse = window(60s, kNow, 180, [](std::size_t i) {
    return slot(60, i < 100 ? 6 : 0, Duration{(10 + static_cast<int>(i % 7)) * 1ms});
  });
  const Node root = parseSvg(render({coarse}, frame()));
  CHECK(find(root, "rect", "loss").empty());
  const double left = kRttGraphMarginLeft, right = left + 600;
  for (const char* cls : {"smoke", "median"}) {
    for (const Node* p : find(root, "path", cls)) {
      for (const auto& b : subpaths(*p->attr("d"))) {
        CHECK(b.x0 >= left);
        CHECK(b.x1 <= right);
        CHECK(b.y0 >= kRttGraphMarginTop);
        CHECK(b.y1 <= kRttGraphMarginTop + 120);
      }
    }
  }
  const auto outer = subpaths(*find(root, "path", "smoke").front()->attr("d"));
  REQUIRE(outer.size() == 1);
  CHECK(outer[0].x0 == Approx(left));
  CHECK(outer[0].x1 == Approx(right));
  // A slot straddling the span's start is clipped, not dropped.
  auto f = frame();
  f.now = kNow + 30s;  // the oldest slot shown starts 30 s before the span
  const Node shifted = parseSvg(render({coarse}, f));
  const auto boxes = subpaths(*find(shifted, "path", "smoke").front()->attr("d"));
  REQUIRE(boxes.size() == 1);
  CHECK(boxes[0].x0 == Approx(left));
  CHECK(boxes[0].x1 == Approx(right - 30));  // the last 30 s have no closed slot yet
}

TEST_CASE("RttGraph: the title is escaped", "[rtt_graph]") {
  const std::string evil = "<script>&\"'";
  auto f = frame();
  f.title = evil;
  const auto svg = render({fine()}, f);
  CHECK(svg.find("<script") == std::string::npos);
  CHECK(svg.find("&\"") == std::string::npos);
  CHECK(svg.find("\"'") == std::string::npos);
  const Node root = parseSvg(svg);
  CHECK(root.children.front().text == evil);
  CHECK(root.attr("aria-label") == evil);
  // Control characters XML cannot carry do not break the document.
  f.title = std::string_view("a\x01z\x1f", 4);
  const Node ctl = parseSvg(render({fine()}, f));
  CHECK(ctl.children.front().text.size() == 4);
  // Invalid UTF-8 (a stray byte, a truncated sequence, a surrogate) becomes U+FFFD; valid UTF-8
  // stays.
  f.title = "\xff|\xc3|\xed\xa0\x80|\xc3\xa9";
  const auto bad = render({fine()}, f);
  const Node fixed = parseSvg(bad);
  CHECK(fixed.children.front().text ==
        "\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xC3\xA9");
  CHECK(bad.find('\xff') == std::string::npos);
}

TEST_CASE("RttGraph: time labels are round local times for spans from 1 minute to a day",
          "[rtt_graph]") {
  struct Case {
    Duration span;
    std::int64_t step;
  };
  for (const auto& [span, step] :
       {Case{1min, 10}, Case{10min, 120}, Case{3h, 1800}, Case{24h, 14400}}) {
    for (int offset : {0, 3600, -5 * 3600, 19800}) {  // UTC, +1 h, -5 h, +5:30
      auto f = frame(span);
      f.utc_offset_seconds = offset;
      INFO("span " << span.count() << " ns, offset " << offset);
      const Node root = parseSvg(render({fine()}, f));
      const auto got = labels(root, "time-labels");
      CHECK(got == expectedTimeLabels(f, step));
      CHECK(got.size() >= 4);
      CHECK(got.size() <= 8);
    }
  }
  // The offset moves the labels: 10 minutes ending 22:13:50 UTC read 23:04..23:12 at +1 h.
  auto f = frame();
  f.utc_offset_seconds = 3600;
  CHECK(labels(parseSvg(render({fine()}, f)), "time-labels") ==
        std::vector<std::string>{"23:04", "23:06", "23:08", "23:10", "23:12"});
  // Each label sits on its grid position: 23:04 UTC+1 is 9 min 50 s before the end.
  const Node root = parseSvg(render({fine()}, f));
  const auto texts = find(root, "g", "time-labels").front()->children;
  CHECK(num(texts.front(), "x") == Approx(kRttGraphMarginLeft + 600.0 * 10 / 600).margin(0.1));
}

TEST_CASE("RttGraph: RTT labels are round values with units", "[rtt_graph]") {
  struct Case {
    Duration top;
    std::vector<std::string> labels;
  };
  const std::vector<Case> cases = {
      {1ms, {"0", "0.2 ms", "0.4 ms", "0.6 ms", "0.8 ms", "1 ms"}},
      {2ms, {"0", "0.5 ms", "1 ms", "1.5 ms", "2 ms"}},
      {50ms, {"0", "10 ms", "20 ms", "30 ms", "40 ms", "50 ms"}},
      {30ms, {"0", "10 ms", "20 ms", "30 ms"}},
      {12ms, {"0", "2.5 ms", "5 ms", "7.5 ms", "10 ms"}},
      {500us, {"0", "100 us", "200 us", "300 us", "400 us", "500 us"}},
      {2s, {"0", "0.5 s", "1 s", "1.5 s", "2 s"}},
  };
  for (const auto& c : cases) {
    auto f = frame();
    f.rtt_top = c.top;
    const Node root = parseSvg(render({fine()}, f));
    CHECK(labels(root, "rtt-labels") == c.labels);
    // Evenly spaced from the bottom (0) to the top, to the pixel.
    const auto texts = find(root, "g", "rtt-labels").front()->children;
    const double y0 = num(texts.front(), "y"), y1 = num(texts[1], "y");
    CHECK(y0 > y1);
    for (std::size_t i = 2; i < texts.size(); ++i) {
      CHECK(num(texts[i], "y") == Approx(y0 - static_cast<double>(i) * (y0 - y1)).margin(1.0));
    }
  }
}

TEST_CASE("RttGraph: autoRttTop is 1, 2 or 5 times a power of ten above the p90s", "[rtt_graph]") {
  for (const Duration median :
       {Duration{1500}, Duration{37us}, Duration{909us}, Duration{1ms}, Duration{4200us},
        Duration{9ms}, Duration{120ms}, Duration{2200ms}}) {
    INFO(median.count() << " ns");
    auto w = fine(60, median);
    const Duration p90 = decodeRtt(w.slots[0].rtt[5]);
    w.slots[7].rtt[6] = encodeRtt(median * 1000);  // an outlier in a max
    const Duration top = autoRttTop(std::vector<HistoryWindow>{w}, frame());
    CHECK(top > p90);
    CHECK(top <= p90 * 3);  // 1.1 x p90 rounded up: never more than 2.5 x that
    std::int64_t m = top.count();
    while (m % 10 == 0) m /= 10;
    CHECK((m == 1 || m == 2 || m == 5));
  }
  // Only the slots shown count.
  auto w = fine(60, 5ms);
  HistoryWindow old = fine(60, 900ms);
  old.newest -= 360;
  CHECK(autoRttTop(std::vector<HistoryWindow>{old, w}, frame()) == 10ms);
  CHECK(autoRttTop(std::vector<HistoryWindow>{old, w}, frame(2h)) == 2s);  // 1.1 x 990 ms
}

TEST_CASE("RttGraph: loss columns only for slots with loss, saying how many were lost",
          "[rtt_graph]") {
  auto w = fine(60, 20ms);
  w.slots[10] = slot(50, 3, 20ms);  // 6 %: bucket 2
  w.slots[30] = slot(20, 1, 20ms);  // 5 %: bucket 1
  w.slots[31] = slot(1, 1, 0ms);    // all lost
  w.slots[50] = slot(20, 2, 20ms);  // 10 %, and the next slot too: one column of both
  w.slots[51] = slot(30, 4, 20ms);
  const Node root = parseSvg(render({w}, frame()));
  const auto rects = find(root, "rect", "loss");
  REQUIRE(rects.size() == 4);
  CHECK_THAT(rects[3]->child("title")->text, Catch::EndsWith(": 6 of 50 probes lost (12.0 %)"));
  CHECK(num(*rects[3], "width") == Approx(20));
  auto title = [](const Node* r) { return r->child("title")->text; };
  const auto start = static_cast<std::int64_t>(kNowUnix) - 600;
  CHECK(title(rects[0]) == hhmm(start + 100, true) + "\xE2\x80\x93" + hhmm(start + 110, true) +
                               ": 3 of 50 probes lost (6.0 %)");
  CHECK(rects[0]->attr("fill") == "#7b3294");  // 5-20 %: purple
  CHECK_THAT(title(rects[1]), Catch::EndsWith(": 1 of 20 probes lost (5.0 %)"));
  CHECK(rects[1]->attr("fill") == "#2b83ba");  // up to 5 %: blue
  CHECK_THAT(title(rects[2]), Catch::EndsWith(": 1 of 1 probe lost (100.0 %)"));
  CHECK(rects[2]->attr("fill") == "#d7191c");  // all: red
  // Opacity grows with the loss.
  CHECK(num(*rects[1], "fill-opacity") < num(*rects[0], "fill-opacity"));
  CHECK(num(*rects[0], "fill-opacity") < num(*rects[2], "fill-opacity"));
  // Where the slots are: slot 10 starts 500 s before the end, 100 px into the plot.
  CHECK(num(*rects[0], "x") == Approx(kRttGraphMarginLeft + 100));
  CHECK(num(*rects[0], "width") == Approx(10));
  // Behind the smoke: before it in document order.
  const auto& top = root.children;
  const auto first_smoke =
      std::find_if(top.begin(), top.end(), [](const Node& n) { return n.hasClass("smoke"); });
  const auto last_loss =
      std::find_if(top.rbegin(), top.rend(), [](const Node& n) { return n.hasClass("loss"); });
  CHECK(first_smoke - top.begin() > top.rend() - last_loss - 1);
  // The lost slot breaks the smoke and the median; each loss bucket has its own colour.
  CHECK(subpaths(*find(root, "path", "smoke").front()->attr("d")).size() == 2);
  std::set<std::string> colours;
  for (const Node* m : find(root, "path", "median")) colours.insert(*m->attr("stroke"));
  CHECK(colours.size() == 3);  // 0 %, 5 % and 6 %
}

TEST_CASE("RttGraph: a slot is drawn where its time and RTT are", "[rtt_graph]") {
  // One slot, starting 5 minutes before now, median 25 ms on a 50 ms axis.
  HistoryWindow w;
  w.slot_width = 10s;
  w.newest = (kNow - 5min) / 10s;
  w.slots = {slot(20, 0, 25ms)};
  auto f = frame();
  f.rtt_top = 50ms;
  const Node root = parseSvg(render({w}, f));
  const auto median = subpaths(*find(root, "path", "median").front()->attr("d"));
  REQUIRE(median.size() == 1);
  CHECK(median[0].x0 == Approx(kRttGraphMarginLeft + 300));
  CHECK(median[0].x1 == Approx(kRttGraphMarginLeft + 310));
  CHECK(median[0].y0 == Approx(kRttGraphMarginTop + 60).margin(0.5));
  const auto inner = subpaths(*find(root, "path", "smoke").back()->attr("d"));  // p25-p75
  REQUIRE(inner.size() == 1);
  CHECK(inner[0].x0 == Approx(kRttGraphMarginLeft + 300));
  CHECK(inner[0].y0 == Approx(kRttGraphMarginTop + 120 * (1 - 26.25 / 50)).margin(0.5));
  CHECK(inner[0].y1 == Approx(kRttGraphMarginTop + 120 * (1 - 23.75 / 50)).margin(0.5));
  // Higher RTTs are higher up.
  w.slots = {slot(20, 0, 40ms)};
  const auto higher =
      subpaths(*find(parseSvg(render({w}, f)), "path", "median").front()->attr("d"));
  CHECK(higher[0].y0 < median[0].y0);
}

TEST_CASE("RttGraph: slots without data and fully lost slots break the smoke and the median",
          "[rtt_graph]") {
  auto w = fine(60, 20ms);
  w.slots[20] = HistorySlot{};      // nothing ended in it
  w.slots[40] = slot(20, 20, 0ms);  // everything lost
  const Node root = parseSvg(render({w}, frame()));
  for (const Node* p : find(root, "path", "smoke")) {
    const auto boxes = subpaths(*p->attr("d"));
    REQUIRE(boxes.size() == 3);
    CHECK(boxes[0].x1 == Approx(kRttGraphMarginLeft + 200));  // up to slot 20
    CHECK(boxes[1].x0 == Approx(kRttGraphMarginLeft + 210));  // from slot 21
    CHECK(boxes[1].x1 == Approx(kRttGraphMarginLeft + 400));
    CHECK(boxes[2].x0 == Approx(kRttGraphMarginLeft + 410));
  }
  const auto medians = find(root, "path", "median");
  REQUIRE(medians.size() == 1);
  CHECK(subpaths(*medians.front()->attr("d")).size() == 3);
  CHECK(find(root, "rect", "loss").size() == 1);  // slot 40 only
}

TEST_CASE("RttGraph: the legend's loss bands are the graph's colours", "[rtt_graph]") {
  const auto bands = reachmon::service::lossBands();
  REQUIRE(bands.size() == 5);
  // One slot per bucket: 0 %, 5 %, 20 %, 50 % and 100 % lost.
  auto w = fine(60, 20ms);
  w.slots[1] = slot(20, 1, 20ms);
  w.slots[3] = slot(20, 4, 20ms);
  w.slots[5] = slot(20, 10, 20ms);
  w.slots[7] = slot(20, 20, 0ms);
  const Node root = parseSvg(render({w}, frame()));
  for (std::size_t b = 0; b < bands.size(); ++b) {
    INFO("loss-" << b);
    CHECK(bands[b].colour.size() == 7);
    CHECK(bands[b].label.find_first_of("<>&\"'") == std::string_view::npos);
    const std::string cls = "loss-" + std::to_string(b);
    const auto rects = find(root, "rect", "loss");
    REQUIRE(rects.size() == 4);
    if (b > 0) CHECK(rects[b - 1]->attr("fill") == std::string(bands[b].colour));
    const auto medians = find(root, "path", cls);
    if (b == 4) {
      CHECK(medians.empty());  // no RTT to draw
    } else {
      REQUIRE(medians.size() == 1);
      CHECK(medians.front()->attr("stroke") == std::string(bands[b].colour));
    }
  }
}
