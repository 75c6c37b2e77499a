// Per-path statistics. Written only by the probe thread, read concurrently by scrapes: every
// field is an atomic with a single writer, so neither side ever waits for the other.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <utility>

#include "reachmon/core/clock.h"
#include "reachmon/core/rtt_buckets.h"

namespace reachmon::core {

enum class ErrorReason : std::uint8_t {
  kDestUnreachable,
  kTtlExpired,
  kPacketTooBig,
  kParameterProblem,
  kCorruptedReply,  // only replies with data other than sent came, none valid in time
  kSendFailed,
  kSourceUnavailable,
  kResolveFailed,
  kCount
};
inline constexpr std::size_t kErrorReasonCount = static_cast<std::size_t>(ErrorReason::kCount);
std::string_view reasonName(ErrorReason r);

// Fixed-bucket histogram of durations. Buckets hold non-cumulative counts; readers add them up.
class Histogram {
 public:
  // `upper_bounds_seconds` (ascending; the first kMaxHistogramBounds are used) must outlive the
  // histogram.
  explicit Histogram(std::span<const double> upper_bounds_seconds);
  void observe(Duration d);  // single writer

  std::span<const double> bounds() const { return bounds_; }
  std::uint64_t bucketCount(std::size_t i) const;  // i == bounds().size() is +Inf
  std::uint64_t count() const { return count_.load(std::memory_order_acquire); }
  double sumSeconds() const;

 private:
  // Counts sized to the bounds (one more for +Inf), not to the most a histogram may have, and
  // the bounds shared, not copied: there is one histogram per path (docs/benchmarks.md).
  std::span<const double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> buckets_;
  std::atomic<std::int64_t> sum_ns_{0};
  std::atomic<std::uint64_t> count_{0};
};

extern const std::array<double, 12> kSendDelayBuckets;

// What happened to the latest finished probe; drives reachmon_path_up and the status page.
enum class PathState : std::uint8_t { kUnknown, kUp, kTimedOut, kError };

struct PathStats {
  PathStats() : PathStats(RttBuckets()) {}
  explicit PathStats(RttBuckets buckets)
      : rtt_buckets(std::move(buckets)), rtt(rtt_buckets.bounds()) {}
  static void add(std::atomic<std::uint64_t>& c) { c.fetch_add(1, std::memory_order_release); }

  // Every scheduled probe ends exactly once, when its outcome is known: replied, timed_out or
  // one error reason. `scheduled` is counted first, then the outcome, so a reader that loads the
  // outcomes before `scheduled` never sees more outcomes than probes.
  std::atomic<std::uint64_t> scheduled{0};
  std::atomic<std::uint64_t> sent{0};  // handed to the OS
  std::atomic<std::uint64_t> replied{0};
  std::atomic<std::uint64_t> timed_out{0};
  std::atomic<std::uint64_t> late{0};
  std::atomic<std::uint64_t> duplicate{0};
  std::atomic<std::uint64_t> corrupted{0};  // replies matching a probe, with other data
  std::array<std::atomic<std::uint64_t>, kErrorReasonCount> errors{};
  std::atomic<std::int64_t> last_rtt_ns{-1};  // -1: no reply yet
  std::atomic<int> reply_ttl{-1};             // -1: unknown
  std::atomic<PathState> state{PathState::kUnknown};
  std::atomic<ErrorReason> last_error{ErrorReason::kCount};  // kCount: none
  // The path's buckets when these stats began (a change of buckets starts new stats); declared
  // before rtt, whose bounds are a view of them.
  const RttBuckets rtt_buckets;
  Histogram rtt;

  void addError(ErrorReason r) { add(errors[static_cast<std::size_t>(r)]); }
};

// Self-monitoring of the probe thread.
struct MonitorStats {
  MonitorStats() : send_delay(kSendDelayBuckets) {}
  Histogram send_delay;
  std::atomic<std::int64_t> heartbeat_ns{0};      // monotonic time of the latest loop iteration
  std::atomic<std::uint64_t> invalid_replies{0};  // failed validation: stray or forged
  // ICMP errors about a UDP datagram of ours that name no probe (quote too short, or details
  // that agree with no probe in flight).
  std::atomic<std::uint64_t> unmatched_errors{0};
};

}  // namespace reachmon::core
