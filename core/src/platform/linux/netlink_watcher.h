// Tells the probe loop that interface addresses or links changed (rtnetlink multicast groups).
#pragma once

#include "unique_fd.h"

namespace reachmon::core::lnx {

class NetlinkWatcher {
 public:
  // On failure (logged) fd() is -1; the engine then says it does not watch interfaces, and the
  // probe loop re-lists them periodically instead (ProbeLoop::kRescanInterval).
  NetlinkWatcher();
  int fd() const { return fd_.get(); }
  // Reads every pending notification; true if any arrived or some were lost.
  bool drain();

 private:
  UniqueFd fd_;
};

}  // namespace reachmon::core::lnx
