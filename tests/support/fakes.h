// Test doubles for the probe thread's collaborators: a clock that moves only when told, a
// transport that records every echo request instead of sending it, and an engine built on
// them that delivers what a test queues.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine.h"
#include "reachmon/core/clock.h"
#include "reachmon/core/interfaces.h"
#include "transport.h"

namespace reachmon::test {

using namespace std::chrono_literals;

class FakeClock final : public core::Clock {
 public:
  core::TimePoint now() const override { return core::TimePoint(now_.load()); }
  void advance(core::Duration d) { now_ += d.count(); }
  void set(core::TimePoint t) { now_ = t.count(); }

 private:
  std::atomic<std::int64_t> now_{1'000'000'000};  // tests may read it from two threads
};

struct SentProbe {
  core::IpAddress source, target;
  std::uint16_t sequence;
  std::vector<std::uint8_t> payload;
  core::ProbeOptions options;
  core::TimePoint at;
};

class FakeTransport final : public core::Transport {
 public:
  explicit FakeTransport(const core::Clock& clock) : clock_(clock) {}
  core::SendResult send(const core::EchoRequest& r) override {
    const core::SendResult outcome = next_status == core::SendStatus::kOk
                                         ? core::SendResult{}
                                         : core::SendResult{next_status, next_error, 0};
    if (batching) {
      // Like Linux: every request is queued, and flush() says what became of it.
      queued.push_back(outcome);
      record(r);
      return {core::SendStatus::kQueued, 0, 0};
    }
    if (next_status != core::SendStatus::kOk) return outcome;
    record(r);
    return {};
  }
  void flush(std::span<core::SendResult> results) override {
    if (results.size() != queued.size())
      throw std::logic_error("flush() results do not match the queued requests");
    std::copy(queued.begin(), queued.end(), results.begin());
    batches.push_back(queued.size());
    queued.clear();
  }
  // The reply a well-behaved target would send to sent[i], received `after` the request.
  core::EchoReply replyTo(std::size_t i, core::Duration after) const {
    const SentProbe& p = sent.at(i);
    core::EchoReply r;
    r.probe = p.options.probe;
    r.from = p.target;
    r.from_port = p.options.port;
    r.to = p.source;
    r.sequence = p.sequence;
    r.payload = p.payload;
    r.received = p.at + after;
    r.ttl = 61;
    return r;
  }
  // The ICMP error a UDP probe sent[i] draws, as Linux's error queue reports it: from the target
  // (a port unreachable unless `reason` says otherwise), quoting the first `quote` bytes of the
  // datagram, received `after` the request.
  core::IcmpErrorReport udpErrorTo(
      std::size_t i, core::Duration after, std::size_t quote = 520, bool port_unreachable = true,
      core::ErrorReason reason = core::ErrorReason::kDestUnreachable) const {
    const SentProbe& p = sent.at(i);
    core::IcmpErrorReport r;
    r.probe = core::ProbeKind::kUdp;
    r.original_target = p.target;
    r.original_port = p.options.port;
    r.original_source = p.source;
    r.offender = p.target;
    r.port_unreachable = port_unreachable;
    r.reason = reason;
    r.quoted = std::span(p.payload.data(), std::min(quote, p.payload.size()));
    r.received = p.at + after;
    r.ttl = 62;
    return r;
  }

  std::vector<SentProbe> sent;  // batching: queued, whatever flush() then said
  core::SendStatus next_status = core::SendStatus::kOk;
  int next_error = 0;
  bool batching = false;                 // queue every request until flush()
  std::vector<core::SendResult> queued;  // batching: what flush() will report
  std::vector<std::size_t> batches;      // batching: the size of each flush

 private:
  void record(const core::EchoRequest& r) {
    sent.push_back({r.source, r.target, r.sequence,
                    std::vector<std::uint8_t>(r.payload.begin(), r.payload.end()), r.options,
                    clock_.now()});
  }
  const core::Clock& clock_;
};

inline core::IpAddress ip(const char* text) { return *core::parseIpAddress(text); }

// A sink for engine tests that only look at waiting.
struct NullSink final : core::ReplySink {
  void onReply(const core::EchoReply&) override {}
  void onError(core::Family, const core::IcmpErrorReport&) override {}
};

inline std::vector<core::InterfaceInfo> interfacesWith(std::vector<core::IpAddress> addresses) {
  return {core::InterfaceInfo{"eth0", 2, true, std::move(addresses), 0, ""}};
}

// An engine whose waits deliver what the test put in `inbox` and report `changed`. Waits block
// (in real time, at most 5 ms) only when a thread runs the loop; tests that call turn()
// themselves set `block = false`. Fields other than the atomics belong to the probe thread.
class FakeEngine final : public core::Engine {
 public:
  explicit FakeEngine(const core::Clock& clock) : transport_(clock) {}

  core::Transport& transport() override { return transport_; }
  std::vector<core::InterfaceInfo> interfaces() override {
    ++interface_lists;
    std::lock_guard lock(mutex_);
    return host_interfaces;
  }
  bool watchesInterfaces() const override { return watching; }
  void sourcesChanged(std::span<const core::IpAddress> in_use) override {
    source_updates.emplace_back(in_use.begin(), in_use.end());
  }
  Events wait(core::Duration timeout, core::ReplySink& sink) override {
    waits.push_back(timeout);
    if (sim_clock) {  // the wait takes fake time: a timer firing on its next tick, or a poll
      const auto now = sim_clock->now().count();
      const auto due = now + timeout.count();
      const auto tick = timer_resolution.count();
      const auto fired = tick > 0 && timeout.count() > 0 ? (due + tick - 1) / tick * tick : due;
      sim_clock->set(core::TimePoint(std::max(fired, now + 1'000)));  // a poll costs 1 us
    }
    {
      std::unique_lock lock(mutex_);
      if (block) cv_.wait_for(lock, std::min<core::Duration>(timeout, 5ms), [&] { return woken_; });
      woken_ = false;
    }
    for (const auto& r : inbox) sink.onReply(r);
    inbox.clear();
    Events events;
    events.interfaces_changed = changed.exchange(false);
    return events;
  }
  void wake() override {
    ++wakes;
    {
      std::lock_guard lock(mutex_);
      woken_ = true;
    }
    cv_.notify_all();
  }
  void finish(core::ReplySink&) override { ++finishes; }
  std::string name() const override { return "fake"; }
  std::string rttTimestamps() const override { return "user_space"; }
  core::Duration timerResolution() const override { return timer_resolution; }

  FakeTransport& fakeTransport() { return transport_; }
  void setInterfaces(std::vector<core::InterfaceInfo> list) {
    std::lock_guard lock(mutex_);
    host_interfaces = std::move(list);
  }

  std::vector<core::InterfaceInfo> host_interfaces = interfacesWith({ip("192.0.2.1")});
  bool watching = true;
  bool block = true;
  // With sim_clock set, each wait advances it as a timer of `timer_resolution` would: to the
  // first tick (a multiple of the resolution) at or after the deadline.
  FakeClock* sim_clock = nullptr;
  core::Duration timer_resolution{0};
  std::vector<core::EchoReply> inbox;
  std::vector<core::Duration> waits;
  std::atomic<bool> changed{false};
  std::atomic<int> interface_lists{0};
  std::atomic<int> wakes{0};
  std::atomic<int> finishes{0};
  std::vector<std::vector<core::IpAddress>> source_updates;  // what sourcesChanged() was told

 private:
  FakeTransport transport_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
};

// The statistics of the path src -> target in a probe loop's latest snapshot; throws if none.
template <class Loop>
const core::PathStats& pathStats(const Loop& loop, const std::string& target,
                                 const std::string& src) {
  for (const auto& p : loop.snapshot()->paths)
    if (p.spec->target == target && p.spec->source == src) return *p.stats;
  throw std::runtime_error("no path " + src + "->" + target);
}

}  // namespace reachmon::test
