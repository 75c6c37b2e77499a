// The service's control mailbox: what signal handlers, the SCM and HTTP post to App::run().
#include "reachmon/service/control.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

using namespace reachmon::service;
using namespace std::chrono_literals;

TEST_CASE("Control: a reload is taken once and names its trigger", "[control]") {
  Control c;
  CHECK(c.waitFor(0ms) == Control::Event::kNone);
  c.requestReload("SIGHUP");
  CHECK(c.waitFor(0ms) == Control::Event::kReload);
  CHECK(std::string(c.reloadReason()) == "SIGHUP");
  CHECK(c.waitFor(0ms) == Control::Event::kNone);
  c.requestReload("PARAMCHANGE");
  c.requestReload("PARAMCHANGE");  // requests that pile up are one reload
  CHECK(c.waitFor(0ms) == Control::Event::kReload);
  CHECK(c.waitFor(0ms) == Control::Event::kNone);
}

TEST_CASE("Control: stop wins over a pending reload and stays requested", "[control]") {
  Control c;
  c.requestReload("SIGHUP");
  c.requestStop();
  CHECK(c.stopRequested());
  CHECK(c.waitFor(0ms) == Control::Event::kStop);
  CHECK(c.waitFor(0ms) == Control::Event::kStop);
}

TEST_CASE("Control: a request from another thread wakes the waiter", "[control]") {
  Control c;
  const auto start = std::chrono::steady_clock::now();
  std::thread stopper([&] {
    std::this_thread::sleep_for(20ms);
    c.requestStop();
  });
  const auto event = c.waitFor(60s);
  const auto waited = std::chrono::steady_clock::now() - start;
  stopper.join();
  CHECK(event == Control::Event::kStop);
  CHECK(waited < 30s);  // woken by the request, not by the end of the wait
}
