// What the MSI's LISTEN, CONFIG and FIREWALL properties make of the service
// (installer/windows/msi_settings.cpp, applied by msi_actions.cpp's PrepareInstall). Under Wine,
// tests/wine/test_msi_wine.py shows the properties reaching the service and the firewall calls;
// Wine's firewall keeps no rules, so which LISTEN values get one is proven here.
#include "msi_settings.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using reachmon::installer::isLoopbackListen;
using reachmon::installer::MsiProperties;
using reachmon::installer::propertyErrors;
using reachmon::installer::serviceSettings;

namespace {

MsiProperties listenOnly(const std::string& listen) { return {listen, "", ""}; }

std::string joined(const std::vector<std::string>& errors) {
  std::string out;
  for (const auto& e : errors) out += e + "\n";
  return out;
}

}  // namespace

TEST_CASE("MsiSettings: without properties the service runs with its defaults", "[msi]") {
  const MsiProperties none;
  CHECK(propertyErrors(none).empty());
  const auto s = serviceSettings(none);
  CHECK(s.arguments == "run");
  CHECK_FALSE(s.firewall_rule);
  CHECK(s.firewall_note.empty());
}

TEST_CASE("MsiSettings: LISTEN and CONFIG become --listen and a quoted --config", "[msi]") {
  const MsiProperties p{"0.0.0.0:9643", "C:\\Program Data\\conf\\reachmon.json", ""};
  REQUIRE(propertyErrors(p).empty());
  CHECK(serviceSettings(p).arguments ==
        "run --config \"C:\\Program Data\\conf\\reachmon.json\" --listen 0.0.0.0:9643");
  CHECK(serviceSettings({"[::1]:19643", "", ""}).arguments == "run --listen [::1]:19643");
  CHECK(serviceSettings({"", "D:/reachmon.json", "0"}).arguments ==
        "run --config \"D:/reachmon.json\"");
}

TEST_CASE("MsiSettings: LISTEN is refused where run --listen refuses it", "[msi]") {
  for (const char* valid : {"127.0.0.1:9643", "0.0.0.0:1", "[::]:65535", "[2001:db8::7]:9643"}) {
    INFO(valid);
    CHECK(propertyErrors(listenOnly(valid)).empty());
  }
  for (const char* invalid :
       {"localhost:9643", "9643", ":9643", "0.0.0.0", "[::1]", "::1:9643", "1.2.3.4:65536",
        "1.2.3.4:09643", "1.2.3.4:+80", "1.2.3.4 :80", "[1.2.3.4]:80", "example.net:9643"}) {
    INFO(invalid);
    const auto errors = propertyErrors(listenOnly(invalid));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].rfind("LISTEN: invalid listen address \"", 0) == 0);
  }
  const auto host = propertyErrors(listenOnly("localhost:9643"));
  CHECK_THAT(joined(host), Catch::Contains("\"127.0.0.1:9643\""));
}

TEST_CASE("MsiSettings: LISTEN with port 0 is refused", "[msi]") {
  const auto errors = propertyErrors(listenOnly("0.0.0.0:0"));
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0],
             Catch::StartsWith("LISTEN: \"0.0.0.0:0\": port 0") && Catch::Contains("1 to 65535"));
}

TEST_CASE("MsiSettings: which LISTEN addresses are loopback", "[msi]") {
  for (const char* loopback : {"127.0.0.1:9643", "127.255.0.9:80", "[::1]:9643",
                               "[::ffff:127.0.0.1]:9643", "[0:0:0:0:0:0:0:1]:1"}) {
    INFO(loopback);
    CHECK(isLoopbackListen(loopback));
  }
  for (const char* open :
       {"0.0.0.0:9643", "[::]:9643", "10.0.0.1:9643", "128.0.0.1:9643", "126.255.255.255:9643",
        "[::2]:9643", "[::ffff:10.0.0.1]:9643", "[::127.0.0.1]:9643", "[fe80::1]:9643"}) {
    INFO(open);
    CHECK_FALSE(isLoopbackListen(open));
  }
}

TEST_CASE("MsiSettings: FIREWALL=1 opens LISTEN's port unless LISTEN is loopback", "[msi]") {
  struct Case {
    const char* listen;
    const char* port;
    const char* address;
  };
  for (const Case& c : {Case{"0.0.0.0:9643", "9643", "*"}, Case{"[::]:9100", "9100", "*"},
                        Case{"192.0.2.10:9643", "9643", "192.0.2.10"},
                        Case{"[2001:db8::1]:443", "443", "2001:db8::1"},
                        Case{"[fe80::1%12]:9643", "9643", "fe80::1"}}) {
    INFO(c.listen);
    const MsiProperties p{c.listen, "", "1"};
    REQUIRE(propertyErrors(p).empty());
    const auto s = serviceSettings(p);
    REQUIRE(s.firewall_rule);
    CHECK(s.firewall_rule->local_port == c.port);
    CHECK(s.firewall_rule->local_address == c.address);
    CHECK(s.firewall_note.empty());
  }
  for (const char* loopback : {"127.0.0.1:9643", "[::1]:9643"}) {
    INFO(loopback);
    const auto s = serviceSettings({loopback, "", "1"});
    CHECK_FALSE(s.firewall_rule);
    CHECK_THAT(s.firewall_note, Catch::Contains("loopback"));
  }
}

TEST_CASE("MsiSettings: no firewall rule unless FIREWALL=1", "[msi]") {
  for (const char* off : {"", "0"}) {
    INFO(off);
    const MsiProperties p{"0.0.0.0:9643", "", off};
    REQUIRE(propertyErrors(p).empty());
    CHECK_FALSE(serviceSettings(p).firewall_rule);
    CHECK(serviceSettings(p).firewall_note.empty());
  }
}

TEST_CASE("MsiSettings: FIREWALL takes 0 or 1 and needs LISTEN", "[msi]") {
  for (const char* invalid : {"yes", "true", "2", " 1"}) {
    INFO(invalid);
    const auto errors = propertyErrors({"0.0.0.0:9643", "", invalid});
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::StartsWith("FIREWALL: \"") && Catch::Contains("FIREWALL=1"));
  }
  const auto errors = propertyErrors({"", "", "1"});
  REQUIRE(errors.size() == 1);
  CHECK_THAT(errors[0], Catch::Contains("needs LISTEN=HOST:PORT"));
}

TEST_CASE("MsiSettings: CONFIG must be the absolute path of a file", "[msi]") {
  for (const char* valid : {"C:\\ProgramData\\reachmon\\reachmon.json", "d:/conf/r.json",
                            "\\\\server\\share\\reachmon.json",
                            "C:\\Donn\xc3\xa9"
                            "es\\reachmon.json"}) {
    INFO(valid);
    CHECK(propertyErrors({"", valid, ""}).empty());
  }
  struct Case {
    const char* config;
    const char* why;
  };
  for (const Case& c :
       {Case{"reachmon.json", "not an absolute path"},
        Case{"conf\\reachmon.json", "not an absolute path"},
        Case{"\\reachmon.json", "not an absolute path"},
        Case{"C:reachmon.json", "not an absolute path"}, Case{"C:\\conf\\", "names a folder"},
        Case{"C:\\a\"b.json", "cannot contain"}, Case{"C:\\a|b.json", "cannot contain"},
        Case{"C:\\a:b.json", "cannot contain"}, Case{"C:\\a\x01.json", "cannot contain"}}) {
    INFO(c.config);
    const auto errors = propertyErrors({"", c.config, ""});
    REQUIRE(errors.size() == 1);
    CHECK_THAT(errors[0], Catch::StartsWith("CONFIG: \"") && Catch::Contains(c.why));
  }
  // A control character is named, never written out.
  CHECK_THAT(propertyErrors({"", "C:\\a\x01.json", ""})[0], Catch::Contains("\\x01"));
}

TEST_CASE("MsiSettings: every invalid property is reported at once", "[msi]") {
  const auto errors = propertyErrors({"localhost", "reachmon.json", "yes"});
  REQUIRE(errors.size() == 3);
  CHECK_THAT(errors[0], Catch::StartsWith("LISTEN: "));
  CHECK_THAT(errors[1], Catch::StartsWith("CONFIG: "));
  CHECK_THAT(errors[2], Catch::StartsWith("FIREWALL: "));
}
