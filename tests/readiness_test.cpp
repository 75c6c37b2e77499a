// What /-/ready decides from the running config, the resolver's names and the snapshot scrapes
// read: ready at once without DNS names, not before every name's first lookup has ended, nor
// before its outcome is in the snapshot; and once ready, ready for good.
#include "readiness.h"

#include <catch2/catch.hpp>

using namespace reachmon;
using service::startupDone;
using service::TargetResolver;

namespace {

config::Target target(const std::string& name, const std::string& host,
                      core::Family family = core::Family::kIpv4) {
  config::Target t;
  t.name = name;
  t.host = host;
  t.literal = core::parseIpAddress(host);
  t.family = family;
  return t;
}

// A snapshot with one path per target name, to `address` (nullopt: unresolved).
void addPath(core::Snapshot& snap, const std::string& target, const std::string& host,
             std::optional<core::IpAddress> address) {
  core::PathSpec spec;
  spec.source = "lo";
  spec.target = target;
  spec.host = host;
  spec.target_address = address;
  snap.paths.push_back(
      {std::make_shared<core::PathSpec>(spec), std::make_shared<core::PathStats>()});
}

TargetResolver::NameState lookedUp(std::optional<core::IpAddress> address,
                                   std::size_t lookups = 1) {
  TargetResolver::NameState s;
  s.address = address;
  s.lookups = lookups;
  s.last_error = address ? "" : "Name or service not known";
  return s;
}

const core::IpAddress kResolved = *core::parseIpAddress("192.0.2.7");

}  // namespace

TEST_CASE("Readiness: a config of IP literals is ready at once", "[ready]") {
  config::Config cfg;
  cfg.targets = {target("a", "127.0.0.1"), target("b", "::1", core::Family::kIpv6)};
  core::Snapshot snap;
  addPath(snap, "a", "127.0.0.1", core::parseIpAddress("127.0.0.1"));
  CHECK(startupDone(cfg, {}, snap) == std::make_pair(true, std::string("ready")));
}

TEST_CASE("Readiness: not ready until every name's first lookup has ended", "[ready]") {
  config::Config cfg;
  cfg.targets = {target("a", "127.0.0.1"), target("w", "www.example"), target("m", "mail.example")};
  core::Snapshot snap;
  addPath(snap, "a", "127.0.0.1", core::parseIpAddress("127.0.0.1"));
  addPath(snap, "w", "www.example", std::nullopt);
  addPath(snap, "m", "mail.example", std::nullopt);
  std::map<TargetResolver::Key, TargetResolver::NameState> names;
  names[{"www.example", core::Family::kIpv4}] = {};  // first lookup under way
  names[{"mail.example", core::Family::kIpv4}] = {};
  auto [ok, why] = startupDone(cfg, names, snap);
  CHECK_FALSE(ok);
  CHECK(why == "not ready: the first lookup of 2 of 2 target names is under way");

  // A failed lookup is an outcome too: its paths report resolve_failed, as they will later.
  names[{"mail.example", core::Family::kIpv4}] = lookedUp(std::nullopt);
  std::tie(ok, why) = startupDone(cfg, names, snap);
  CHECK_FALSE(ok);
  CHECK(why == "not ready: the first lookup of 1 of 2 target names is under way");
  // A lookup past its deadline counts as ended with lookups == 1 (TargetResolver).
  names[{"www.example", core::Family::kIpv4}] = lookedUp(std::nullopt);
  CHECK(startupDone(cfg, names, snap).first);
}

TEST_CASE("Readiness: an answered name is not ready until the snapshot has its address",
          "[ready]") {
  config::Config cfg;
  cfg.targets = {target("w", "www.example"), target("w6", "www.example", core::Family::kIpv6)};
  std::map<TargetResolver::Key, TargetResolver::NameState> names;
  names[{"www.example", core::Family::kIpv4}] = lookedUp(kResolved);
  names[{"www.example", core::Family::kIpv6}] = lookedUp(std::nullopt);
  core::Snapshot before;  // the probe thread has not taken the new path set yet
  addPath(before, "w", "www.example", std::nullopt);
  addPath(before, "w6", "www.example", std::nullopt);
  auto [ok, why] = startupDone(cfg, names, before);
  CHECK_FALSE(ok);
  CHECK(why == "not ready: target w waits for its looked-up address to reach the probe loop");

  core::Snapshot after;
  addPath(after, "w", "www.example", kResolved);
  addPath(after, "w6", "www.example", std::nullopt);
  CHECK(startupDone(cfg, names, after).first);
}

TEST_CASE("Readiness: once ready it stays ready without asking again", "[ready]") {
  int asked = 0;
  bool done = false;
  service::Readiness readiness([&] {
    ++asked;
    return std::make_pair(done, std::string(done ? "ready" : "not ready: waiting"));
  });
  CHECK(readiness.check() == std::make_pair(false, std::string("not ready: waiting")));
  CHECK(readiness.check().first == false);
  CHECK(asked == 2);
  done = true;
  CHECK(readiness.check() == std::make_pair(true, std::string("ready")));
  done = false;  // e.g. a reload added a name that is still being looked up
  CHECK(readiness.check() == std::make_pair(true, std::string("ready")));
  CHECK(asked == 3);
}
