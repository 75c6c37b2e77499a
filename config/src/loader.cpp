#include "reachmon/config/loader.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "json_checker.h"
#include "json_scan.h"
#include "reachmon/config/duration.h"
#include "reachmon/config/limits.h"
#include "value_rules.h"

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
static_assert(fits<decltype(core::ProbeOptions::port)>(kPort));
static_assert(kMaxBuckets <= core::kMaxHistogramBounds);

using core::Family;
using nlohmann::json;

// Walks the document once, collecting every error with its JSON path.
class Validator : JsonChecker {
 public:
  LoadResult run(const json& root) {
    Config cfg;
    if (!root.is_object()) {
      error("$", "the config must be a JSON object, found " + typeName(root));
      return finish(cfg);
    }
    checkKeys(root, "$",
              {"$schema", "listen", "web", "defaults", "min_send_gap", "sources", "targets"});
    // For editors only (docs/config.md, "Editors"): whatever it names, reachmon does not read it.
    if (auto* v = find(root, "$schema"))
      expectType(*v, memberPath("$", "$schema"), v->is_string(),
                 "a string (the URL or path of config.schema.json)");
    if (auto* v = find(root, "listen"))
      guarded("$.listen", [&] { readListen(*v, "$.listen", cfg.listen); });
    if (auto* v = find(root, "web")) guarded("$.web", [&] { readWeb(*v, cfg.web); });
    if (auto* v = find(root, "min_send_gap"))
      guarded("$.min_send_gap",
              [&] { readDuration(*v, "$.min_send_gap", kMinSendGap, cfg.min_send_gap); });
    if (auto* v = find(root, "defaults")) guarded("$.defaults", [&] { readDefaults(*v, cfg); });
    readSources(root, cfg);
    readTargets(root, cfg);
    return finish(cfg);
  }

 private:
  LoadResult finish(Config& cfg) {
    LoadResult r;
    r.errors = takeErrors();
    if (r.errors.empty()) r.config = std::move(cfg);
    return r;
  }

  // `range` must fit in T (the limits in limits.h are chosen so).
  template <typename T>
  void readInt(const json& v, const std::string& path, IntRange range, T& out) {
    if (!expectType(v, path, v.is_number_integer(), "an integer")) return;
    // Above INT64_MAX nlohmann keeps an unsigned value, which get<int64_t> would wrap negative.
    const bool huge =
        v.is_number_unsigned() &&
        v.get<std::uint64_t>() > std::uint64_t{std::numeric_limits<std::int64_t>::max()};
    const std::int64_t n = huge ? 0 : v.get<std::int64_t>();
    if (huge || n < range.min || n > range.max) {
      error(path, (huge ? std::to_string(v.get<std::uint64_t>()) : std::to_string(n)) +
                      " is out of range (" + std::to_string(range.min) + " to " +
                      std::to_string(range.max) + ")");
      return;
    }
    out = static_cast<T>(n);
  }

  // What follows "invalid duration "...": <what is wrong>" (docs/config.md, "Durations").
  static constexpr const char* kDurationAdvice =
      "; use numbers with units h, m, s, ms or us, largest first, e.g. \"250ms\", \"1.5s\" or "
      "\"1m30s\"";

  static std::string rangeText(DurationRange range) {
    return " (" + formatDuration(range.min) + " to " + formatDuration(range.max) + ")";
  }

  void readDuration(const json& v, const std::string& path, DurationRange range, Duration& out) {
    std::string s;
    if (!readString(v, path, s)) return;
    const DurationResult d = tryParseDuration(s);
    if (!d.value && !d.too_long) {
      error(path, "invalid duration " + quote(s) + ": " + d.error + kDurationAdvice);
      return;
    }
    if (d.too_long || *d.value < range.min || *d.value > range.max) {
      error(path, "duration " + quote(s) + " is out of range" + rangeText(range));
      return;
    }
    out = *d.value;
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
    if (!readString(v, path, s) || !noControls(path, "listen address", s)) return;
    if (const std::string why = listenAddressError(s); !why.empty()) return error(path, why);
    out = s;
  }

  void readWeb(const json& v, Web& web) {
    const std::string path = "$.web";
    if (!expectType(v, path, v.is_object(), "an object")) return;
    checkKeys(v, path, {"config_file", "enable_reload", "graphs"});
    if (auto* f = find(v, "config_file")) {
      std::string file;
      if (readString(*f, path + ".config_file", file) &&
          noControls(path + ".config_file", "file name", file)) {
        if (file.empty())
          error(path + ".config_file", "empty: omit it for plain HTTP without authentication");
        web.config_file = file;
      }
    }
    if (auto* e = find(v, "enable_reload"))
      readBool(*e, path + ".enable_reload", web.enable_reload);
    if (auto* g = find(v, "graphs")) readBool(*g, path + ".graphs", web.graphs);
  }

  void readProbeKind(const json& v, const std::string& path, core::ProbeKind& out) {
    std::string s;
    if (!readString(v, path, s)) return;
    if (s == "icmp") {
      out = core::ProbeKind::kIcmp;
    } else if (s == "udp") {
      out = core::ProbeKind::kUdp;
    } else {
      error(path, "unknown probe " + quote(s) + " (use \"icmp\" or \"udp\")");
    }
  }

  // A bucket bound: a duration ("2500us") or a number of seconds (0.0025), above 0, within
  // kBucketBound. nullopt (with the error reported) when it is not.
  std::optional<Duration> readBucketBound(const json& v, const std::string& path) {
    const std::string range = rangeText(kBucketBound);
    if (v.is_string()) {
      const std::string s = v.get<std::string>();
      const DurationResult d = tryParseDuration(s);
      if (!d.value && !d.too_long) {
        error(path, "invalid duration " + quote(s) + ": " + d.error + kDurationAdvice +
                        ", or a number of seconds");
        return std::nullopt;
      }
      if (d.value && d.value->count() == 0) {
        error(path, "bound " + quote(s) + " must be above 0");
        return std::nullopt;
      }
      if (d.too_long || *d.value < kBucketBound.min || *d.value > kBucketBound.max) {
        error(path, "bound " + quote(s) + " is out of range" + range);
        return std::nullopt;
      }
      return d.value;
    }
    if (!expectType(v, path, v.is_number(), "a duration such as \"250ms\" or a number of seconds"))
      return std::nullopt;
    const double seconds = v.get<double>();  // finite: the scan refused what overflows a double
    if (seconds <= 0) {
      error(path, "bound " + v.dump() + " must be above 0");
      return std::nullopt;
    }
    const double ns = seconds * 1e9;
    if (ns < static_cast<double>(std::chrono::nanoseconds(kBucketBound.min).count()) ||
        ns > static_cast<double>(std::chrono::nanoseconds(kBucketBound.max).count())) {
      error(path, "bound " + v.dump() + " (seconds) is out of range" + range);
      return std::nullopt;
    }
    return Duration(std::llround(ns));
  }

  // RTT histogram bounds: a non-empty array of at most kMaxBuckets bounds, strictly ascending.
  void readBuckets(const json& v, const std::string& path, core::RttBuckets& out) {
    if (!expectType(v, path, v.is_array(), "an array of durations or numbers of seconds")) return;
    if (v.empty()) {
      error(path, "empty: list at least one bound, or omit buckets for the default ones");
      return;
    }
    if (v.size() > kMaxBuckets) {
      error(path, std::to_string(v.size()) + " bounds, more than the " +
                      std::to_string(kMaxBuckets) + " a histogram may have");
      return;
    }
    std::vector<double> seconds;
    std::optional<Duration> previous;  // the bound before, if it was valid
    bool ok = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      const std::string bp = path + "[" + std::to_string(i) + "]";
      const auto bound = readBucketBound(v[i], bp);
      if (bound && previous && *bound == *previous) {
        error(bp,
              "bound " + formatDuration(*bound) + " is listed twice: each bound may appear once");
        ok = false;
      } else if (bound && previous && *bound < *previous) {
        error(bp, "bound " + formatDuration(*bound) + " is below the bound before it (" +
                      formatDuration(*previous) + "): list bounds in ascending order");
        ok = false;
      }
      ok = ok && bound.has_value();
      previous = bound;
      if (bound) seconds.push_back(std::chrono::duration<double>(*bound).count());
    }
    if (ok) out = core::RttBuckets(std::move(seconds));
  }

  void readProbeOptions(const json& obj, const std::string& path, core::ProbeOptions& p) {
    if (auto* v = find(obj, "probe")) readProbeKind(*v, path + ".probe", p.probe);
    if (auto* v = find(obj, "port")) readInt(*v, path + ".port", kPort, p.port);
    if (auto* v = find(obj, "interval"))
      readDuration(*v, path + ".interval", kInterval, p.interval);
    if (auto* v = find(obj, "timeout")) readDuration(*v, path + ".timeout", kTimeout, p.timeout);
    if (auto* v = find(obj, "payload_size"))
      readInt(*v, path + ".payload_size", kPayloadSize, p.payload_size);
    if (auto* v = find(obj, "ttl")) readInt(*v, path + ".ttl", kTtl, p.ttl);
    if (auto* v = find(obj, "tos")) readInt(*v, path + ".tos", kTos, p.tos);
    if (auto* v = find(obj, "dont_fragment"))
      readBool(*v, path + ".dont_fragment", p.dont_fragment);
    if (auto* v = find(obj, "buckets")) readBuckets(*v, path + ".buckets", p.buckets);
  }

  void readDefaults(const json& v, Config& cfg) {
    const std::string path = "$.defaults";
    if (!expectType(v, path, v.is_object(), "an object")) return;
    checkKeys(v, path,
              {"probe", "port", "interval", "timeout", "payload_size", "ttl", "dont_fragment",
               "tos", "buckets", "resolve_interval"});
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
    if (!noControls(path + ".name", "name", out, "; use 1 to 64 letters, digits, '-', '_' or '.'"))
      return false;
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
      const std::string path = "$.sources[" + std::to_string(i) + "]";
      guarded(path, [&] { readSource((*list)[i], path, names, cfg); });
    }
  }

  void readSource(const json& s, const std::string& path, std::set<std::string>& names,
                  Config& cfg) {
    if (!expectType(s, path, s.is_object(), "an object")) return;
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
      ok = readSourceAddress(*addr, path, family, src) && ok;
    } else {
      std::string text;
      if (readString(*ifc, path + ".interface", text) && text.empty()) {
        error(path + ".interface", "empty interface name");
        ok = false;
      }
      ok = noControls(path + ".interface", "interface name", text) && ok;
      src.interface_name = text;
      src.family = family.value_or(Family::kIpv4);
    }
    if (ok) cfg.sources.push_back(std::move(src));
  }

  bool readSourceAddress(const json& v, const std::string& source_path,
                         std::optional<Family> family, core::SourceSpec& src) {
    const std::string path = source_path + ".address";
    std::string text;
    if (!readString(v, path, text)) return true;  // as before: the type error is reported
    if (!noControls(path, "IP address", text)) return false;
    src.address = core::parseIpAddress(text);
    if (!src.address) {
      error(path, "invalid IP address " + quote(text));
      return false;
    }
    if (const std::string why = whyNotUnicast(*src.address); !why.empty()) {
      error(path, "invalid source address " + quote(text) + ": " + why +
                      " cannot send probes; use a unicast address of this host");
      return false;
    }
    src.family = src.address->family;
    if (family && *family != src.family) {
      error(source_path + ".family", "family " + std::string(core::familyName(*family)) +
                                         " does not match address " + quote(text));
      return false;
    }
    return true;
  }

  void readTargets(const json& root, Config& cfg) {
    const json* list = readList(root, "targets");
    if (!list) return;
    std::set<std::string> names;
    cfg.targets.reserve(list->size());  // held while the config runs: no growth slack
    for (std::size_t i = 0; i < list->size(); ++i) {
      const std::string path = "$.targets[" + std::to_string(i) + "]";
      guarded(path, [&] { readTarget((*list)[i], path, names, cfg); });
    }
  }

  void readTarget(const json& t, const std::string& path, std::set<std::string>& names,
                  Config& cfg) {
    if (!expectType(t, path, t.is_object(), "an object")) return;
    checkKeys(t, path,
              {"name", "host", "family", "sources", "labels", "probe", "port", "interval",
               "timeout", "payload_size", "ttl", "dont_fragment", "tos", "buckets"});
    Target tgt;
    tgt.probe = cfg.defaults;
    readName(t, path, names, tgt.name);
    std::optional<Family> family;
    if (auto* f = find(t, "family")) readFamily(*f, path + ".family", family);
    readHost(t, path, family, tgt);
    readProbeOptions(t, path, tgt.probe);
    // defaults.port may serve the UDP targets among ICMP ones; a target's own port must be used.
    if (find(t, "port") && tgt.probe.probe != core::ProbeKind::kUdp)
      error(path + ".port",
            "port applies to UDP probes only; this target sends ICMP echo "
            "requests (set \"probe\": \"udp\" to probe the port)");
    readLabels(t, path, tgt);
    readTargetSources(t, path, cfg, tgt);
    cfg.targets.push_back(std::move(tgt));
  }

  void readHost(const json& t, const std::string& path, std::optional<Family> family, Target& tgt) {
    const json* h = find(t, "host");
    tgt.family = family.value_or(Family::kIpv4);
    if (!h) {
      error(path + ".host", "missing");
      return;
    }
    if (!readString(*h, path + ".host", tgt.host)) return;
    // Before parsing: inet_pton and getaddrinfo would read "127.0.0.1\u0000evil" as 127.0.0.1.
    if (!noControls(path + ".host", "host", tgt.host)) return;
    tgt.literal = core::parseIpAddress(tgt.host);
    if (tgt.literal) {
      if (family && *family != tgt.literal->family)
        error(path + ".family", "family " + std::string(core::familyName(*family)) +
                                    " does not match host " + quote(tgt.host));
      tgt.family = tgt.literal->family;
      if (const std::string why = whyNotUnicast(*tgt.literal); !why.empty())
        error(path + ".host", "invalid target " + quote(tgt.host) + ": " + why +
                                  " cannot be probed; use a unicast address");
    } else if (!isValidHostname(tgt.host)) {
      error(path + ".host", "invalid host " + quote(tgt.host) + ": not an IP address or DNS name");
    }
  }

  void readLabels(const json& t, const std::string& path, Target& tgt) {
    const json* l = find(t, "labels");
    if (!l || !expectType(*l, path + ".labels", l->is_object(), "an object")) return;
    static const std::set<std::string> kReserved = {"source",  "target", "probe", "reason",
                                                    "address", "le",     "job",   "instance"};
    for (auto it = l->begin(); it != l->end(); ++it) {
      const std::string lp = memberPath(path + ".labels", it.key());
      if (!noControls(lp, "label name", it.key())) continue;
      if (!isValidLabelName(it.key())) {
        error(lp, "invalid label name " + quote(it.key()) +
                      ": use letters, digits and '_', not starting with a digit or \"__\"");
      } else if (kReserved.count(it.key())) {
        error(lp, "label name " + quote(it.key()) + " is reserved by reachmon or Prometheus");
      }
      std::string value;
      if (readString(*it, lp, value) && noControls(lp, "label value", value))
        tgt.labels[it.key()] = value;
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
};

}  // namespace

std::string listenAddressError(const std::string& s) {
  auto colon = s.rfind(':');
  std::string host = colon == std::string::npos ? "" : s.substr(0, colon);
  std::string port = colon == std::string::npos ? "" : s.substr(colon + 1);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    auto a = core::parseIpAddress(host.substr(1, host.size() - 2));
    if (!a || a->family != Family::kIpv6) host.clear();
  } else if (auto a = core::parseIpAddress(host); !a || a->family != Family::kIpv4) {
    host.clear();
  }
  if (host.empty())
    return "invalid listen address " + quote(s) +
           ": use \"IPv4:port\" or \"[IPv6]:port\", e.g. \"127.0.0.1:9643\"";
  if (!parsePort(port))
    return "invalid listen address " + quote(s) + ": the port must be 0 to 65535 in " +
           "plain decimal digits, without sign, spaces or leading zeros";
  return "";
}

LoadResult parseConfig(std::string_view text) {
  return validateJsonText<LoadResult>(text, [](const json& root) { return Validator().run(root); });
}

std::optional<std::string> readConfigText(const std::filesystem::path& file, std::string* error,
                                          std::uintmax_t max_bytes) {
  auto fail = [&](std::string why) -> std::optional<std::string> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  try {
    // Only regular files: a FIFO or a device would block the reload (and the stop that waits
    // for it), or never end.
    std::error_code ec;
    const auto status = std::filesystem::status(file, ec);
    if (ec) return fail(ec.message());
    if (std::filesystem::is_directory(status)) return fail("it is a directory");
    if (!std::filesystem::is_regular_file(status))
      return fail("not a regular file (a FIFO, socket or device)");
    const auto size = std::filesystem::file_size(file, ec);
    if (ec) return fail(ec.message());
    const auto too_large = [&](std::uintmax_t n) {
      return fail("the file is " + std::to_string(n) + " bytes, more than the limit of " +
                  std::to_string(max_bytes));
    };
    if (size > max_bytes) return too_large(size);
    std::ifstream in(file, std::ios::binary);
    if (!in) return fail(std::strerror(errno));
    // Read to the end, not just `size` bytes: the file may have grown since (within the limit).
    constexpr std::size_t kPiece = std::size_t{64} * 1024;
    std::string text;
    text.reserve(static_cast<std::size_t>(size) + kPiece);
    while (in) {
      const std::size_t at = text.size();
      text.resize(at + kPiece);
      in.read(text.data() + at, static_cast<std::streamsize>(kPiece));
      text.resize(at + static_cast<std::size_t>(in.gcount()));
      if (text.size() > max_bytes) return too_large(text.size());
    }
    if (in.bad()) return fail(std::strerror(errno));
    return text;
  } catch (const std::exception& e) {  // bad_alloc, filesystem_error: unreadable, not fatal
    return fail(e.what());
  }
}

LoadResult loadConfigFile(const std::filesystem::path& file, std::string* text) {
  std::string why;
  auto bytes = readConfigText(file, &why);
  if (text) *text = bytes.value_or("");
  if (!bytes) {
    LoadResult r;
    r.errors.push_back({"", "cannot read the file: " + why});
    return r;
  }
  LoadResult r = parseConfig(*bytes);
  if (r.ok() && !r.config->web.config_file.empty()) {
    Web& web = r.config->web;
    web.config_path = file.parent_path() / std::filesystem::path(web.config_file);
    WebConfigResult loaded = loadWebConfigFile(web.config_path);
    for (const auto& e : loaded.errors)
      r.errors.push_back({"$.web.config_file", web.config_path.string() + ": " + e.str()});
    if (loaded.config) web.config = std::move(*loaded.config);
    if (!r.ok()) r.config.reset();
  }
  return r;
}

std::vector<ConfigError> platformWarnings(const Config& config, std::string_view platform) {
  std::vector<ConfigError> out;
  if (platform != "windows") return out;
  const std::string why =
      " is ignored on Windows: neither the ICMP helper (IcmpSendEcho2Ex) nor Winsock's UDP "
      "sockets set the TOS byte or traffic class of a probe";
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
