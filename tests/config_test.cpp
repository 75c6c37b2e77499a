#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

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
  for (const char* bad : {"", "s", "1", "1.5s", "-1s", " 1s", "1 s", "1d", "ms", "1sec"})
    CHECK_FALSE(config::parseDuration(bad).has_value());
  CHECK(config::formatDuration(1500ms) == "1500ms");
  CHECK(config::formatDuration(120s) == "2m");
}
