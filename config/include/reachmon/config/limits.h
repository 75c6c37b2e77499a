// Accepted ranges of config values; docs/config.md and docs/config.schema.json state the same.
#pragma once

#include <chrono>
#include <cstddef>

namespace reachmon::config {

struct IntRange {
  long long min, max;
};
struct DurationRange {
  std::chrono::nanoseconds min, max;
};

using namespace std::chrono_literals;
inline constexpr DurationRange kInterval{10ms, 1h};
inline constexpr DurationRange kTimeout{10ms, 60s};
inline constexpr DurationRange kResolveInterval{1s, 24h};
inline constexpr DurationRange kMinSendGap{0ns, 10ms};
inline constexpr IntRange kPayloadSize{16, 65000};
inline constexpr IntRange kTtl{1, 255};
inline constexpr IntRange kTos{0, 255};
inline constexpr IntRange kPort{1, 65535};  // UDP probes' destination port
// `buckets`: each bound (an RTT is never longer than the longest timeout), and how many.
inline constexpr DurationRange kBucketBound{1us, 60s};
inline constexpr std::size_t kMaxBuckets = 24;

}  // namespace reachmon::config
