// Test doubles for the probe thread's collaborators: a clock that moves only when told, and a
// transport that records every echo request instead of sending it.
#pragma once

#include <cstring>
#include <vector>

#include "reachmon/core/clock.h"
#include "reachmon/core/interfaces.h"
#include "reachmon/core/transport.h"

namespace reachmon::test {

using namespace std::chrono_literals;

class FakeClock final : public core::Clock {
 public:
  core::TimePoint now() const override { return now_; }
  void advance(core::Duration d) { now_ += d; }
  void set(core::TimePoint t) { now_ = t; }

 private:
  core::TimePoint now_{1'000'000'000};
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
  explicit FakeTransport(const FakeClock& clock) : clock_(clock) {}
  core::SendResult send(const core::EchoRequest& r) override {
    if (next_status != core::SendStatus::kOk) return {next_status, next_error, 0};
    sent.push_back({r.source, r.target, r.sequence,
                    std::vector<std::uint8_t>(r.payload.begin(), r.payload.end()), r.options,
                    clock_.now()});
    return {};
  }
  // The reply a well-behaved target would send to sent[i], received `after` the request.
  core::EchoReply replyTo(std::size_t i, core::Duration after) const {
    const SentProbe& p = sent.at(i);
    core::EchoReply r;
    r.from = p.target;
    r.to = p.source;
    r.sequence = p.sequence;
    r.payload = p.payload;
    r.received = p.at + after;
    r.ttl = 61;
    return r;
  }

  std::vector<SentProbe> sent;
  core::SendStatus next_status = core::SendStatus::kOk;
  int next_error = 0;

 private:
  const FakeClock& clock_;
};

inline core::IpAddress ip(const char* text) { return *core::parseIpAddress(text); }

inline std::vector<core::InterfaceInfo> interfacesWith(std::vector<core::IpAddress> addresses) {
  return {core::InterfaceInfo{"eth0", 2, true, std::move(addresses), 0, ""}};
}

}  // namespace reachmon::test
