// The OS half of the probe loop: sends echo requests, waits for the next deadline or an event,
// and hands replies and ICMP errors to a ReplySink. ProbeLoop owns one engine and calls it from
// the probe thread only, except wake() and name(). Implementations: LinuxEngine (platform/linux,
// epoll over ICMP sockets) and WinEngine (platform/win, the ICMP helper API with APC completions).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "reachmon/core/clock.h"
#include "reachmon/core/interfaces.h"
#include "transport.h"

namespace reachmon::core {

class Engine {
 public:
  struct Events {
    bool interfaces_changed = false;  // re-list interfaces(): addresses or links changed
  };

  virtual ~Engine() = default;

  // Sends the probes; lives as long as the engine.
  virtual Transport& transport() = 0;
  // The host's interfaces now; sources pick their addresses from them.
  virtual std::vector<InterfaceInfo> interfaces() = 0;
  // True when wait() reports interface changes as they happen; otherwise the loop re-lists the
  // interfaces now and then.
  virtual bool watchesInterfaces() const = 0;
  // The addresses the sources send from now (no duplicates, nullopt ones left out), told after
  // every change: a new path set or an interface change. The engine may release what it keeps
  // for any other address (Linux: the IPv6 ping socket bound to each source address).
  virtual void sourcesChanged(std::span<const IpAddress> /*in_use*/) {}
  // Waits at most `timeout` (zero: only takes what has already arrived) and returns early on
  // wake() or an OS event. Replies and ICMP errors that arrive meanwhile go to `sink`.
  virtual Events wait(Duration timeout, ReplySink& sink) = 0;
  // The shortest wait the engine's timer can time: waits shorter than this may last until the
  // timer's next tick. Zero when waits are precise (Linux timerfd).
  virtual Duration timerResolution() const { return Duration{0}; }
  // Makes the current or next wait() return soon. Any thread.
  virtual void wake() = 0;
  // Called on the probe thread after the last wait() of a run (stop()): settles requests still
  // in flight (their replies still go to `sink`) so that nothing the OS holds outlives the
  // engine. A later start() waits again.
  virtual void finish(ReplySink& sink) = 0;
  // "icmp-dgram" or "icmp-raw" on Linux, "iphlpapi" on Windows (reachmon_build_info). Any
  // thread: it never changes.
  virtual std::string name() const = 0;
  // Where RTTs come from: "kernel" (the kernel's receive timestamp of each reply against the
  // time taken just before sending) or "user_space" (the monotonic clock when the probe thread
  // handles the completion). Any thread.
  virtual std::string rttTimestamps() const = 0;
};

}  // namespace reachmon::core
