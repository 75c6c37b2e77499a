// Per-path history for the status page's graphs (SmokePing-style): two fixed rings of time slots,
// one slot per 10 s for the last 10 minutes and one per minute for the last 3 hours. A slot holds
// how many probes ended in it, how many of them were lost, and quantiles of the replies' RTTs.
//
// Written only by the probe thread (record()), read by any thread (fine(), coarse()) through a
// sequence lock: the writer never waits, a reader copies and retries in the rare case that the
// writer closed a slot meanwhile. Memory is fixed per path (docs/benchmarks.md); record()
// neither allocates nor throws.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "reachmon/core/clock.h"

namespace reachmon::core {

// An RTT in 16 bits, a small floating-point number of nanoseconds: exact below 2,048 ns, above
// that truncated to 11 significant bits (within 0.1 %, never above the RTT), up to the int64 range.
// Codes sort like the RTTs they stand for, so quantiles can be taken on codes.
constexpr std::uint16_t encodeRtt(Duration rtt) {
  if (rtt.count() <= 0) return 0;
  const auto ns = static_cast<std::uint64_t>(rtt.count());
  if (ns < 2048) return static_cast<std::uint16_t>(ns);
  // >= 1: ns >> shift is in [1024, 2047]
  const int shift = static_cast<int>(std::bit_width(ns)) - 11;
  return static_cast<std::uint16_t>(shift * 1024 + static_cast<int>(ns >> shift));
}
constexpr Duration decodeRtt(std::uint16_t code) {
  if (code < 2048) return Duration{code};
  const int shift = code / 1024 - 1;
  if (shift > 52) return Duration::max();  // no RTT encodes to it
  const std::uint64_t mantissa = code - static_cast<std::uint64_t>(shift) * 1024;
  return Duration{static_cast<std::int64_t>(mantissa << shift)};
}

// The RTT quantiles a slot keeps, by nearest rank over its replies' RTTs (the smallest RTT that
// at least that fraction of the replies do not exceed): min, p10, p25, median, p75, p90, max.
inline constexpr std::array<double, 7> kHistoryQuantiles = {0.0, 0.10, 0.25, 0.5, 0.75, 0.90, 1.0};
enum class HistoryQuantile : std::uint8_t { kMin, kP10, kP25, kMedian, kP75, kP90, kMax };

// One closed slot: the probes whose outcome became known within it.
struct HistorySlot {
  std::uint16_t probes = 0;            // outcomes; 0: nothing ended in this slot (no data)
  std::uint16_t lost = 0;              // outcomes without a valid reply (timed out, or an error)
  std::array<std::uint16_t, 7> rtt{};  // encodeRtt() of the quantiles; valid when lost < probes
  bool empty() const { return probes == 0; }
  bool allLost() const { return probes != 0 && lost == probes; }
  Duration quantile(HistoryQuantile q) const { return decodeRtt(rtt[static_cast<std::size_t>(q)]); }
};

// A copy of one ring, oldest slot first. Slot number k covers [k * slot_width, (k + 1) *
// slot_width) on the probe thread's clock (Monitor::now()); slots.back() is number `newest`.
struct HistoryWindow {
  Duration slot_width{0};
  std::int64_t newest = -1;  // -1: no slot closed yet (slots is empty)
  std::vector<HistorySlot> slots;
  // Where slot k starts on the probe thread's clock.
  TimePoint slotStart(std::int64_t k) const { return slot_width * k; }
  std::int64_t numberOf(std::size_t i) const {
    return newest - static_cast<std::int64_t>(slots.size()) + 1 + static_cast<std::int64_t>(i);
  }
};

class PathHistory {
 public:
  static constexpr Duration kFineWidth{10'000'000'000};    // 10 s
  static constexpr std::size_t kFineSlots = 60;            // 10 minutes
  static constexpr Duration kCoarseWidth{60'000'000'000};  // 1 minute
  static constexpr std::size_t kCoarseSlots = 180;         // 3 hours
  // RTTs kept per open slot to take its quantiles from: every reply while a slot has no more;
  // beyond, a uniform sample of them (reservoir sampling), so the quantiles are estimates for
  // paths probed more often than every 312 ms (fine) or 468 ms (coarse). Min and max stay exact.
  static constexpr std::size_t kFineSamples = 32;
  static constexpr std::size_t kCoarseSamples = 128;

  // `seed` varies the sampling between paths (any value).
  explicit PathHistory(std::uint32_t seed = 1);
  PathHistory(const PathHistory&) = delete;
  PathHistory& operator=(const PathHistory&) = delete;

  // Probe thread only. A probe ended at `when` (its reply's arrival, its deadline, or its failure)
  // with `rtt` (a valid reply) or without (lost). A slot closes, and becomes visible to readers,
  // when the first outcome after its end is recorded; an outcome earlier than the open slot (a
  // clock read before one already recorded) counts in the open slot.
  void record(TimePoint when, std::optional<Duration> rtt);

  // Any thread: the closed slots of the last 10 minutes / 3 hours, up to the newest closed one.
  HistoryWindow fine() const;
  HistoryWindow coarse() const;

 private:
  // "No slot yet" for Ring::newest and Open::number: below every slot number, even those of
  // negative times, so that the first outcome always opens a slot.
  static constexpr std::int64_t kNoSlot = std::numeric_limits<std::int64_t>::min();
  // A slot as stored: nine 16-bit atomics (probes, lost, 7 quantiles), so that a reader racing
  // the writer reads torn values but no undefined behaviour; the sequence lock discards them.
  struct StoredSlot {
    std::array<std::atomic<std::uint16_t>, 9> v{};
  };
  template <std::size_t N>
  struct Ring {
    std::atomic<std::int64_t> newest{kNoSlot};
    std::array<StoredSlot, N> slots{};
  };
  // The slot being filled (probe thread only).
  template <std::size_t Samples>
  struct Open {
    std::int64_t number = kNoSlot;
    std::uint32_t probes = 0;
    std::uint32_t lost = 0;
    std::uint32_t replies = 0;  // replies seen; samples holds min(replies, Samples) of them
    std::uint16_t min = 0;
    std::uint16_t max = 0;
    std::array<std::uint16_t, Samples> samples{};
  };

  template <std::size_t N, std::size_t S>
  void add(Ring<N>& ring, Open<S>& open, Duration width, TimePoint when,
           std::optional<std::uint16_t> rtt);
  template <std::size_t N, std::size_t S>
  void close(Ring<N>& ring, Open<S>& open);
  template <std::size_t N>
  HistoryWindow read(const Ring<N>& ring, Duration width) const;
  std::uint32_t nextRandom();

  std::atomic<std::uint32_t> seq_{0};  // odd while the writer changes a ring
  Ring<kFineSlots> fine_;
  Ring<kCoarseSlots> coarse_;
  Open<kFineSamples> open_fine_;
  Open<kCoarseSamples> open_coarse_;
  std::uint32_t random_;  // xorshift32 state, never 0
};

}  // namespace reachmon::core
