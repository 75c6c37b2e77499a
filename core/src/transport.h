// The boundary between the portable probe logic and an OS engine, in both directions:
// ProbeCore sends through a Transport, and the engine hands what comes back to a ReplySink.
// Both happen on the probe thread only; neither side knows the other's type.
#pragma once

#include <cstddef>
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
  // ICMP: the data after the 8-byte echo header. UDP (options.probe): the whole datagram, to
  // options.port, which carries the sequence itself (udp_probe.h).
  std::span<const std::uint8_t> payload;
  const ProbeOptions& options;
};

// kQueued: the request waits to leave with the others of the wake-up at Transport::flush(),
// which reports its outcome.
enum class SendStatus : std::uint8_t { kOk, kQueued, kSourceUnavailable, kFailed };

struct SendResult {
  SendStatus status = SendStatus::kOk;
  int os_error = 0;  // errno / GetLastError() when status is a failure (osErrorText)
  // Wall clock when the request left (just before the system call, also for every message of
  // a batched call), 0 if the engine has none.
  std::int64_t realtime_ns = 0;
};

// The most requests a Transport queues between two flush() calls.
inline constexpr std::size_t kMaxSendBatch = 64;

class Transport {
 public:
  virtual ~Transport() = default;
  // Sends `request` now, or queues it (kQueued) to leave with the others of this wake-up at the
  // next flush(). The request, its addresses and payload are valid only during the call: a
  // transport that queues copies what it needs. At most kMaxSendBatch requests are queued
  // before the caller flushes.
  virtual SendResult send(const EchoRequest& request) = 0;
  // Sends everything queued since the last flush (Linux: one sendmmsg per socket) and writes the
  // outcome of the k-th queued request to results[k]; `results` has one entry per queued request.
  virtual void flush(std::span<SendResult> /*results*/) {}
};

struct EchoReply {
  ProbeKind probe = ProbeKind::kIcmp;
  IpAddress from;               // the reply's source address
  std::uint16_t from_port = 0;  // UDP: the reply's source port
  std::optional<IpAddress> to;  // the reply's destination (our source), when the OS reports it
  std::uint16_t sequence = 0;
  std::span<const std::uint8_t> payload;  // ICMP data after the echo header; UDP: the datagram
  TimePoint received{};                   // monotonic time the engine read it
  std::int64_t realtime_rx_ns = 0;        // kernel receive timestamp (wall clock), 0 if none
  int ttl = -1;                           // TTL / hop limit of the reply, -1 if unknown
};

// An ICMP error drawn by one of our probes.
struct IcmpErrorReport {
  IpAddress original_target;  // where our probe was going
  std::uint16_t sequence = 0;
  ErrorReason reason = ErrorReason::kDestUnreachable;

  // UDP probes only (`probe`): a port unreachable from the target itself means the target was
  // reached, so the core needs to know who sent the error and when it arrived.
  ProbeKind probe = ProbeKind::kIcmp;
  bool port_unreachable = false;             // reason is dest_unreachable, code "port"
  std::uint16_t original_port = 0;           // destination port of the datagram; 0: not reported
  std::optional<IpAddress> original_source;  // its source address, when the OS reports it
  std::optional<IpAddress> offender;         // the sender of the ICMP error, when reported
  // The probe's datagram as quoted in the error (Linux). The core reads the sequence and nonce
  // from it and requires every quoted byte to be what was sent; a quote too short to name the
  // probe is counted as unmatched. nullopt: the engine identified the probe itself (Windows:
  // one socket per UDP probe in flight) and `sequence` names it.
  std::optional<std::span<const std::uint8_t>> quoted;
  TimePoint received{};             // monotonic time the engine read the error
  std::int64_t realtime_rx_ns = 0;  // kernel receive timestamp of the error, 0 if none
  int ttl = -1;                     // TTL / hop limit of the ICMP error, -1 if unknown
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
