#include "reachmon/core/history.h"

#include <algorithm>
#include <thread>

namespace reachmon::core {
namespace {

// Slot numbers of times before the clock's epoch must still order like the times: round down.
std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if (a % b != 0 && a < 0) --q;
  return q;
}

template <std::size_t N>
std::size_t ringIndex(std::int64_t number) {
  std::int64_t r = number % static_cast<std::int64_t>(N);
  if (r < 0) r += static_cast<std::int64_t>(N);
  return static_cast<std::size_t>(r);
}

// kHistoryQuantiles in ten-thousandths, so that nearest ranks are computed in integers and
// never depend on how p * n rounds in doubles.
constexpr std::array<std::uint32_t, kHistoryQuantiles.size()> rankParts() {
  std::array<std::uint32_t, kHistoryQuantiles.size()> parts{};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    // NOLINTNEXTLINE(bugprone-incorrect-roundings): the quantiles are not negative
    parts[i] = static_cast<std::uint32_t>(kHistoryQuantiles[i] * 10000.0 + 0.5);
  }
  return parts;
}
constexpr auto kRankParts = rankParts();

// Mixes the seed so that neighbouring seeds (paths numbered 1, 2, 3...) start unrelated streams.
std::uint32_t mixSeed(std::uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x != 0 ? x : 0x9e3779b9U;  // xorshift32 stays at 0 forever
}

std::uint16_t saturate16(std::uint32_t v) {
  return static_cast<std::uint16_t>(std::min<std::uint32_t>(v, 0xffff));
}

void increment(std::uint32_t& counter) {
  if (counter != 0xffffffffU) ++counter;
}

}  // namespace

PathHistory::PathHistory(std::uint32_t seed) : random_(mixSeed(seed)) {}

std::uint32_t PathHistory::nextRandom() {
  std::uint32_t x = random_;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  random_ = x;
  return x;
}

void PathHistory::record(TimePoint when, std::optional<Duration> rtt) {
  std::optional<std::uint16_t> code;
  if (rtt) code = encodeRtt(*rtt);
  add(fine_, open_fine_, kFineWidth, when, code);
  add(coarse_, open_coarse_, kCoarseWidth, when, code);
}

template <std::size_t N, std::size_t S>
void PathHistory::add(Ring<N>& ring, Open<S>& open, Duration width, TimePoint when,
                      std::optional<std::uint16_t> rtt) {
  const std::int64_t number = floorDiv(when.count(), width.count());
  if (number > open.number) {
    if (open.probes != 0) close(ring, open);
    open.number = number;
    open.probes = open.lost = open.replies = 0;
    open.min = open.max = 0;
  }
  // Earlier numbers (the clock read before the last outcome's) count in the open slot.
  increment(open.probes);
  if (!rtt) {
    increment(open.lost);
    return;
  }
  const std::uint16_t code = *rtt;
  if (open.replies == 0) {
    open.min = open.max = code;
  } else {
    open.min = std::min(open.min, code);
    open.max = std::max(open.max, code);
  }
  increment(open.replies);
  if (open.replies <= S) {
    open.samples[open.replies - 1] = code;
    return;
  }
  // Algorithm R: the n-th reply replaces a random sample with probability S / n, which keeps
  // the samples a uniform choice of all replies so far. The multiply-shift maps to [0, n).
  const auto j =
      static_cast<std::size_t>((static_cast<std::uint64_t>(nextRandom()) * open.replies) >> 32);
  if (j < S) open.samples[j] = code;
}

template <std::size_t N, std::size_t S>
void PathHistory::close(Ring<N>& ring, Open<S>& open) {
  std::array<std::uint16_t, 9> v{};
  v[0] = saturate16(open.probes);
  v[1] = saturate16(open.lost);
  if (open.replies != 0) {
    const auto n = static_cast<std::uint32_t>(std::min<std::size_t>(open.replies, S));
    std::sort(open.samples.begin(), open.samples.begin() + n);
    for (std::size_t q = 0; q < kRankParts.size(); ++q) {
      // Nearest rank: the ceil(p * n)-th smallest sample.
      std::uint32_t rank = (kRankParts[q] * n + 9999) / 10000;
      rank = std::clamp<std::uint32_t>(rank, 1, n);
      v[2 + q] = open.samples[rank - 1];
    }
    // The ends are exact over all replies, not only over the samples.
    v[2] = open.min;
    v[2 + kRankParts.size() - 1] = open.max;
  }

  // Sequence lock, writer side. Release stores (not a release fence, which GCC's ThreadSanitizer
  // does not support): a reader whose acquire load sees any of the values below also sees the
  // odd sequence number stored before them, and so discards its copy.
  const std::uint32_t s = seq_.load(std::memory_order_relaxed);
  seq_.store(s + 1, std::memory_order_relaxed);
  const std::int64_t prev = ring.newest.load(std::memory_order_relaxed);
  const std::int64_t number = open.number;  // > prev: slots open in increasing order
  // The difference in unsigned arithmetic: exact even from kNoSlot.
  const std::uint64_t gap = static_cast<std::uint64_t>(number) - static_cast<std::uint64_t>(prev);
  if (prev == kNoSlot || gap >= N) {
    // Never-written slots are all zero already; otherwise every slot is older than the window.
    if (prev != kNoSlot) {
      for (auto& slot : ring.slots) {
        for (auto& x : slot.v) x.store(0, std::memory_order_release);
      }
    }
  } else {
    // Slots that nothing ended in: their stored contents are those of N slots earlier.
    for (std::int64_t k = prev + 1; k < number; ++k) {
      for (auto& x : ring.slots[ringIndex<N>(k)].v) x.store(0, std::memory_order_release);
    }
  }
  auto& slot = ring.slots[ringIndex<N>(number)];
  for (std::size_t i = 0; i < v.size(); ++i) slot.v[i].store(v[i], std::memory_order_release);
  ring.newest.store(number, std::memory_order_release);
  seq_.store(s + 2, std::memory_order_release);
}

template <std::size_t N>
HistoryWindow PathHistory::read(const Ring<N>& ring, Duration width) const {
  std::int64_t newest = kNoSlot;
  std::array<std::array<std::uint16_t, 9>, N> stored;
  for (;;) {
    const std::uint32_t s1 = seq_.load(std::memory_order_acquire);
    if ((s1 & 1) != 0) {
      std::this_thread::yield();
      continue;
    }
    // Acquire loads (see close()): the second load of seq_ cannot move before them.
    newest = ring.newest.load(std::memory_order_acquire);
    for (std::size_t i = 0; i < N; ++i) {
      for (std::size_t j = 0; j < stored[i].size(); ++j) {
        stored[i][j] = ring.slots[i].v[j].load(std::memory_order_acquire);
      }
    }
    if (seq_.load(std::memory_order_relaxed) == s1) break;
  }

  HistoryWindow w;
  w.slot_width = width;
  // Negative numbers come only from times before the clock's epoch; -1 would read as "none".
  if (newest < 0) return w;
  w.newest = newest;
  w.slots.resize(N);
  // The window's oldest number, newest - N + 1, sits right after the newest in the ring.
  const std::size_t first = ringIndex<N>(newest + 1);
  for (std::size_t i = 0; i < N; ++i) {
    const auto& c = stored[(first + i) % N];
    HistorySlot& out = w.slots[i];
    out.probes = c[0];
    out.lost = c[1];
    std::copy(c.begin() + 2, c.end(), out.rtt.begin());
  }
  return w;
}

HistoryWindow PathHistory::fine() const { return read(fine_, kFineWidth); }
HistoryWindow PathHistory::coarse() const { return read(coarse_, kCoarseWidth); }

}  // namespace reachmon::core
