#pragma once

#include <cstdint>
#include <string>

#include "reachmon/service/control.h"

namespace reachmon::service {

// `reachmon probe`, as the command line gave it.
struct ProbeOptions {
  std::string target;
  std::string source;        // an address or an interface; empty with all_sources
  bool all_sources = false;  // every interface that is up with an address of the target's family
  std::uint64_t count = 0;   // probes per source; 0: until stopped
  std::string interval = "1s";
  std::string timeout = "1s";
  int udp_port = 0;  // 0: ICMP echo
};

// Probes until `count` outcomes per source or control's stop (Ctrl-C, SIGTERM), printing a line
// per probe and a summary per source. Exit code: 0 when every source had a reply, 1 when one had
// none, 2 on errors (nothing probed).
int probeCommand(const ProbeOptions& opts, Control& control);

}  // namespace reachmon::service
