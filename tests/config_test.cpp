#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "reachmon/config/duration.h"
#include "reachmon/config/loader.h"

using namespace reachmon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

const fs::path kDir = REACHMON_TEST_CONFIG_DIR;

}  // namespace

TEST_CASE("Config: every invalid file yields exactly its expected errors", "[config]") {
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kDir / "invalid")) {
    if (entry.path().extension() != ".json") continue;
    ++files;
    auto expected_path = entry.path();
    expected_path.replace_extension(".expected");
    const auto result = config::loadConfigFile(entry.path());
    std::string actual;
    for (const auto& e : result.errors) actual += e.str() + "\n";
    INFO("file: " << entry.path().filename().string());
    CHECK_FALSE(result.ok());
    CHECK_FALSE(result.config.has_value());
    CHECK(actual == slurp(expected_path));
  }
  CHECK(files >= 30);
}

TEST_CASE("Config: the product example is valid and defaults apply per target", "[config]") {
  const auto r = config::loadConfigFile(kDir / "valid" / "product_example.json");
  REQUIRE(r.ok());
  const auto& c = *r.config;
  CHECK(c.listen == "127.0.0.1:9643");
  REQUIRE(c.sources.size() == 3);
  CHECK(c.sources[0].interface_name == "Ethernet 2");
  CHECK(c.sources[0].family == core::Family::kIpv4);
  CHECK(c.sources[1].address == core::parseIpAddress("198.51.100.7"));
  CHECK(c.sources[2].family == core::Family::kIpv6);
  REQUIRE(c.targets.size() == 2);
  CHECK(c.targets[0].labels.at("site") == "par");
  CHECK(c.targets[0].probe.interval == 1s);
  CHECK(c.targets[1].probe.interval == 5s);
  CHECK(c.targets[1].probe.timeout == 1s);
  CHECK_FALSE(c.targets[1].literal.has_value());
  CHECK(c.resolve_interval == 5min);
}

TEST_CASE("Config: unspecified values take the documented defaults", "[config]") {
  const auto r = config::parseConfig(
      R"({"sources":[{"name":"a","address":"::1"}],"targets":[{"name":"t","host":"::1"}]})");
  REQUIRE(r.ok());
  const auto& t = r.config->targets[0];
  CHECK(r.config->listen == "127.0.0.1:9643");
  CHECK(t.probe.interval == 1s);
  CHECK(t.probe.timeout == 1s);
  CHECK(t.probe.payload_size == 56);
  CHECK(t.probe.ttl == 64);
  CHECK(t.probe.tos == 0);
  CHECK_FALSE(t.probe.dont_fragment);
  CHECK(t.family == core::Family::kIpv6);
  CHECK(r.config->min_send_gap == 50us);
}

TEST_CASE("Config: a timeout may exceed the interval, up to one minute", "[config]") {
  const auto r = config::parseConfig(
      R"({"defaults":{"interval":"200ms","timeout":"1s"},"sources":[{"name":"a","address":"::1"}],
          "targets":[{"name":"t","host":"::1"},{"name":"u","host":"::1","interval":"10ms","timeout":"1m"}]})");
  REQUIRE(r.ok());
  CHECK(r.config->targets[0].probe.interval == 200ms);
  CHECK(r.config->targets[0].probe.timeout == 1s);
  CHECK(r.config->targets[1].probe.interval == 10ms);
  CHECK(r.config->targets[1].probe.timeout == 1min);
}

TEST_CASE("Config: tos set on Windows is a warning with its path, nothing on Linux", "[config]") {
  const auto r = config::parseConfig(
      R"({"defaults":{"tos":184},"sources":[{"name":"a","address":"::1"}],
          "targets":[{"name":"t","host":"::1"},{"name":"u","host":"::1","tos":32},
                     {"name":"v","host":"::1","tos":0}]})");
  REQUIRE(r.ok());
  CHECK(config::platformWarnings(*r.config, "linux").empty());
  const auto w = config::platformWarnings(*r.config, "windows");
  REQUIRE(w.size() == 2);
  CHECK(w[0].where == "$.defaults.tos");
  CHECK(w[0].message.find("tos 184 is ignored on Windows") == 0);
  CHECK(w[1].where == "$.targets[1].tos");
  const auto plain = config::parseConfig(
      R"({"sources":[{"name":"a","address":"::1"}],"targets":[{"name":"t","host":"::1"}]})");
  CHECK(config::platformWarnings(*plain.config, "windows").empty());
}

TEST_CASE("Duration: units and rejects", "[config]") {
  CHECK(config::parseDuration("250ms") == 250ms);
  CHECK(config::parseDuration("1s") == 1s);
  CHECK(config::parseDuration("2m") == 2min);
  CHECK(config::parseDuration("1h") == 1h);
  CHECK(config::parseDuration("50us") == 50us);
  CHECK(config::parseDuration("1m30s") == 90s);
  CHECK(config::parseDuration("1.5s") == 1500ms);
  for (const char* bad : {"", "s", "1", "1.5", "-1s", " 1s", "1 s", "1d", "ms", "1sec", "1s30m"})
    CHECK_FALSE(config::parseDuration(bad).has_value());
  CHECK(config::formatDuration(1500ms) == "1500ms");
  CHECK(config::formatDuration(120s) == "2m");
}

namespace {

nlohmann::json readJson(const fs::path& p) { return nlohmann::json::parse(slurp(p)); }

// The duration pattern of docs/config.schema.json, as editors run it (an ECMA-262 regex, which
// std::regex's default grammar is).
std::regex schemaDurationPattern() {
  const auto schema = readJson(kDir.parent_path().parent_path() / "docs" / "config.schema.json");
  return std::regex(schema.at("$defs").at("duration").at("pattern").get<std::string>());
}

bool schemaAccepts(const std::regex& pattern, const std::string& text) {
  return std::regex_search(text, pattern);  // JSON Schema's "pattern": a search, anchored by ^ $
}

}  // namespace

TEST_CASE("Duration: the samples parse to their values and fail with their reasons", "[config]") {
  const auto samples = readJson(kDir / "durations.json");
  for (const auto& [text, ns] : samples.at("valid").items()) {
    INFO("valid: \"" << text << "\"");
    const auto r = config::tryParseDuration(text);
    REQUIRE(r.value.has_value());
    CHECK(r.value->count() == ns.get<std::int64_t>());
    CHECK(r.error.empty());
    // What reports and the fuzzer rely on: it prints and parses back unchanged.
    CHECK(config::parseDuration(config::formatDuration(*r.value)) == r.value);
  }
  for (const auto& text : samples.at("finer_than_1us")) {
    const auto t = text.get<std::string>();
    INFO("finer: \"" << t << "\"");
    const auto r = config::tryParseDuration(t);
    CHECK_FALSE(r.value.has_value());
    CHECK_FALSE(r.too_long);
    CHECK(r.error.ends_with(" is finer than 1us, the smallest unit"));
  }
  for (const auto& text : samples.at("too_long")) {
    const auto t = text.get<std::string>();
    INFO("too long: \"" << t << "\"");
    const auto r = config::tryParseDuration(t);
    CHECK_FALSE(r.value.has_value());
    CHECK(r.too_long);
    CHECK(r.error.empty());
  }
  for (const auto& [text, reason] : samples.at("invalid").items()) {
    INFO("invalid: \"" << text << "\"");
    const auto r = config::tryParseDuration(text);
    CHECK_FALSE(r.value.has_value());
    CHECK_FALSE(r.too_long);
    CHECK(r.error == reason.get<std::string>());
  }
  CHECK(samples.at("valid").size() >= 30);
  CHECK(samples.at("invalid").size() >= 40);
}

TEST_CASE("Duration: the schema's pattern accepts exactly the parser's spellings", "[config]") {
  const std::regex pattern = schemaDurationPattern();
  const auto samples = readJson(kDir / "durations.json");
  for (const auto& [text, ns] : samples.at("valid").items()) {
    INFO("valid: \"" << text << "\"");
    CHECK(schemaAccepts(pattern, text));
  }
  // Spelled right: an editor cannot tell; check-config refuses them.
  for (const char* list : {"finer_than_1us", "too_long"}) {
    for (const auto& text : samples.at(list)) {
      INFO(list << ": " << text.dump());
      CHECK(schemaAccepts(pattern, text.get<std::string>()));
    }
  }
  for (const auto& [text, reason] : samples.at("invalid").items()) {
    INFO("invalid: " << nlohmann::json(text).dump());
    CHECK_FALSE(schemaAccepts(pattern, text));
  }
  // Every spelling of up to 3 characters from the grammar's alphabet, and of up to 5 from a
  // smaller one (which reaches every unit order, repeats and fractions): parser and pattern agree
  // wherever the parser does not refuse a value for its size alone.
  const auto agree = [&](const std::string& text) {
    const auto r = config::tryParseDuration(text);
    const bool spelled_right =
        r.value || r.too_long || r.error.ends_with("finer than 1us, the smallest unit");
    INFO("text: " << nlohmann::json(text).dump() << " parser: " << (r.value ? "valid" : r.error));
    CHECK(schemaAccepts(pattern, text) == spelled_right);
  };
  int checked = 0;
  const auto all = [&](const std::string& alphabet, std::size_t max_len) {
    std::vector<std::string> level{""};
    for (std::size_t len = 1; len <= max_len; ++len) {
      std::vector<std::string> next;
      for (const auto& prefix : level) {
        for (const char c : alphabet) {
          next.push_back(prefix + c);
          agree(next.back());
          ++checked;
        }
      }
      level = std::move(next);
    }
  };
  all("0159.hmsu -+x", 3);
  all("05.hms", 5);
  CHECK(checked > 10000);
}

TEST_CASE("Duration: every duration key of the schema uses its duration pattern", "[config]") {
  const auto schema = readJson(kDir.parent_path().parent_path() / "docs" / "config.schema.json");
  const std::string ref = "#/$defs/duration";
  const auto& props = schema.at("properties");
  CHECK(props.at("min_send_gap").at("$ref") == ref);
  for (const char* key : {"interval", "timeout", "resolve_interval"})
    CHECK(props.at("defaults").at("properties").at(key).at("$ref") == ref);
  for (const char* key : {"interval", "timeout"})
    CHECK(props.at("targets").at("items").at("properties").at(key).at("$ref") == ref);
  CHECK(schema.at("$defs").at("buckets").at("items").at("oneOf").at(0).at("$ref") == ref);
  // "$schema" is a top-level string for editors; allowComments is VS Code's keyword.
  CHECK(props.at("$schema").at("type") == "string");
  CHECK(schema.at("allowComments") == true);
}

// --- hostile input (issue 10) -------------------------------------------------------------------

namespace {

// A valid config around `target` (the members of one target, after its name) and `top` (extra
// top-level members, each followed by a comma).
std::string configWith(const std::string& target, const std::string& top = "") {
  return "{" + top +
         R"("sources":[{"name":"a","address":"127.0.0.1"},{"name":"b","address":"::1"}],)"
         R"("targets":[{"name":"t",)" +
         target + "}]}";
}

// Every error, one per line: where the tests compare whole texts.
std::string errorText(const config::LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) out += e.str() + "\n";
  return out;
}

// C0 controls, DEL, and C1 controls as UTF-8 (C2 80 to C2 9F).
bool hasRawControl(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == 0xc2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9f &&
        static_cast<unsigned char>(s[i + 1]) >= 0x80)
      return true;
  }
  return false;
}

// The JSON escape of one code point below U+0100, as the config file and the messages spell it.
std::string jsonEscape(unsigned code) {
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("\\u00") + kHex[code >> 4] + kHex[code & 0xf];
}

// One parse that must fail with exactly one error, at `where`, whose message contains `what`.
void checkOneError(const std::string& text, const std::string& where, const std::string& what) {
  config::LoadResult r;
  REQUIRE_NOTHROW(r = config::parseConfig(text));
  INFO("config: " << text << "\nerrors:\n" << errorText(r));
  CHECK_FALSE(r.config.has_value());
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].where == where);
  CHECK(r.errors[0].message.find(what) != std::string::npos);
}

}  // namespace

TEST_CASE("Config: a number beyond a double's range is an error at its path, not an exception",
          "[config]") {
  // nlohmann throws out_of_range (not parse_error) for these: once a crash of check-config and
  // of the running service on reload.
  checkOneError(
      R"({"defaults": {"ttl": 1e999}})", "$.defaults.ttl",
      "number 1e999 at line 1, column 22 is out of range (its magnitude exceeds 1.7e308)");
  checkOneError(configWith(R"("host":"127.0.0.1","ttl":-1E+400)"), "$.targets[0].ttl",
                "number -1E+400 at line 1, column");
  checkOneError(R"({"colour": 1e999, "sources": []})", "$.colour", "number 1e999 at line 1");
  checkOneError(R"({"x": [1, [2, 3], 4.5e308]})", "$.x[2]", "number 4.5e308 at line 1, column 19");
  checkOneError(R"({"x": [{"y": [0, 1e999]}]})", "$.x[0].y[1]", "is out of range");
  checkOneError(R"({"odd key": 1e999})", R"($["odd key"])", "is out of range");
  checkOneError("1e999", "$", "number 1e999 at line 1, column 1 is out of range");
  checkOneError("{\n  \"defaults\": {\n    \"ttl\":\n      1e999}}", "$.defaults.ttl",
                "number 1e999 at line 4, column 7 is out of range");
  // The same through the file loader, as check-config and every reload call it.
  const auto r = config::loadConfigFile(kDir / "invalid" / "number_overflow.json");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].str() ==
        "$.defaults.ttl: number 1e999 at line 1, column 22 is out of range (its magnitude "
        "exceeds 1.7e308)");
}

TEST_CASE("Config: integers beyond 64 bits are out of range, never wrapped", "[config]") {
  // 2^64-1 is an unsigned integer to nlohmann; read as int64 it used to wrap to -1.
  checkOneError(configWith(R"("host":"127.0.0.1","ttl":18446744073709551615)"), "$.targets[0].ttl",
                "18446744073709551615 is out of range (1 to 255)");
  checkOneError(configWith(R"("host":"127.0.0.1","payload_size":9223372036854775808)"),
                "$.targets[0].payload_size", "9223372036854775808 is out of range (16 to 65000)");
  checkOneError(configWith(R"("host":"127.0.0.1","tos":-9223372036854775808)"), "$.targets[0].tos",
                "-9223372036854775808 is out of range (0 to 255)");
  checkOneError(configWith(R"("host":"127.0.0.1","ttl":99999999999999999999999)"),
                "$.targets[0].ttl", "expected an integer, found number");
  checkOneError(configWith(R"("host":"127.0.0.1","ttl":1e300)"), "$.targets[0].ttl",
                "expected an integer, found number");
}

TEST_CASE("Config: no input makes parsing throw", "[config]") {
  const std::string deep_arrays =
      R"({"x":)" + std::string(20000, '[') + std::string(20000, ']') + "}";
  std::string deep_objects = "{";
  for (int i = 0; i < 20000; ++i) deep_objects += R"("a":{)";
  deep_objects += std::string(20000, '}') + "}";
  const std::string raw_nul("{\"x\": \"a\0b\"}", 12);
  for (const std::string& text :
       {std::string(), std::string("\xef\xbb\xbf{}"), std::string("{\"x\": \"\xff\"}"),
        std::string(R"({"x": "\ud800"})"), std::string(R"({"x": 1e999, "y": 1e999})"),
        std::string(R"({"x": 1e-999})"), std::string("{\"x\":"), raw_nul, deep_arrays, deep_objects,
        std::string(R"({"sources": [1e999]})"), std::string("[1e999]"),
        std::string(R"({"defaults": {"ttl": "64"}, "targets": {"name": 1}})")}) {
    INFO("config: " << text.substr(0, 80));
    config::LoadResult r;
    REQUIRE_NOTHROW(r = config::parseConfig(text));
    CHECK_FALSE(r.ok());
    CHECK_FALSE(r.config.has_value());
    for (const auto& e : r.errors) CHECK_FALSE(hasRawControl(e.str()));
  }
}

TEST_CASE("Config: control characters in addresses, hosts and interfaces are refused", "[config]") {
  // inet_pton and getaddrinfo stop at a NUL: "127.0.0.1\0evil" used to be read as 127.0.0.1.
  checkOneError(configWith(R"("host":"127.0.0.1\u0000evil")"), "$.targets[0].host",
                R"(invalid host "127.0.0.1\u0000evil": control character \u0000 is not allowed)");
  checkOneError(configWith(R"("host":"example.org\n")"), "$.targets[0].host",
                R"(invalid host "example.org\u000a": control character \u000a is not allowed)");
  checkOneError(configWith(R"("host":"fe80::1%lo\u0000x")"), "$.targets[0].host",
                R"(control character \u0000 is not allowed)");
  checkOneError(
      R"({"sources":[{"name":"a","address":"127.0.0.1\u0000evil"}],"targets":[{"name":"t","host":"::1"}]})",
      "$.sources[0].address",
      R"(invalid IP address "127.0.0.1\u0000evil": control character \u0000 is not allowed)");
  checkOneError(configWith(R"("host":"127.0.0.1")", R"("listen":"127.0.0.1\u0000:9643",)"),
                "$.listen",
                R"(invalid listen address "127.0.0.1\u0000:9643": control character \u0000)");
  const auto r = config::loadConfigFile(kDir / "invalid" / "control_in_addresses.json");
  CHECK(errorText(r) == slurp(kDir / "invalid" / "control_in_addresses.expected"));
  for (const char* ifc : {R"(eth0\u0000)", R"(eth0\u001b[2J)", R"(Ethernet\u00852)"}) {
    const std::string text = R"({"sources":[{"name":"a","interface":")" + std::string(ifc) +
                             R"("}],"targets":[{"name":"t","host":"127.0.0.1"}]})";
    checkOneError(text, "$.sources[0].interface", "invalid interface name \"");
  }
  // Spaces stay allowed: Windows aliases such as "Ethernet 2".
  CHECK(
      config::parseConfig(
          R"({"sources":[{"name":"a","interface":"Ethernet 2"}],"targets":[{"name":"t","host":"127.0.0.1"}]})")
          .ok());
}

TEST_CASE("Config: durations and listen ports take no sign or leading junk", "[config]") {
  for (const char* bad : {"-0s", "+1s", "-0ms", "-5m", "+0us"}) {
    INFO(bad);
    CHECK_FALSE(config::parseDuration(bad).has_value());
  }
  CHECK(config::parseDuration("0s") == 0s);
  checkOneError(configWith(R"("host":"127.0.0.1","interval":"-0s")"), "$.targets[0].interval",
                R"(invalid duration "-0s": no sign allowed; use numbers with units h, m, s, ms)"
                R"( or us, largest first, e.g. "250ms", "1.5s" or "1m30s")");
  checkOneError(configWith(R"("host":"127.0.0.1")", R"("min_send_gap":"+1ms",)"), "$.min_send_gap",
                R"(invalid duration "+1ms": no sign allowed)");
  // "-0" once bound a random port, as port 0 does.
  for (const char* port : {"-0", "+80", " 80", "80 ", "080", "00", "0x50", "65536", "99999999999",
                           "", "9643s", "1e3"}) {
    const std::string listen = std::string("127.0.0.1:") + port;
    checkOneError(configWith(R"("host":"127.0.0.1")", R"("listen":")" + listen + R"(",)"),
                  "$.listen",
                  "invalid listen address \"" + listen +
                      "\": the port must be 0 to 65535 in plain decimal digits, without sign, "
                      "spaces or leading zeros");
  }
  // Documented: port 0 picks a free port.
  for (const char* listen : {"127.0.0.1:0", "127.0.0.1:65535", "[::1]:0", "0.0.0.0:9643"}) {
    INFO(listen);
    const auto r = config::parseConfig(
        configWith(R"("host":"127.0.0.1")", R"("listen":")" + std::string(listen) + R"(",)"));
    REQUIRE(r.ok());
    CHECK(r.config->listen == listen);
  }
}

TEST_CASE("Config: unspecified, multicast and broadcast targets are refused, saying why",
          "[config]") {
  const std::pair<const char*, const char*> cases[] = {
      {"0.0.0.0", "the unspecified address (0.0.0.0)"},
      {"0.1.2.3", "a \"this network\" address (0.0.0.0/8)"},
      {"::", "the unspecified address (::)"},
      {"224.0.0.1", "a multicast address (224.0.0.0/4)"},
      {"239.255.255.250", "a multicast address (224.0.0.0/4)"},
      {"ff02::1", "a multicast address (ff00::/8)"},
      {"ff0e::1", "a multicast address (ff00::/8)"},
      {"255.255.255.255", "the broadcast address (255.255.255.255)"},
      {"::ffff:224.0.0.1", "a multicast address (224.0.0.0/4) in IPv4-mapped form"},
      {"::ffff:0.0.0.0", "the unspecified address (0.0.0.0) in IPv4-mapped form"},
  };
  for (const auto& [host, why] : cases) {
    checkOneError(configWith(R"("host":")" + std::string(host) + "\""), "$.targets[0].host",
                  "invalid target \"" + std::string(host) + "\": " + why +
                      " cannot be probed; use a unicast address");
  }
  // Neighbours of each refused range stay valid.
  for (const char* host : {"1.0.0.0", "223.255.255.255", "240.0.0.1", "255.255.255.254", "::1",
                           "fe80::1%1", "::ffff:127.0.0.1", "fe00::1"}) {
    INFO(host);
    CHECK(config::parseConfig(configWith(R"("host":")" + std::string(host) + "\"")).ok());
  }
  const auto r = config::loadConfigFile(kDir / "invalid" / "unusable_targets.json");
  CHECK(r.errors.size() == 8);
  CHECK(r.errors[0].str() ==
        "$.targets[0].host: invalid target \"0.0.0.0\": the unspecified address (0.0.0.0) "
        "cannot be probed; use a unicast address");
  // The same addresses cannot be a host's own source address either.
  checkOneError(
      R"({"sources":[{"name":"a","address":"224.0.0.1"},{"name":"b","address":"127.0.0.1"}],"targets":[{"name":"t","host":"127.0.0.1","sources":["b"]}]})",
      "$.sources[0].address",
      "invalid source address \"224.0.0.1\": a multicast address (224.0.0.0/4) cannot send "
      "probes; use a unicast address of this host");
}

TEST_CASE("Config: control characters in names and labels are refused and shown escaped",
          "[config]") {
  std::vector<unsigned> codes;
  for (unsigned c = 0; c < 0x20; ++c) codes.push_back(c);
  codes.push_back(0x7f);
  for (unsigned c = 0x80; c < 0xa0; ++c) codes.push_back(c);
  for (unsigned code : codes) {
    const std::string esc = jsonEscape(code);
    INFO("character " << esc);
    std::string value_error = R"(invalid label value "par)" + esc;
    value_error += R"(": control character )" + esc + " is not allowed";
    checkOneError(configWith(R"("host":"127.0.0.1","labels":{"site":"par)" + esc + R"("})"),
                  "$.targets[0].labels.site", value_error);
    std::string name_error = R"(invalid name "t)" + esc;
    name_error +=
        R"(x": control character )" + esc + " is not allowed; use 1 to 64 letters, digits";
    const auto r = config::parseConfig(
        R"({"sources":[{"name":"a","address":"127.0.0.1"}],"targets":[{"name":"t)" + esc +
        R"(x","host":"127.0.0.1"}]})");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == "$.targets[0].name");
    CHECK(r.errors[0].message.find(name_error) == 0);
    CHECK_FALSE(hasRawControl(r.errors[0].str()));
  }
  const auto r = config::loadConfigFile(kDir / "invalid" / "control_in_names.json");
  CHECK(errorText(r) == slurp(kDir / "invalid" / "control_in_names.expected"));
  CHECK(r.errors.at(0).str() ==
        "$.sources[0].name: invalid name \"isp\\u0085a\": control character \\u0085 is not "
        "allowed; use 1 to 64 letters, digits, '-', '_' or '.'");
}

TEST_CASE("Config: no error message echoes a raw control character from the input", "[config]") {
  // Control characters in every place whose text an error quotes: keys (unknown, duplicate,
  // label names), durations, families, source references, hosts, names.
  const std::string c = R"(\u001b[2J\u0000\u0007\u007f\u0085\u009b)";
  const std::string text = R"({"k)" + c + R"(":1, "k)" + c + R"(":2, "min_send_gap":")" + c +
                           R"(",)" + R"("defaults":{"interval":"1)" + c + R"(s","x)" + c +
                           R"(":true},)" + R"("sources":[{"name":")" + c + R"(","address":")" + c +
                           R"(","family":")" + c + R"("}, {"name":"i","interface":")" + c +
                           R"("}],)" + R"("targets":[{"name":"t)" + c + R"(","host":")" + c +
                           R"(","sources":[")" + c + R"("],"labels":{")" + c + R"(":")" + c +
                           R"(","ok":")" + c + R"("}}]})";
  config::LoadResult r;
  REQUIRE_NOTHROW(r = config::parseConfig(text));
  INFO(errorText(r));
  CHECK(r.errors.size() >= 12);
  for (const auto& e : r.errors) CHECK_FALSE(hasRawControl(e.str()));
  CHECK(errorText(r).find(R"(\u001b[2J\u0000\u0007\u007f\u0085\u009b)") != std::string::npos);
  const auto keys = config::loadConfigFile(kDir / "invalid" / "control_in_keys.json");
  CHECK(errorText(keys) == slurp(kDir / "invalid" / "control_in_keys.expected"));
}

TEST_CASE("Config: UDP probes take their port from the target, the defaults or 33434", "[config]") {
  const auto r = config::parseConfig(R"({
    "sources": [{"name": "a", "address": "127.0.0.1"}],
    "defaults": {"port": 7},
    "targets": [
      {"name": "echo", "host": "127.0.0.1", "probe": "udp"},
      {"name": "closed", "host": "127.0.0.1", "probe": "udp", "port": 33500},
      {"name": "ping", "host": "127.0.0.1"}]})");
  INFO(errorText(r));
  REQUIRE(r.config);
  const auto& t = r.config->targets;
  CHECK(t[0].probe.probe == core::ProbeKind::kUdp);
  CHECK(t[0].probe.port == 7);
  CHECK(t[1].probe.port == 33500);
  CHECK(t[2].probe.probe == core::ProbeKind::kIcmp);

  const auto d = config::parseConfig(R"({
    "sources": [{"name": "a", "address": "127.0.0.1"}],
    "defaults": {"probe": "udp"},
    "targets": [{"name": "t", "host": "127.0.0.1"}]})");
  REQUIRE(d.config);
  CHECK(d.config->targets[0].probe.probe == core::ProbeKind::kUdp);
  CHECK(d.config->targets[0].probe.port == 33434);
}

TEST_CASE("Config: buckets are durations or seconds and a target's replace the defaults",
          "[config]") {
  const auto r = config::parseConfig(R"({
    "sources": [{"name": "a", "address": "127.0.0.1"}],
    "defaults": {"buckets": ["500us", 0.001, "25ms", 0.1, "1s", 60]},
    "targets": [{"name": "t", "host": "127.0.0.1"},
                {"name": "u", "host": "127.0.0.2", "buckets": [0.0025, "2500ms"]}]})");
  INFO(errorText(r));
  REQUIRE(r.config);
  const auto& t = r.config->targets;
  const std::vector<double> expected = {0.0005, 0.001, 0.025, 0.1, 1, 60};
  CHECK(std::vector<double>(r.config->defaults.buckets.bounds().begin(),
                            r.config->defaults.buckets.bounds().end()) == expected);
  CHECK(t[0].probe.buckets == r.config->defaults.buckets);
  // One vector for the defaults and every target that inherits them.
  CHECK(t[0].probe.buckets.bounds().data() == r.config->defaults.buckets.bounds().data());
  CHECK(std::vector<double>(t[1].probe.buckets.bounds().begin(),
                            t[1].probe.buckets.bounds().end()) == std::vector<double>{0.0025, 2.5});

  // Without buckets: the documented default, 10 bounds from 0.5 ms to 2 s.
  const auto d = config::parseConfig(
      R"({"sources": [{"name": "a", "address": "127.0.0.1"}],
          "targets": [{"name": "t", "host": "127.0.0.1"}]})");
  REQUIRE(d.config);
  const auto bounds = d.config->targets[0].probe.buckets.bounds();
  CHECK(std::vector<double>(bounds.begin(), bounds.end()) ==
        std::vector<double>(core::kDefaultRttBuckets.begin(), core::kDefaultRttBuckets.end()));
  CHECK(bounds.size() == 10);
  CHECK(bounds.front() == 0.0005);
  CHECK(bounds.back() == 2);
}

TEST_CASE("Config: bad buckets are errors at the bound's path saying what is wrong", "[config]") {
  const auto bucket_error = [](const std::string& buckets, const std::string& where,
                               const std::string& what) {
    checkOneError(configWith(R"("host":"127.0.0.1","buckets":)" + buckets), where, what);
  };
  bucket_error("[]", "$.targets[0].buckets",
               "empty: list at least one bound, or omit buckets for the default ones");
  bucket_error("0.01", "$.targets[0].buckets",
               "expected an array of durations or numbers of seconds, found number");
  bucket_error(R"(["1ms", "5ms", "5ms"])", "$.targets[0].buckets[2]",
               "bound 5ms is listed twice: each bound may appear once");
  bucket_error(R"(["1ms", 0.005, 0.005])", "$.targets[0].buckets[2]", "bound 5ms is listed twice");
  bucket_error(R"(["1ms", "10ms", "5ms"])", "$.targets[0].buckets[2]",
               "bound 5ms is below the bound before it (10ms): list bounds in ascending order");
  bucket_error(R"([0.1, 0.01])", "$.targets[0].buckets[1]", "bound 10ms is below the bound before");
  bucket_error(R"([0, 1])", "$.targets[0].buckets[0]", "bound 0 must be above 0");
  bucket_error(R"([-0.5, 1])", "$.targets[0].buckets[0]", "bound -0.5 must be above 0");
  bucket_error(R"(["0ms", "1s"])", "$.targets[0].buckets[0]", R"(bound "0ms" must be above 0)");
  bucket_error(R"(["-1ms"])", "$.targets[0].buckets[0]", R"(invalid duration "-1ms")");
  bucket_error(R"(["1ms", "2.5us"])", "$.targets[0].buckets[1]",
               R"(invalid duration "2.5us": "2.5us" is finer than 1us, the smallest unit; use )"
               R"(numbers with units h, m, s, ms or us, largest first, e.g. "250ms", "1.5s" or )"
               R"("1m30s", or a number of seconds)");
  bucket_error(R"(["1ms", "5ms1s"])", "$.targets[0].buckets[1]",
               R"(invalid duration "5ms1s": unit "s" after "ms")");
  bucket_error(R"(["1ms", "99999999999999h"])", "$.targets[0].buckets[1]",
               R"(bound "99999999999999h" is out of range (1us to 1m))");
  bucket_error(R"(["0"])", "$.targets[0].buckets[0]", R"(bound "0" must be above 0)");
  bucket_error(R"(["1ms", "2m"])", "$.targets[0].buckets[1]",
               R"(bound "2m" is out of range (1us to 1m))");
  bucket_error(R"([0.0000001])", "$.targets[0].buckets[0]",
               "bound 1e-07 (seconds) is out of range (1us to 1m)");
  bucket_error(R"([61])", "$.targets[0].buckets[0]", "bound 61 (seconds) is out of range");
  bucket_error(R"(["1ms", true])", "$.targets[0].buckets[1]",
               R"(expected a duration such as "250ms" or a number of seconds, found boolean)");
  std::string many = "[";
  for (int i = 1; i <= 25; ++i) many += (i > 1 ? ",\"" : "\"") + std::to_string(i) + "0ms\"";
  bucket_error(many + "]", "$.targets[0].buckets",
               "25 bounds, more than the 24 a histogram may have");
  // 24 is fine.
  std::string most = "[";
  for (int i = 1; i <= 24; ++i) most += (i > 1 ? ",\"" : "\"") + std::to_string(i) + "0ms\"";
  CHECK(config::parseConfig(configWith(R"("host":"127.0.0.1","buckets":)" + most + "]")).ok());
  // In defaults too, with its own path.
  const auto r = config::parseConfig(R"({"sources": [{"name": "a", "address": "127.0.0.1"}],
      "defaults": {"buckets": ["5ms", "1ms"]}, "targets": [{"name": "t", "host": "127.0.0.1"}]})");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].str() ==
        "$.defaults.buckets[1]: bound 1ms is below the bound before it (5ms): list bounds in "
        "ascending order");
}

TEST_CASE("Config: every valid file loads without an error", "[config]") {
  int files = 0;
  // The test files, and the examples shipped in the packages (config/examples).
  for (const fs::path& dir :
       {kDir / "valid", kDir.parent_path().parent_path() / "config" / "examples"}) {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.path().extension() != ".json") continue;
      ++files;
      const auto r = config::loadConfigFile(entry.path());
      INFO("file: " << entry.path().string() << "\n" << errorText(r));
      CHECK(r.ok());
    }
  }
  CHECK(files >= 8);
}

// --- config for humans (issue 13): comments, "$schema", Prometheus-style durations -------------

TEST_CASE("Config: durations in Prometheus style in every duration key", "[config]") {
  const auto r = config::parseConfig(R"({
    "min_send_gap": "0",
    "defaults": {"interval": "1.5s", "timeout": "1s500ms", "resolve_interval": "1h30m",
                 "buckets": ["0.5ms", "2.5ms", "1s500ms"]},
    "sources": [{"name": "a", "address": "127.0.0.1"}],
    "targets": [{"name": "t", "host": "127.0.0.1", "interval": "1m30s", "timeout": "0.25s"}]})");
  INFO(errorText(r));
  REQUIRE(r.config);
  CHECK(r.config->min_send_gap == 0s);
  CHECK(r.config->defaults.interval == 1500ms);
  CHECK(r.config->defaults.timeout == 1500ms);
  CHECK(r.config->resolve_interval == 90min);
  const auto bounds = r.config->defaults.buckets.bounds();
  CHECK(std::vector<double>(bounds.begin(), bounds.end()) ==
        std::vector<double>{0.0005, 0.0025, 1.5});
  CHECK(r.config->targets[0].probe.interval == 90s);
  CHECK(r.config->targets[0].probe.timeout == 250ms);

  // Every mistake with its path; a value too long for any key is out of its range.
  const auto bad = config::parseConfig(R"({
    "min_send_gap": "1.5us",
    "defaults": {"interval": "1s30m", "resolve_interval": "99999999999999999999h"},
    "sources": [{"name": "a", "address": "127.0.0.1"}],
    "targets": [{"name": "t", "host": "127.0.0.1", "interval": "1m 30s", "timeout": "1d"}]})");
  const std::string advice =
      R"(; use numbers with units h, m, s, ms or us, largest first, e.g. "250ms", "1.5s" or )"
      R"("1m30s")";
  CHECK(
      errorText(bad) ==
      R"($.min_send_gap: invalid duration "1.5us": "1.5us" is finer than 1us, the smallest unit)" +
          advice + "\n" + R"($.defaults.interval: invalid duration "1s30m": unit "m" after "s")" +
          advice + "\n" +
          R"($.defaults.resolve_interval: duration "99999999999999999999h" is out of range (1s )"
          R"(to 24h))"
          "\n" +
          R"($.targets[0].interval: invalid duration "1m 30s": no white space allowed)" + advice +
          "\n" + R"($.targets[0].timeout: invalid duration "1d": unknown unit "d")" + advice +
          "\n");
  // A fraction that comes to more than the range is out of range, not rounded into it.
  checkOneError(configWith(R"("host":"127.0.0.1","interval":"1.0000001h")"),
                "$.targets[0].interval", R"(duration "1.0000001h" is out of range (10ms to 1h))");
  checkOneError(configWith(R"("host":"127.0.0.1","timeout":"9.999ms")"), "$.targets[0].timeout",
                R"(duration "9.999ms" is out of range (10ms to 1m))");
}

TEST_CASE("Config: the schema key for editors is a string at the top level only", "[config]") {
  for (const char* url :
       {"file:///usr/share/reachmon/config.schema.json", "../docs/config.schema.json", ""}) {
    const auto r = config::parseConfig(
        configWith(R"("host":"127.0.0.1")", R"("$schema":")" + std::string(url) + "\","));
    INFO(url << "\n" << errorText(r));
    CHECK(r.ok());
  }
  checkOneError(configWith(R"("host":"127.0.0.1")", R"("$schema":5,)"), R"($["$schema"])",
                "expected a string (the URL or path of config.schema.json), found integer");
  checkOneError(configWith(R"("host":"127.0.0.1")", R"("defaults":{"$schema":"x"},)"),
                R"($.defaults["$schema"])", "unknown key (allowed here: probe, port,");
  checkOneError(configWith(R"("host":"127.0.0.1","$schema":"x")"), R"($.targets[0]["$schema"])",
                "unknown key (allowed here: name, host,");
  // Any other key is still unknown, whatever it looks like.
  checkOneError(configWith(R"("host":"127.0.0.1")", R"("$id":"x",)"), R"($["$id"])",
                "unknown key (allowed here: $schema, listen, web, defaults, min_send_gap, "
                "sources, targets)");
  checkOneError(configWith(R"("host":"127.0.0.1")", R"("$schema":"a","$schema":"b",)"),
                R"($["$schema"])", "duplicate key: remove all but one");
}

namespace {

// `text` with every comment's characters replaced by spaces, its line breaks kept: the same
// document at the same line and column. Naive (no '/' may appear in the strings of `text`).
std::string blankComments(const std::string& text) {
  std::string out = text;
  for (std::size_t i = 0; i + 1 < out.size(); ++i) {
    if (out[i] == '/' && out[i + 1] == '/') {
      for (; i < out.size() && out[i] != '\n'; ++i) out[i] = ' ';
    } else if (out[i] == '/' && out[i + 1] == '*') {
      const std::size_t end = out.find("*/", i + 2);
      REQUIRE(end != std::string::npos);
      for (; i < end + 2; ++i) out[i] = out[i] == '\n' ? '\n' : ' ';
    }
  }
  return out;
}

}  // namespace

TEST_CASE("Config: comments are white space and keep every error in its place", "[config]") {
  const std::string commented = R"(// reachmon, commented
{
  /* where probes leave from */ "sources": [ // one
    {"name": "a", "address": "127.0.0.1"} /* , {"name": "b"} */
  ],
  "targets" /* before the colon */ : [
    {"name": "t", "host": "127.0.0.1", "interval": /* before a value */ "1m30s", "labels":
      {"note": "a // in a string is text, and so is /* this */"}}
  ] // after the last value
} /* after the document */ // and at the very end, with no line break)";
  const auto r = config::parseConfig(commented);
  INFO(errorText(r));
  REQUIRE(r.config);
  CHECK(r.config->sources.size() == 1);
  CHECK(r.config->targets[0].probe.interval == 90s);
  CHECK(r.config->targets[0].labels.at("note") == "a // in a string is text, and so is /* this */");

  // Syntax errors, numbers out of range, repeated keys and path errors: reported at the same
  // line, column and path as in the same file with spaces where the comments are.
  for (const std::string& text : {
           std::string("// first line\n{\"sources\": [ /* a\n b */ }"),
           std::string("{\"sources\": [],\n /* x */ \"targets\": [],, // y\n}"),
           std::string("/* a */ /* b */\n\n   {\"defaults\": {\"ttl\": /* big */ 1e999}}"),
           std::string("{\"listen\": \"x\", // one\n /* two */ \"listen\": \"y\"}"),
           std::string(
               "{\n// c\n\"targets\": [{/* c */\"name\": \"t\", \"interval\": \"1s30m\"}]}"),
           std::string("{\"a\": 1} /* trailing */ x"),
           std::string("/**/{/**/}/**/"),
       }) {
    const std::string blank = blankComments(text);
    INFO("text:\n" << text << "\nblanked:\n" << blank);
    REQUIRE(blank.find('/') == std::string::npos);
    const auto with = config::parseConfig(text);
    const auto without = config::parseConfig(blank);
    CHECK_FALSE(with.ok());
    REQUIRE(with.errors.size() == without.errors.size());
    for (std::size_t i = 0; i < with.errors.size(); ++i) {
      CHECK(with.errors[i].where == without.errors[i].where);
      // What the parser "last read" quotes the comment, or the spaces, as they are.
      const auto upToQuote = [](const std::string& m) {
        return m.substr(0, m.find("; last read"));
      };
      CHECK(upToQuote(with.errors[i].message) == upToQuote(without.errors[i].message));
    }
  }
  // The places themselves, for two of them.
  CHECK(errorText(config::parseConfig("// first line\n{\"sources\": [ /* a\n b */ }")) ==
        "line 3, column 7: invalid JSON: syntax error while parsing value - unexpected '}'; "
        "expected '[', '{', or a literal\n");
  CHECK(errorText(config::parseConfig(
            "/* a */ /* b */\n\n   {\"defaults\": {\"ttl\": /* big */ 1e999}}")) ==
        "$.defaults.ttl: number 1e999 at line 3, column 35 is out of range (its magnitude "
        "exceeds 1.7e308)\n");
}

TEST_CASE("Config: a file of comments only, or a comment left open, is a clear error", "[config]") {
  const std::string no_value =
      "no JSON value: the file is empty or holds only comments and white space\n";
  for (const char* text : {"", "  \n", "// nothing yet\n", "/* nothing */", "\xef\xbb\xbf// x",
                           "// a\n/* b\n c */\n// d"}) {
    INFO(config::parseConfig(text).errors.size());
    CHECK(errorText(config::parseConfig(text)) == no_value);
  }
  const std::string open =
      "invalid JSON: unterminated comment: this /* has no closing */ (a // comment ends at the "
      "end of its line)\n";
  // Placed at its "/*", however long the rest of the file; the message never holds the rest.
  CHECK(errorText(config::parseConfig("/* draft")) == "line 1, column 1: " + open);
  CHECK(errorText(config::parseConfig("{\"sources\": [], /* \"a/*b\": " +
                                      std::string(100000, 'x'))) == "line 1, column 17: " + open);
  CHECK(errorText(
            config::parseConfig("{\"listen\": \"/*\",\n  /* the targets\n  \"targets\": []}")) ==
        "line 2, column 3: " + open);
  // A '/' that starts no comment.
  CHECK(errorText(config::parseConfig("{\"sources\": [] / }")) ==
        "line 1, column 17: invalid JSON: syntax error while parsing object - invalid comment; "
        "expecting '/' or '*' after '/'; last read: '\"sources\": [] / '; expected '}'\n");
  // What the parser last read is cut to its end: a long run of white space or comment before a
  // mistake does not fill the message.
  const auto long_gap = config::parseConfig("{\"a\": 1, /* " + std::string(5000, 'c') + " */ x}");
  REQUIRE(long_gap.errors.size() == 1);
  CHECK(long_gap.errors[0].str().size() < 250);
  CHECK(long_gap.errors[0].message.find("; last read: '...ccc") != std::string::npos);
  CHECK(long_gap.errors[0].message.ends_with("ccc */ x'; expected string literal"));
}
