// The bucket bounds of a path's RTT histogram (reachmon_rtt_seconds): a probe option
// (ProbeOptions::buckets, from `buckets` in the config) that PathStats' histogram is built with.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace reachmon::core {

// Most bounds a Histogram holds (its +Inf bucket comes on top).
inline constexpr std::size_t kMaxHistogramBounds = 24;

// The default, in seconds: 10 bounds, so a path has 20 series with the default config (7 always
// present: scheduled, sent, replied, timed_out, last_rtt, path_up, reply_ttl; and the histogram's
// 10 buckets, +Inf, _sum and _count). From a LAN (under 0.5 ms) to a geostationary satellite hop
// (about 600 ms) and a congested one (up to 2 s); about 2 to 2.5 apart over the WAN range (10 ms
// to 2 s), coarser below 10 ms, where the differences are a few milliseconds. docs/metrics.md
// explains the choice.
inline constexpr std::array<double, 10> kDefaultRttBuckets = {0.0005, 0.0025, 0.01, 0.025, 0.05,
                                                              0.1,    0.25,   0.5,  1,     2};

// Upper bounds in seconds, ascending and positive, at most kMaxHistogramBounds. Immutable and
// shared: every copy (the config's ProbeOptions, each of its paths' PathSpec, the PathStats whose
// histogram spans them) points at one vector, so 10,000 paths with the same buckets hold them
// once, and a histogram's bounds live as long as its PathStats. Safe to read from any thread.
class RttBuckets {
 public:
  RttBuckets();  // kDefaultRttBuckets (one vector for the whole process)
  // The caller (the config's validation) guarantees the rules above; Histogram uses at most
  // kMaxHistogramBounds of them.
  explicit RttBuckets(std::vector<double> upper_bounds_seconds);

  std::span<const double> bounds() const { return *bounds_; }
  friend bool operator==(const RttBuckets& a, const RttBuckets& b) {
    return a.bounds_ == b.bounds_ || *a.bounds_ == *b.bounds_;
  }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
};

}  // namespace reachmon::core
