#include "reachmon/config/loader.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "reachmon/config/duration.h"
#include "reachmon/config/limits.h"

namespace reachmon::config {
namespace {

// Every accepted range must fit the field it is stored in.
template <typename T>
constexpr bool fits(IntRange r) {
  return r.min >= std::numeric_limits<T>::min() && r.max <= std::numeric_limits<T>::max();
}
static_assert(fits<decltype(core::ProbeOptions::payload_size)>(kPayloadSize));
static_assert(fits<decltype(core::ProbeOptions::ttl)>(kTtl));
static_assert(fits<decltype(core::ProbeOptions::tos)>(kTos));

using core::Family;
using nlohmann::json;

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string typeName(const json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

bool isValidName(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool isValidLabelName(std::string_view s) {
  if (s.empty() || s.starts_with("__")) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool isValidHostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  if (s.back() == '.') s.remove_suffix(1);
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = s.find('.', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view label = s.substr(start, end - start);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-')
      return false;
    for (char c : label) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '_';
      if (!ok) return false;
    }
    start = end + 1;
  }
  return true;
}

// Walks the document once, collecting every error with its JSON path.
class Validator {
 public:
  LoadResult run(const json& root) {
    Config cfg;
    if (!root.is_object()) {
      error("$", "the config must be a JSON object, found " + typeName(root));
      return finish(cfg);
    }
    checkKeys(root, "$", {"listen", "defaults", "min_send_gap", "sources", "targets"});
    if (auto* v = find(root, "listen")) readListen(*v, "$.listen", cfg.listen);
    if (auto* v = find(root, "min_send_gap"))
      readDuration(*v, "$.min_send_gap", kMinSendGap, cfg.min_send_gap);
    if (auto* v = find(root, "defaults")) readDefaults(*v, cfg);
    readSources(root, cfg);
    readTargets(root, cfg);
    return finish(cfg);
  }

 private:
  void error(std::string where, std::string message) {
    errors_.push_back({std::move(where), std::move(message)});
  }

  LoadResult finish(Config& cfg) {
    LoadResult r;
    r.errors = std::move(errors_);
    if (r.errors.empty()) r.config = std::move(cfg);
    return r;
  }

  static const json* find(const json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() ? nullptr : &*it;
  }

  void checkKeys(const json& obj, const std::string& path,
                 std::initializer_list<const char*> keys) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool known =
          std::any_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; });
      if (!known) {
        std::string list;
        for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
        error(path + "." + it.key(), "unknown key (allowed here: " + list + ")");
      }
    }
  }

  bool expectType(const json& v, const std::string& path, bool ok, const char* expected) {
    if (!ok) error(path, std::string("expected ") + expected + ", found " + typeName(v));
    return ok;
  }

  bool readString(const json& v, const std::string& path, std::string& out) {
    if (!expectType(v, path, v.is_string(), "a string")) return false;
    out = v.get<std::string>();
    return true;
  }

  // `range` must fit in T (the limits in limits.h are chosen so).
  template <typename T>
  void readInt(const json& v, const std::string& path, IntRange range, T& out) {
    if (!expectType(v, path, v.is_number_integer(), "an integer")) return;
    auto n = v.get<std::int64_t>();
    if (n < range.min || n > range.max) {
      error(path, std::to_string(n) + " is out of range (" + std::to_string(range.min) + " to " +
                      std::to_string(range.max) + ")");
      return;
    }
    out = static_cast<T>(n);
  }

  void readBool(const json& v, const std::string& path, bool& out) {
    if (expectType(v, path, v.is_boolean(), "true or false")) out = v.get<bool>();
  }

  void readDuration(const json& v, const std::string& path, DurationRange range, Duration& out) {
    std::string s;
    if (!readString(v, path, s)) return;
    auto d = parseDuration(s);
    if (!d) {
      error(path, "invalid duration " + quote(s) +
                      ": use a whole number and a unit us, ms, s, m or h, e.g. \"250ms\"");
      return;
    }
    if (*d < range.min || *d > range.max) {
      error(path, "duration " + quote(s) + " is out of range (" + formatDuration(range.min) +
                      " to " + formatDuration(range.max) + ")");
      return;
    }
    out = *d;
  }

  void readFamily(const json& v, const std::string& path, std::optional<Family>& out) {
    std::string s;
    if (!readString(v, path, s)) return;
    if (s == "ipv4") {
      out = Family::kIpv4;
    } else if (s == "ipv6") {
      out = Family::kIpv6;
    } else {
      error(path, "unknown family " + quote(s) + " (use \"ipv4\" or \"ipv6\")");
    }
  }

  void readListen(const json& v, const std::string& path, std::string& out) {
    std::string s;
    if (!readString(v, path, s)) return;
    auto colon = s.rfind(':');
    std::string host = colon == std::string::npos ? "" : s.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : s.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
      auto a = core::parseIpAddress(host.substr(1, host.size() - 2));
      if (!a || a->family != Family::kIpv6) host.clear();
    } else if (auto a = core::parseIpAddress(host); !a || a->family != Family::kIpv4) {
      host.clear();
    }
    int p = -1;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    bool port_ok = !port.empty() && ec == std::errc() && end == port.data() + port.size() &&
                   p >= 0 && p <= 65535;
    if (host.empty() || !port_ok) {
      error(path, "invalid listen address " + quote(s) +
                      ": use \"IPv4:port\" or \"[IPv6]:port\", e.g. \"127.0.0.1:9643\"");
      return;
    }
    out = s;
  }

  void readProbeOptions(const json& obj, const std::string& path, core::ProbeOptions& p) {
    if (auto* v = find(obj, "interval"))
      readDuration(*v, path + ".interval", kInterval, p.interval);
    if (auto* v = find(obj, "timeout")) readDuration(*v, path + ".timeout", kTimeout, p.timeout);
    if (auto* v = find(obj, "payload_size"))
      readInt(*v, path + ".payload_size", kPayloadSize, p.payload_size);
    if (auto* v = find(obj, "ttl")) readInt(*v, path + ".ttl", kTtl, p.ttl);
    if (auto* v = find(obj, "tos")) readInt(*v, path + ".tos", kTos, p.tos);
    if (auto* v = find(obj, "dont_fragment"))
      readBool(*v, path + ".dont_fragment", p.dont_fragment);
  }

  void readDefaults(const json& v, Config& cfg) {
    const std::string path = "$.defaults";
    if (!expectType(v, path, v.is_object(), "an object")) return;
    checkKeys(
        v, path,
        {"interval", "timeout", "payload_size", "ttl", "dont_fragment", "tos", "resolve_interval"});
    readProbeOptions(v, path, cfg.defaults);
    if (auto* r = find(v, "resolve_interval"))
      readDuration(*r, path + ".resolve_interval", kResolveInterval, cfg.resolve_interval);
  }

  const json* readList(const json& root, const char* key) {
    const std::string path = std::string("$.") + key;
    const json* v = find(root, key);
    if (!v) {
      error(path, "missing: at least one entry is required");
      return nullptr;
    }
    if (!expectType(*v, path, v->is_array(), "an array")) return nullptr;
    if (v->empty()) error(path, "empty: at least one entry is required");
    return v;
  }

  bool readName(const json& obj, const std::string& path, std::set<std::string>& seen,
                std::string& out) {
    const json* v = find(obj, "name");
    if (!v) {
      error(path + ".name", "missing");
      return false;
    }
    if (!readString(*v, path + ".name", out)) return false;
    if (!isValidName(out)) {
      error(path + ".name",
            "invalid name " + quote(out) + ": use 1 to 64 letters, digits, '-', '_' or '.'");
      return false;
    }
    if (!seen.insert(out).second) {
      error(path + ".name", "duplicate name " + quote(out));
      return false;
    }
    return true;
  }

  void readSources(const json& root, Config& cfg) {
    const json* list = readList(root, "sources");
    if (!list) return;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& s = (*list)[i];
      const std::string path = "$.sources[" + std::to_string(i) + "]";
      if (!expectType(s, path, s.is_object(), "an object")) continue;
      checkKeys(s, path, {"name", "address", "interface", "family"});
      core::SourceSpec src;
      bool ok = readName(s, path, names, src.name);
      std::optional<Family> family;
      if (auto* f = find(s, "family")) readFamily(*f, path + ".family", family);
      const json* addr = find(s, "address");
      const json* ifc = find(s, "interface");
      if ((addr != nullptr) == (ifc != nullptr)) {
        error(path, "set exactly one of \"address\" or \"interface\"");
        ok = false;
      } else if (addr) {
        std::string text;
        if (readString(*addr, path + ".address", text)) {
          src.address = core::parseIpAddress(text);
          if (!src.address) {
            error(path + ".address", "invalid IP address " + quote(text));
            ok = false;
          } else {
            src.family = src.address->family;
            if (family && *family != src.family) {
              error(path + ".family", "family " + std::string(core::familyName(*family)) +
                                          " does not match address " + quote(text));
              ok = false;
            }
          }
        }
      } else {
        std::string text;
        if (readString(*ifc, path + ".interface", text) && text.empty()) {
          error(path + ".interface", "empty interface name");
          ok = false;
        }
        src.interface_name = text;
        src.family = family.value_or(Family::kIpv4);
      }
      if (ok) cfg.sources.push_back(std::move(src));
    }
  }

  void readTargets(const json& root, Config& cfg) {
    const json* list = readList(root, "targets");
    if (!list) return;
    std::set<std::string> names;
    for (std::size_t i = 0; i < list->size(); ++i) {
      const json& t = (*list)[i];
      const std::string path = "$.targets[" + std::to_string(i) + "]";
      if (!expectType(t, path, t.is_object(), "an object")) continue;
      checkKeys(t, path,
                {"name", "host", "family", "sources", "labels", "interval", "timeout",
                 "payload_size", "ttl", "dont_fragment", "tos"});
      Target tgt;
      tgt.probe = cfg.defaults;
      readName(t, path, names, tgt.name);
      std::optional<Family> family;
      if (auto* f = find(t, "family")) readFamily(*f, path + ".family", family);
      readHost(t, path, family, tgt);
      readProbeOptions(t, path, tgt.probe);
      readLabels(t, path, tgt);
      readTargetSources(t, path, cfg, tgt);
      cfg.targets.push_back(std::move(tgt));
    }
  }

  void readHost(const json& t, const std::string& path, std::optional<Family> family, Target& tgt) {
    const json* h = find(t, "host");
    tgt.family = family.value_or(Family::kIpv4);
    if (!h) {
      error(path + ".host", "missing");
      return;
    }
    if (!readString(*h, path + ".host", tgt.host)) return;
    tgt.literal = core::parseIpAddress(tgt.host);
    if (tgt.literal) {
      if (family && *family != tgt.literal->family)
        error(path + ".family", "family " + std::string(core::familyName(*family)) +
                                    " does not match host " + quote(tgt.host));
      tgt.family = tgt.literal->family;
    } else if (!isValidHostname(tgt.host)) {
      error(path + ".host", "invalid host " + quote(tgt.host) + ": not an IP address or DNS name");
    }
  }

  void readLabels(const json& t, const std::string& path, Target& tgt) {
    const json* l = find(t, "labels");
    if (!l || !expectType(*l, path + ".labels", l->is_object(), "an object")) return;
    static const std::set<std::string> kReserved = {"source", "target", "reason",  "address",
                                                    "le",     "job",    "instance"};
    for (auto it = l->begin(); it != l->end(); ++it) {
      const std::string lp = path + ".labels." + it.key();
      if (!isValidLabelName(it.key())) {
        error(lp, "invalid label name " + quote(it.key()) +
                      ": use letters, digits and '_', not starting with a digit or \"__\"");
      } else if (kReserved.count(it.key())) {
        error(lp, "label name " + quote(it.key()) + " is reserved by reachmon or Prometheus");
      }
      std::string value;
      if (readString(*it, lp, value)) tgt.labels[it.key()] = value;
    }
  }

  void readTargetSources(const json& t, const std::string& path, const Config& cfg, Target& tgt) {
    auto same_family = [&](const core::SourceSpec& s) { return s.family == tgt.family; };
    const json* list = find(t, "sources");
    if (!list) {
      if (!cfg.sources.empty() && std::none_of(cfg.sources.begin(), cfg.sources.end(), same_family))
        error(path, "no " + std::string(core::familyName(tgt.family)) +
                        " source to probe this target from");
      return;
    }
    if (!expectType(*list, path + ".sources", list->is_array(), "an array of source names")) return;
    if (list->empty()) error(path + ".sources", "empty: omit it to use every source");
    for (std::size_t j = 0; j < list->size(); ++j) {
      const std::string sp = path + ".sources[" + std::to_string(j) + "]";
      std::string name;
      if (!readString((*list)[j], sp, name)) continue;
      auto it = std::find_if(cfg.sources.begin(), cfg.sources.end(),
                             [&](const core::SourceSpec& s) { return s.name == name; });
      if (it == cfg.sources.end()) {
        error(sp, "unknown source " + quote(name));
      } else if (!same_family(*it)) {
        error(sp, "source " + quote(name) + " is " + std::string(core::familyName(it->family)) +
                      " but the target is " + std::string(core::familyName(tgt.family)));
      } else if (std::find(tgt.sources.begin(), tgt.sources.end(), name) != tgt.sources.end()) {
        error(sp, "source " + quote(name) + " listed twice");
      } else {
        tgt.sources.push_back(name);
      }
    }
  }

  std::vector<ConfigError> errors_;
};

// Finds keys that appear twice in one object: plain JSON parsing keeps the last one silently.
class DuplicateKeyFinder final : public nlohmann::json_sax<json> {
 public:
  std::vector<ConfigError> errors;

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
    if (!f.keys.insert(k).second)
      errors.push_back({pathOfTop() + "." + k, "duplicate key: remove all but one"});
    f.key = k;
    return true;
  }
  bool end_object() override { return pop(); }
  bool start_array(std::size_t) override {
    element();
    frames_.push_back({true, -1, "", {}});
    return true;
  }
  bool end_array() override { return pop(); }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Frame {
    bool array;
    long index;
    std::string key;
    std::set<std::string> keys;
  };
  bool element() {
    if (!frames_.empty() && frames_.back().array) ++frames_.back().index;
    return true;
  }
  bool pop() {
    frames_.pop_back();
    return true;
  }
  std::string pathOfTop() const {
    std::string p = "$";
    for (std::size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      p += f.array ? "[" + std::to_string(f.index) + "]" : "." + f.key;
    }
    return p;
  }
  std::vector<Frame> frames_;
};

ConfigError syntaxError(std::string_view text, const json::parse_error& e) {
  std::size_t line = 1, col = 1;
  std::size_t end = std::min<std::size_t>(e.byte == 0 ? 0 : e.byte - 1, text.size());
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  std::string msg = e.what();
  // nlohmann prefixes "[json.exception.parse_error.101] parse error at line L, column C: ".
  if (auto pos = msg.find(": "); pos != std::string::npos) msg = msg.substr(pos + 2);
  return {"line " + std::to_string(line) + ", column " + std::to_string(col),
          "invalid JSON: " + msg};
}

}  // namespace

LoadResult parseConfig(std::string_view text) {
  json root;
  try {
    root = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    LoadResult r;
    r.errors.push_back(syntaxError(text, e));
    return r;
  }
  DuplicateKeyFinder duplicates;
  json::sax_parse(text.begin(), text.end(), &duplicates);
  LoadResult result = Validator().run(root);
  if (!duplicates.errors.empty()) {
    result.errors.insert(result.errors.begin(), duplicates.errors.begin(), duplicates.errors.end());
    result.config.reset();
  }
  return result;
}

std::optional<std::string> readConfigText(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

LoadResult loadConfigFile(const std::filesystem::path& file, std::string* text) {
  auto bytes = readConfigText(file);
  if (text) *text = bytes.value_or("");
  if (!bytes) {
    LoadResult r;
    r.errors.push_back({"", std::string("cannot read the file: ") + std::strerror(errno)});
    return r;
  }
  return parseConfig(*bytes);
}

std::vector<ConfigError> platformWarnings(const Config& config, std::string_view platform) {
  std::vector<ConfigError> out;
  if (platform != "windows") return out;
  const std::string why =
      " is ignored on Windows: the ICMP helper (IcmpSendEcho2Ex) does not set the TOS byte or "
      "traffic class of echo requests";
  if (config.defaults.tos != 0)
    out.push_back({"$.defaults.tos", "tos " + std::to_string(config.defaults.tos) + why});
  for (std::size_t i = 0; i < config.targets.size(); ++i) {
    const auto tos = config.targets[i].probe.tos;
    if (tos != 0 && tos != config.defaults.tos)
      out.push_back(
          {"$.targets[" + std::to_string(i) + "].tos", "tos " + std::to_string(tos) + why});
  }
  return out;
}

}  // namespace reachmon::config
