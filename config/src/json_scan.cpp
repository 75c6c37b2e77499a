#include "json_scan.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "value_rules.h"

namespace reachmon::config {
namespace {

using nlohmann::json;

// nlohmann's id of "number overflow parsing": a number whose magnitude exceeds a double's.
constexpr int kNumberOverflow = 406;

// Whether `text` holds nothing but white space and complete comments (after a UTF-8 BOM, which
// the parser skips too): a file without a value.
bool onlyBlank(std::string_view text) {
  std::size_t i = text.starts_with("\xEF\xBB\xBF") ? 3 : 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      ++i;
    } else if (text.substr(i, 2) == "//") {
      i = text.find_first_of("\n\r", i);
      if (i == std::string_view::npos) return true;
    } else if (text.substr(i, 2) == "/*") {
      const std::size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return false;
      i = end + 2;
    } else {
      return false;
    }
  }
  return true;
}

// Where the `/*` of a comment without its closing `*/` is, reading `text` as the parser does
// (strings and `//` comments skipped), or npos.
std::size_t openCommentStart(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '"') {
      for (++i; i < text.size() && text[i] != '"'; ++i) {
        if (text[i] == '\\') ++i;
      }
      ++i;
    } else if (text.substr(i, 2) == "//") {
      i = text.find_first_of("\n\r", i);
    } else if (text.substr(i, 2) == "/*") {
      const std::size_t end = text.find("*/", i + 2);
      if (end == std::string_view::npos) return i;
      i = end + 2;
    } else {
      ++i;
    }
  }
  return std::string_view::npos;
}

// "line L, column C" of the byte at `offset` (0-based) of `text`.
std::string lineColumn(std::string_view text, std::size_t offset) {
  std::size_t line = 1;
  std::size_t col = 1;
  const std::size_t end = std::min(offset, text.size());
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

// Tracks the JSON path of the value being read (built only when an error needs it: a path per
// container would cost quadratic time on a deeply nested file) and reports repeated keys.
class Scanner final : public nlohmann::json_sax<json> {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  JsonScan result;

  bool null() override { return element(); }
  bool boolean(bool) override { return element(); }
  bool number_integer(number_integer_t) override { return element(); }
  bool number_unsigned(number_unsigned_t) override { return element(); }
  bool number_float(number_float_t, const string_t&) override { return element(); }
  bool string(string_t&) override { return element(); }
  bool binary(binary_t&) override { return element(); }
  bool start_object(std::size_t) override {
    element();
    frames_.push_back({false, -1, "", {}});
    return true;
  }
  bool key(string_t& k) override {
    Frame& f = frames_.back();
    f.key = k;
    if (!f.keys.insert(k).second)
      result.duplicate_keys.push_back({pathOfNext(), "duplicate key: remove all but one"});
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override {
    element();
    frames_.push_back({true, -1, "", {}});
    return true;
  }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t position, const std::string& token,
                   const nlohmann::detail::exception& e) override {
    if (e.id == kNumberOverflow) {
      // `position` is just past the number.
      const std::size_t start = position - std::min(position, token.size());
      result.unreadable = ConfigError{pathOfNext(), "number " + escapeControls(token) + " at " +
                                                        lineColumn(text_, start) +
                                                        " is out of range (its magnitude "
                                                        "exceeds 1.7e308)"};
    } else if (!started_ && onlyBlank(text_)) {
      result.unreadable = ConfigError{
          "", "no JSON value: the file is empty or holds only comments and white space"};
    } else if (const std::size_t open = openCommentStart(text_);
               open != std::string_view::npos &&
               std::string_view(e.what()).find("missing closing '*/'") != std::string_view::npos) {
      result.unreadable = ConfigError{lineColumn(text_, open),
                                      "invalid JSON: unterminated comment: this /* has no "
                                      "closing */ (a // comment ends at the end of its line)"};
    } else {
      // `position` counts the offending character too.
      result.unreadable = ConfigError{lineColumn(text_, position == 0 ? 0 : position - 1),
                                      "invalid JSON: " + exceptionText(e)};
    }
    return false;
  }

 private:
  struct Frame {
    bool array;
    long index;       // of the array element being read
    std::string key;  // of the object member being read
    std::set<std::string> keys;
  };
  bool element() {
    started_ = true;
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool pop() {
    frames_.pop_back();
    return true;
  }
  // The path of the value about to be read: the last key of an object, the next element of an
  // array (an element is counted when it starts).
  std::string pathOfNext() const {
    std::string p = "$";
    for (std::size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      const bool last = i + 1 == frames_.size();
      if (f.array) {
        p += "[" + std::to_string(f.index + (last ? 1 : 0)) + "]";
      } else {
        p = memberPath(p, f.key);
      }
    }
    return p;
  }

  std::string_view text_;
  std::vector<Frame> frames_;
  bool started_ = false;  // whether a value has begun
};

}  // namespace

std::string exceptionText(const std::exception& e) {
  std::string msg = e.what();
  // nlohmann: "[json.exception.parse_error.101] parse error at line L, column C: what".
  if (msg.starts_with("[json.exception.")) {
    const auto close = msg.find("] ");
    if (close != std::string::npos) msg = msg.substr(close + 2);
    if (msg.starts_with("parse error")) {
      if (const auto pos = msg.find(": "); pos != std::string::npos) msg = msg.substr(pos + 2);
    }
  }
  // "last read: '...'" holds everything since the last string or number, white space and
  // comments included: keep its end, where the error is.
  constexpr std::string_view kLastRead = "; last read: '";
  constexpr std::size_t kKeep = 40;
  if (const auto at = msg.find(kLastRead); at != std::string::npos) {
    const std::size_t begin = at + kLastRead.size();
    // The quote closes before "; expected ..." (which has quotes of its own) or at the end.
    std::size_t end = msg.rfind("'; expected ");
    if (end == std::string::npos || end < begin) end = msg.ends_with("'") ? msg.size() - 1 : begin;
    if (end - begin > kKeep + 3) {
      std::size_t cut = end - kKeep;
      // Not inside a UTF-8 sequence: skip its continuation bytes.
      while (cut < end && (static_cast<unsigned char>(msg[cut]) & 0xc0) == 0x80) ++cut;
      msg = msg.substr(0, begin) + "..." + msg.substr(cut);
    }
  }
  return escapeControls(msg);
}

JsonScan scanJson(std::string_view text) {
  try {
    Scanner scanner(text);
    json::sax_parse(text.begin(), text.end(), &scanner, json::input_format_t::json,
                    /*strict=*/true, kIgnoreComments);
    return std::move(scanner.result);
  } catch (const std::exception& e) {
    JsonScan failed;
    failed.unreadable = ConfigError{"", "cannot read the JSON: " + exceptionText(e)};
    return failed;
  }
}

}  // namespace reachmon::config
