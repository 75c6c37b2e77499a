// Tells the probe loop that interface addresses or links changed (rtnetlink multicast groups).
#pragma once

#include "unique_fd.h"

namespace reachmon::core::posix {

class NetlinkWatcher {
 public:
  NetlinkWatcher();  // on failure fd() is -1 and changes are picked up by the periodic rescan
  int fd() const { return fd_.get(); }
  // Reads every pending notification; true if any arrived.
  bool drain();

 private:
  UniqueFd fd_;
};

}  // namespace reachmon::core::posix
