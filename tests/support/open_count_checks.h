// Shared by the Linux and Windows process-stats tests: `opened` descriptors (handles) counted
// while open and gone once closed.
#pragma once

#include <catch2/catch.hpp>

#include "process_metrics.h"

namespace reachmon::test {

inline void checkOpenedThenClosed(const service::ProcessStats& before,
                                  const service::ProcessStats& during,
                                  const service::ProcessStats& after, int opened) {
  REQUIRE(before.open_fds);
  REQUIRE(during.open_fds);
  REQUIRE(after.open_fds);
  // Within 2: threads that earlier tests of this executable left behind (abandoned DNS lookups)
  // may hold a descriptor or handle for a moment.
  CHECK(*during.open_fds >= *before.open_fds + opened - 2);
  CHECK(*during.open_fds <= *before.open_fds + opened + 2);
  CHECK(*after.open_fds >= *before.open_fds - 2);
  CHECK(*after.open_fds <= *before.open_fds + 2);
}

}  // namespace reachmon::test
