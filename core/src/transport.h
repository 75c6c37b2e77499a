// The boundary between the portable probe logic and an OS engine, in both directions:
// ProbeCore sends through a Transport, and the engine hands what comes back to a ReplySink.
// Both happen on the probe thread only; neither side knows the other's type.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "reachmon/core/address.h"
#include "reachmon/core/clock.h"
#include "reachmon/core/path.h"
#include "reachmon/core/stats.h"

namespace reachmon::core {

struct EchoRequest {
  const IpAddress& source;
  const IpAddress& target;
  std::uint16_t sequence;
  std::span<const std::uint8_t> payload;  // ICMP data after the 8-byte echo header
  const ProbeOptions& options;
};

enum class SendStatus : std::uint8_t { kOk, kSourceUnavailable, kFailed };

struct SendResult {
  SendStatus status = SendStatus::kOk;
  int os_error = 0;              // errno / GetLastError() when status != kOk (osErrorText)
  std::int64_t realtime_ns = 0;  // wall clock just before sending, 0 if the engine has none
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual SendResult send(const EchoRequest& request) = 0;
};

struct EchoReply {
  IpAddress from;               // the reply's source address
  std::optional<IpAddress> to;  // the reply's destination (our source), when the OS reports it
  std::uint16_t sequence = 0;
  std::span<const std::uint8_t> payload;  // ICMP data after the echo header
  TimePoint received{};                   // monotonic time the engine read it
  std::int64_t realtime_rx_ns = 0;        // kernel receive timestamp (wall clock), 0 if none
  int ttl = -1;                           // TTL / hop limit of the reply, -1 if unknown
};

struct IcmpErrorReport {
  IpAddress original_target;  // where our echo request was going
  std::uint16_t sequence = 0;
  ErrorReason reason = ErrorReason::kDestUnreachable;
};

// Where an engine delivers echo replies and ICMP errors. The sink validates them: an engine
// passes on everything that parses, forged or stray replies included.
class ReplySink {
 public:
  virtual void onReply(const EchoReply& reply) = 0;
  virtual void onError(Family family, const IcmpErrorReport& report) = 0;

 protected:
  ~ReplySink() = default;
};

// Payload layout of every echo request: magic, then the per-probe nonce, then filler.
inline constexpr std::uint8_t kPayloadMagic[4] = {'R', 'M', 'O', 'N'};
inline constexpr std::size_t kPayloadHeader = 12;

}  // namespace reachmon::core
