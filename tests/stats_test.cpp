#include "reachmon/core/stats.h"

#include <catch2/catch.hpp>

#include "fakes.h"

using namespace reachmon;
using namespace reachmon::test;

TEST_CASE("Histogram: observations land in the first bucket whose bound holds them", "[stats]") {
  static const std::array<double, 3> bounds = {0.001, 0.01, 0.1};
  core::Histogram h(bounds);
  h.observe(1ms);  // on the bound: le="0.001"
  h.observe(1001us);
  h.observe(50ms);
  h.observe(2s);  // +Inf
  CHECK(h.bucketCount(0) == 1);
  CHECK(h.bucketCount(1) == 1);
  CHECK(h.bucketCount(2) == 1);
  CHECK(h.bucketCount(3) == 1);
  CHECK(h.count() == 4);
  CHECK(h.sumSeconds() == Approx(2.052001));
}
