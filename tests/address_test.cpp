#include "reachmon/core/address.h"

#include <catch2/catch.hpp>

using namespace reachmon::core;

TEST_CASE("Address: IPv4 and IPv6 literals round-trip, with numeric zones", "[address]") {
  for (const char* text : {"192.0.2.1", "0.0.0.0", "2001:db8::1", "::1", "fe80::1%3"}) {
    auto a = parseIpAddress(text);
    REQUIRE(a.has_value());
    CHECK(formatIpAddress(*a) == text);
  }
  CHECK(parseIpAddress("192.0.2.1")->family == Family::kIpv4);
  CHECK(parseIpAddress("2001:db8::1")->family == Family::kIpv6);
  CHECK(parseIpAddress("fe80::1%3")->scope_id == 3);
  CHECK(parseIpAddress("fe80::1%3")->isLinkLocal());
  CHECK(parseIpAddress("127.0.0.5")->isLoopback());
  CHECK(parseIpAddress("::1")->isLoopback());
}

TEST_CASE("Address: anything but a numeric literal is rejected", "[address]") {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "example.net", "2001:db8:::1",
                           "fe80::1%", "192.0.2.1%1", " 192.0.2.1", "fe80::1%no-such-if0"}) {
    INFO(text);
    CHECK_FALSE(parseIpAddress(text).has_value());
  }
  using namespace std::string_view_literals;
  for (const auto text : {"127.0.0.1\0evil"sv, "::1\0"sv, "\0"sv}) {
    INFO(text.size());
    CHECK_FALSE(parseIpAddress(text).has_value());  // NOT 127.0.0.1: nothing after a NUL hides
  }
}
