#include "reachmon/core/stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace reachmon::core {

const std::array<double, 12> kSendDelayBuckets = {0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001,
                                                  0.0025,  0.005,   0.01,   0.05,    0.1,    1};

RttBuckets::RttBuckets() {
  static const auto kDefault = std::make_shared<const std::vector<double>>(
      kDefaultRttBuckets.begin(), kDefaultRttBuckets.end());
  bounds_ = kDefault;
}

RttBuckets::RttBuckets(std::vector<double> upper_bounds_seconds)
    : bounds_(std::make_shared<const std::vector<double>>(std::move(upper_bounds_seconds))) {}

std::string_view reasonName(ErrorReason r) {
  switch (r) {
    case ErrorReason::kDestUnreachable:
      return "dest_unreachable";
    case ErrorReason::kTtlExpired:
      return "ttl_expired";
    case ErrorReason::kPacketTooBig:
      return "packet_too_big";
    case ErrorReason::kParameterProblem:
      return "parameter_problem";
    case ErrorReason::kCorruptedReply:
      return "corrupted_reply";
    case ErrorReason::kSendFailed:
      return "send_failed";
    case ErrorReason::kSourceUnavailable:
      return "source_unavailable";
    case ErrorReason::kResolveFailed:
      return "resolve_failed";
    case ErrorReason::kCount:
      break;
  }
  return "unknown";
}

Histogram::Histogram(std::span<const double> upper_bounds_seconds)
    : bounds_(
          upper_bounds_seconds.first(std::min(upper_bounds_seconds.size(), kMaxHistogramBounds))),
      buckets_(std::make_unique<std::atomic<std::uint64_t>[]>(bounds_.size() + 1)) {}

void Histogram::observe(Duration d) {
  const std::int64_t ns = d.count();
  std::size_t i = 0;
  // Bounds in whole nanoseconds, as a duration is: exact at the bound (le means <=).
  while (i < bounds_.size() && ns > std::llround(bounds_[i] * 1e9)) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_release);
}

std::uint64_t Histogram::bucketCount(std::size_t i) const {
  return buckets_[i].load(std::memory_order_acquire);
}

double Histogram::sumSeconds() const {
  return static_cast<double>(sum_ns_.load(std::memory_order_acquire)) / 1e9;
}

}  // namespace reachmon::core
