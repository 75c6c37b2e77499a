#include "reachmon/service/path_plan.h"

#include <catch2/catch.hpp>

#include "reachmon/config/loader.h"

using namespace reachmon;

TEST_CASE("PathPlan: every target is probed from every source of its family unless narrowed",
          "[path_plan]") {
  const auto r = config::parseConfig(R"({
    "sources":[{"name":"a","address":"127.0.0.1"},{"name":"b","interface":"lo"},
               {"name":"c","address":"::1"}],
    "targets":[{"name":"t4","host":"127.0.0.2","ttl":9},
               {"name":"t6","host":"::1"},
               {"name":"only-b","host":"127.0.0.3","sources":["b"],"labels":{"z":"1","a":"2"}}]})");
  REQUIRE(r.ok());
  const auto set = service::buildPathSet(*r.config, {});
  REQUIRE(set.paths.size() == 4);
  CHECK(set.paths[0].source == "a");
  CHECK(set.paths[0].target == "t4");
  CHECK(set.paths[0].options.ttl == 9);
  CHECK(set.paths[1].source == "b");
  CHECK(set.paths[2].source == "c");
  CHECK(set.paths[2].target == "t6");
  CHECK(set.paths[3].source == "b");
  CHECK(set.paths[3].labels == core::Labels{{"a", "2"}, {"z", "1"}});
  REQUIRE(set.sources.size() == 3);
  CHECK(set.sources[1].interface_name == "lo");
}

TEST_CASE("PathPlan: the paths keep history for the graphs unless web.graphs is false",
          "[path_plan]") {
  const std::string paths =
      R"("sources":[{"name":"a","address":"127.0.0.1"}],"targets":[{"name":"t","host":"127.0.0.2"}])";
  auto r = config::parseConfig("{" + paths + "}");
  REQUIRE(r.ok());
  CHECK(service::buildPathSet(*r.config, {}).history);
  r = config::parseConfig(R"({"web":{"graphs":false},)" + paths + "}");
  REQUIRE(r.ok());
  CHECK_FALSE(service::buildPathSet(*r.config, {}).history);
  r = config::parseConfig(R"({"web":{"graphs":true},)" + paths + "}");
  REQUIRE(r.ok());
  CHECK(service::buildPathSet(*r.config, {}).history);
}
