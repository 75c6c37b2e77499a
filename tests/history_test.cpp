#include "reachmon/core/history.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <thread>
#include <vector>

using namespace reachmon::core;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kFineN = PathHistory::kFineSlots;
constexpr std::size_t kCoarseN = PathHistory::kCoarseSlots;

using Codes = std::array<std::uint16_t, 7>;

Codes allCodes(Duration rtt) {
  Codes c{};
  c.fill(encodeRtt(rtt));
  return c;
}

// The slot numbered k in a window (k within it).
HistorySlot slotNumbered(const HistoryWindow& w, std::int64_t k) {
  REQUIRE(!w.slots.empty());
  const std::int64_t first = w.numberOf(0);
  REQUIRE(k >= first);
  REQUIRE(k <= w.newest);
  return w.slots[static_cast<std::size_t>(k - first)];
}

// Nearest rank on the exact RTTs, in integer arithmetic: the ceil(p * n)-th smallest.
Codes referenceQuantiles(std::vector<Duration> rtts) {
  Codes out{};
  if (rtts.empty()) return out;
  std::sort(rtts.begin(), rtts.end());
  static constexpr std::array<std::size_t, 7> kPercent = {0, 10, 25, 50, 75, 90, 100};
  const std::size_t n = rtts.size();
  for (std::size_t i = 0; i < kPercent.size(); ++i) {
    const std::size_t rank = std::clamp<std::size_t>((kPercent[i] * n + 99) / 100, 1, n);
    out[i] = encodeRtt(rtts[rank - 1]);
  }
  return out;
}

// Random RTTs of a few shapes: 0 uniform, 1 bimodal, 2 around the exact range of the codes,
// 3 narrow (a test adds an outlier).
Duration drawRtt(std::mt19937& rng, int kind) {
  switch (kind) {
    case 0:
      return Duration{std::uniform_int_distribution<std::int64_t>(100'000, 50'000'000)(rng)};
    case 1: {
      const bool low = std::bernoulli_distribution(0.7)(rng);
      const double ns = low ? std::normal_distribution<double>(10e6, 0.5e6)(rng)
                            : std::normal_distribution<double>(80e6, 3e6)(rng);
      return Duration{std::max<std::int64_t>(1, static_cast<std::int64_t>(ns))};
    }
    case 2:
      return Duration{std::uniform_int_distribution<std::int64_t>(1, 4000)(rng)};
    default:
      return Duration{std::uniform_int_distribution<std::int64_t>(5'000'000, 15'000'000)(rng)};
  }
}

struct SlotTruth {
  std::uint32_t probes = 0;
  std::uint32_t lost = 0;
  std::vector<Duration> rtts;
  void add(const std::optional<Duration>& rtt) {
    ++probes;
    if (rtt) {
      rtts.push_back(*rtt);
    } else {
      ++lost;
    }
  }
};

void checkSlot(const HistorySlot& slot, const SlotTruth& truth) {
  CHECK(slot.probes == truth.probes);
  CHECK(slot.lost == truth.lost);
  CHECK(slot.rtt == referenceQuantiles(truth.rtts));
}

}  // namespace

TEST_CASE("PathHistory: RTT codes are exact below 2048 ns and never more than 0.1 % low",
          "[history]") {
  std::vector<std::int64_t> bad;
  for (std::int64_t x = 1; x < 2048; ++x) {
    if (encodeRtt(Duration{x}) != x || decodeRtt(encodeRtt(Duration{x})) != Duration{x}) {
      bad.push_back(x);
    }
  }
  CHECK(bad.empty());

  std::vector<std::int64_t> values = {2047,      2048,           2049,          4095,
                                      4096,      4097,           1'000'000,     999'999,
                                      1'000'001, 60'000'000'000, 59'999'999'999};
  for (int bit = 11; bit <= 36; ++bit) {  // around every power of two up to about 68 s
    for (std::int64_t d = -3; d <= 3; ++d) values.push_back((std::int64_t{1} << bit) + d);
  }
  std::mt19937_64 rng(12345);
  std::uniform_real_distribution<double> log_ns(0.0, std::log(60e9));
  for (int i = 0; i < 100'000; ++i) {
    values.push_back(std::max<std::int64_t>(1, static_cast<std::int64_t>(std::exp(log_ns(rng)))));
  }
  for (const std::int64_t x : values) {
    const std::int64_t d = decodeRtt(encodeRtt(Duration{x})).count();
    // d >= x * (1 - 1/1024), in integers.
    if (d > x || (x - d) * 1024 > x) bad.push_back(x);
  }
  INFO("first value decoded wrongly: " << (bad.empty() ? 0 : bad.front()));
  CHECK(bad.empty());

  // Codes sort like the RTTs.
  std::sort(values.begin(), values.end());
  for (std::size_t i = 1; i < values.size(); ++i) {
    if (encodeRtt(Duration{values[i - 1]}) > encodeRtt(Duration{values[i]})) {
      bad.push_back(values[i]);
    }
  }
  INFO("first value whose code is below its predecessor's: " << (bad.empty() ? 0 : bad.front()));
  CHECK(bad.empty());
  CHECK(encodeRtt(Duration{2047}) < encodeRtt(Duration{2048}));

  CHECK(encodeRtt(0ns) == 0);
  CHECK(encodeRtt(-1ns) == 0);
  CHECK(encodeRtt(-5s) == 0);
  CHECK(encodeRtt(Duration::min()) == 0);
}

TEST_CASE("PathHistory: slots close at their exact boundary, when the next outcome arrives",
          "[history]") {
  PathHistory h;
  h.record(10s - 1ns, 5ms);
  CHECK(h.fine().newest == -1);  // slot 0 is still open
  CHECK(h.fine().slots.empty());

  h.record(10s, 7ms);  // slot 1's first outcome closes slot 0
  HistoryWindow w = h.fine();
  REQUIRE(w.newest == 0);
  REQUIRE(w.slots.size() == kFineN);
  CHECK(w.slot_width == 10s);
  CHECK(w.numberOf(kFineN - 1) == 0);
  CHECK(w.slots.back().probes == 1);
  CHECK(w.slots.back().lost == 0);
  CHECK(w.slots.back().rtt == allCodes(5ms));  // 7 ms went to slot 1
  CHECK(w.slots.back().quantile(HistoryQuantile::kMedian) == decodeRtt(encodeRtt(5ms)));
  for (std::size_t i = 0; i + 1 < w.slots.size(); ++i) CHECK(w.slots[i].empty());

  h.record(20s - 1ns, 9ms);
  CHECK(h.fine().newest == 0);
  h.record(20s, 1ms);
  w = h.fine();
  REQUIRE(w.newest == 1);
  CHECK(w.slotStart(1) == 10s);
  CHECK(slotNumbered(w, 0).probes == 1);
  CHECK(slotNumbered(w, 1).probes == 2);
  CHECK(slotNumbered(w, 1).rtt[static_cast<std::size_t>(HistoryQuantile::kMin)] == encodeRtt(7ms));
  CHECK(slotNumbered(w, 1).rtt[static_cast<std::size_t>(HistoryQuantile::kMax)] == encodeRtt(9ms));

  // The coarse ring: nothing until the first minute ends.
  CHECK(h.coarse().newest == -1);
  h.record(60s - 1ns, 3ms);
  CHECK(h.coarse().newest == -1);
  CHECK(h.fine().newest == 2);  // 60 s - 1 ns is in fine slot 5: slot 2 closed
  h.record(60s, std::nullopt);
  w = h.coarse();
  REQUIRE(w.newest == 0);
  REQUIRE(w.slots.size() == kCoarseN);
  CHECK(w.slot_width == 60s);
  CHECK(w.slots.back().probes == 5);
  CHECK(w.slots.back().lost == 0);
  CHECK(h.fine().newest == 5);

  SECTION("far from the clock's epoch, slot numbers are floor(t / width)") {
    PathHistory far;
    const TimePoint t0{1'234'567'891'234'567};  // about 14 days, not on any boundary
    const std::int64_t fine0 = t0 / PathHistory::kFineWidth;
    const std::int64_t coarse0 = t0 / PathHistory::kCoarseWidth;
    far.record(t0, 2ms);
    far.record(PathHistory::kFineWidth * (fine0 + 1) - 1ns, 4ms);  // still slot fine0
    far.record(PathHistory::kFineWidth * (fine0 + 1), 6ms);
    w = far.fine();
    REQUIRE(w.newest == fine0);
    CHECK(w.slots.back().probes == 2);
    CHECK(w.slotStart(w.newest) <= t0);
    CHECK(t0 < w.slotStart(w.newest + 1));
    CHECK(far.coarse().newest == -1);
    far.record(PathHistory::kCoarseWidth * (coarse0 + 1), 8ms);
    w = far.coarse();
    REQUIRE(w.newest == coarse0);
    CHECK(w.slots.back().probes == 3);
    CHECK(w.slots.back().rtt[0] == encodeRtt(2ms));
    CHECK(w.slots.back().rtt[6] == encodeRtt(6ms));
  }
}

TEST_CASE("PathHistory: silences show as empty slots and old slots leave the window", "[history]") {
  SECTION("a silence of a few slots") {
    PathHistory h;
    for (const std::int64_t k : {0, 1, 5, 6}) h.record(PathHistory::kFineWidth * k + 3s, 1ms);
    const HistoryWindow w = h.fine();
    REQUIRE(w.newest == 5);
    REQUIRE(w.slots.size() == kFineN);
    for (std::int64_t k = w.numberOf(0); k <= w.newest; ++k) {
      INFO("slot " << k);
      CHECK(slotNumbered(w, k).probes == (k == 0 || k == 1 || k == 5 ? 1 : 0));
    }
  }

  SECTION("a silence longer than the ring clears everything older") {
    PathHistory h;
    for (std::int64_t k = 0; k < 60; ++k) h.record(PathHistory::kFineWidth * k, 1ms);
    h.record(PathHistory::kFineWidth * 120, 1ms);  // closes 59; 60..119 silent
    h.record(PathHistory::kFineWidth * 121, 1ms);  // closes 120
    const HistoryWindow w = h.fine();
    REQUIRE(w.newest == 120);
    REQUIRE(w.slots.size() == kFineN);
    for (std::size_t i = 0; i + 1 < w.slots.size(); ++i) CHECK(w.slots[i].empty());
    CHECK(w.slots.back().probes == 1);
  }

  SECTION("slots and silences at random, against a model") {
    // The model: an outcome counts in its time's slot, or in the open slot if that is later; the
    // open slot closes when an outcome counts in a later one.
    struct Model {
      std::int64_t open = -1;
      std::int64_t newest = -1;
      std::map<std::int64_t, std::uint16_t> counts;
      void add(std::int64_t number) {
        if (number > open) {
          if (open >= 0) newest = open;
          open = number;
        }
        ++counts[open];
      }
    };
    PathHistory h(7);
    std::mt19937 rng(99);
    Model fine_model;
    Model coarse_model;
    // In fine slots from the open one: earlier, the same, the next, gaps up to and beyond a ring.
    const std::array<std::int64_t, 10> kJumps = {-3, -1, 0, 0, 1, 2, 7, 59, 60, 61};
    for (int step = 0; step < 3000; ++step) {
      std::int64_t jump = kJumps[std::uniform_int_distribution<std::size_t>(0, 9)(rng)];
      if (step % 500 == 499) jump = 400;  // a silence longer than the coarse ring
      const std::int64_t slot = std::max<std::int64_t>(0, fine_model.open + jump);
      const TimePoint t =
          PathHistory::kFineWidth * slot + Duration{std::uniform_int_distribution<std::int64_t>(
                                               0, PathHistory::kFineWidth.count() - 1)(rng)};
      fine_model.add(t / PathHistory::kFineWidth);
      coarse_model.add(t / PathHistory::kCoarseWidth);
      h.record(t, 1ms);

      for (const bool fine : {true, false}) {
        const HistoryWindow w = fine ? h.fine() : h.coarse();
        const Model& model = fine ? fine_model : coarse_model;
        INFO("step " << step << (fine ? " fine" : " coarse"));
        REQUIRE(w.newest == model.newest);
        if (model.newest == -1) {
          REQUIRE(w.slots.empty());
          continue;
        }
        REQUIRE(w.slots.size() == (fine ? kFineN : kCoarseN));
        for (std::size_t i = 0; i < w.slots.size(); ++i) {
          const std::int64_t k = w.numberOf(i);
          const auto it = model.counts.find(k);
          // The open slot's outcomes are not visible yet.
          const std::uint16_t expected =
              it == model.counts.end() || k == model.open ? 0 : it->second;
          if (w.slots[i].probes != expected) {
            INFO("slot " << k);
            REQUIRE(w.slots[i].probes == expected);
          }
        }
      }
    }
  }

  SECTION("after 200 minutes, the coarse window holds exactly the last 180") {
    PathHistory h;
    for (std::int64_t i = 0; i < 1200; ++i) h.record(5s + 10s * i, 1ms);
    h.record(200min + 1s, 1ms);
    HistoryWindow w = h.coarse();
    REQUIRE(w.newest == 199);
    REQUIRE(w.slots.size() == 180);
    CHECK(w.numberOf(0) == 20);
    for (const HistorySlot& s : w.slots) CHECK(s.probes == 6);
    w = h.fine();
    REQUIRE(w.newest == 1199);
    REQUIRE(w.slots.size() == 60);
    for (const HistorySlot& s : w.slots) CHECK(s.probes == 1);
  }
}

TEST_CASE("PathHistory: loss and quantiles match a reference while every reply is kept",
          "[history]") {
  const auto data_seed = GENERATE(1u, 2u, 3u);
  std::mt19937 rng(data_seed);
  PathHistory h(data_seed);
  std::vector<SlotTruth> fine_truth(60);
  std::vector<SlotTruth> coarse_truth(10);
  for (std::size_t k = 0; k < 60; ++k) {
    const std::size_t minute = k / 6;
    const std::size_t sixth = k % 6;
    // Per minute, fine slots of up to 32 replies and minutes of up to 128, both limits reached.
    std::size_t replies = 0;
    std::size_t losses = std::uniform_int_distribution<std::size_t>(0, 3)(rng);
    if (minute % 3 == 0) {
      replies = std::array<std::size_t, 6>{32, 32, 32, 32, 0, 0}[sixth];
      losses = std::array<std::size_t, 6>{0, 1, 2, 3, 0, 2}[sixth];  // slot 4 empty, 5 all lost
    } else if (minute % 3 == 1) {
      replies = std::uniform_int_distribution<std::size_t>(1, 21)(rng);
    } else {
      replies = std::array<std::size_t, 6>{1, 2, 3, 0, 5, 30}[sixth];
    }
    const int kind = static_cast<int>(k % 4);
    std::vector<std::optional<Duration>> outcomes;
    for (std::size_t i = 0; i < replies; ++i) outcomes.emplace_back(drawRtt(rng, kind));
    if (kind == 3 && replies > 1) outcomes[replies / 2] = 30s;  // one huge outlier
    outcomes.insert(outcomes.end(), losses, std::nullopt);
    std::shuffle(outcomes.begin(), outcomes.end(), rng);
    for (const auto& rtt : outcomes) {
      // Any time within the slot, in no particular order.
      const TimePoint when =
          PathHistory::kFineWidth * static_cast<std::int64_t>(k) +
          Duration{std::uniform_int_distribution<std::int64_t>(0, 9'999'999'999)(rng)};
      h.record(when, rtt);
      fine_truth[k].add(rtt);
      coarse_truth[minute].add(rtt);
    }
  }
  h.record(600s, 1ms);  // closes fine slot 59 and minute 9

  const HistoryWindow fine = h.fine();
  REQUIRE(fine.newest == 59);
  for (std::int64_t k = 0; k < 60; ++k) {
    INFO("data seed " << data_seed << ", fine slot " << k);
    checkSlot(slotNumbered(fine, k), fine_truth[static_cast<std::size_t>(k)]);
  }
  CHECK(slotNumbered(fine, 4).empty());
  CHECK(slotNumbered(fine, 5).allLost());
  const HistoryWindow coarse = h.coarse();
  REQUIRE(coarse.newest == 9);
  for (std::int64_t m = 0; m < 10; ++m) {
    INFO("data seed " << data_seed << ", minute " << m);
    checkSlot(slotNumbered(coarse, m), coarse_truth[static_cast<std::size_t>(m)]);
  }
}

TEST_CASE("PathHistory: beyond the sample size, min and max stay exact and quantiles close",
          "[history]") {
  // One probe per 10 ms for 20 minutes: 1,000 outcomes per fine slot, 6,000 per minute, so the
  // quantiles come from a uniform sample of 32 (fine) or 128 (coarse) of the replies.
  //
  // The population rank of the nearest-rank p-quantile of a uniform sample of m is about
  // Beta(ceil(p m), m - ceil(p m) + 1): standard deviation up to 0.088 for m = 32 and 0.044 for
  // m = 128 (at the median). Per slot, the reported quantile's rank must be within 0.4 (fine)
  // or 0.25 (coarse) of p: the exact binomial tails put a miss at below 5e-6 (fine) and 1e-8
  // (coarse) per check. Bias shows in the mean over all slots instead, allowed 0.06 off p: the
  // nearest rank's own bias is at most 0.023 (fine), and 0.06 is over 4.5 standard deviations
  // of the mean of 120 (fine) or 20 (coarse) slots beyond that. Replies come in ascending,
  // descending or random order, so a sample that favoured early or late replies would miss by
  // far more.
  constexpr double kFineTolerance = 0.4;
  constexpr double kCoarseTolerance = 0.25;
  constexpr double kMeanTolerance = 0.06;
  constexpr std::array<std::size_t, 5> kMiddle = {1, 2, 3, 4, 5};

  const auto seed = GENERATE(11u, 12u);
  std::mt19937 rng(std::mt19937::result_type{seed} * 7919);
  PathHistory h(seed);
  std::array<double, 7> fine_error_sum{};
  std::array<double, 7> coarse_error_sum{};
  std::size_t fine_slots = 0;
  std::size_t coarse_slots = 0;

  const auto check = [&](const HistorySlot& slot, const SlotTruth& truth, double tolerance,
                         std::array<double, 7>& error_sum) {
    CHECK(slot.probes == truth.probes);
    CHECK(slot.lost == truth.lost);
    REQUIRE(!truth.rtts.empty());
    const auto [lo, hi] = std::minmax_element(truth.rtts.begin(), truth.rtts.end());
    CHECK(slot.rtt[0] == encodeRtt(*lo));
    CHECK(slot.rtt[6] == encodeRtt(*hi));
    std::vector<std::uint16_t> codes;
    for (const Duration d : truth.rtts) codes.push_back(encodeRtt(d));
    std::sort(codes.begin(), codes.end());
    for (const std::size_t q : kMiddle) {
      // The fraction of the replies not above the reported value.
      const auto not_above = std::upper_bound(codes.begin(), codes.end(), slot.rtt[q]);
      const double rank =
          static_cast<double>(not_above - codes.begin()) / static_cast<double>(codes.size());
      INFO("quantile " << kHistoryQuantiles[q] << " reported at rank " << rank);
      CHECK(std::abs(rank - kHistoryQuantiles[q]) <= tolerance);
      error_sum[q] += rank - kHistoryQuantiles[q];
    }
  };

  SlotTruth fine_truth;
  SlotTruth coarse_truth;
  std::vector<Duration> rtts;
  for (std::int64_t k = 0; k < 120; ++k) {
    const std::int64_t minute = k / 6;
    const int kind = std::array<int, 3>{0, 1, 3}[static_cast<std::size_t>(minute % 3)];
    rtts.clear();
    for (int i = 0; i < 1000; ++i) rtts.push_back(drawRtt(rng, kind));
    if (kind == 3 && k % 6 == 2) rtts[417] = 30s;
    if (k % 3 == 0) std::sort(rtts.begin(), rtts.end());
    if (k % 3 == 2) std::sort(rtts.rbegin(), rtts.rend());
    for (std::int64_t i = 0; i < 1000; ++i) {
      const TimePoint when = PathHistory::kFineWidth * k + 10ms * i + 5ms;
      const std::optional<Duration> rtt =
          i % 50 == 49 ? std::nullopt : std::optional<Duration>(rtts[static_cast<std::size_t>(i)]);
      h.record(when, rtt);
      if (i == 0 && k > 0) {
        const HistoryWindow w = h.fine();  // the first outcome of slot k closed slot k - 1
        REQUIRE(w.newest == k - 1);
        INFO("seed " << seed << ", fine slot " << k - 1);
        check(w.slots.back(), fine_truth, kFineTolerance, fine_error_sum);
        ++fine_slots;
        fine_truth = SlotTruth{};
        if (k % 6 == 0) {
          const HistoryWindow c = h.coarse();
          REQUIRE(c.newest == minute - 1);
          INFO("seed " << seed << ", minute " << minute - 1);
          check(c.slots.back(), coarse_truth, kCoarseTolerance, coarse_error_sum);
          ++coarse_slots;
          coarse_truth = SlotTruth{};
        }
      }
      fine_truth.add(rtt);
      coarse_truth.add(rtt);
    }
  }
  CHECK(fine_slots == 119);
  CHECK(coarse_slots == 19);
  for (const std::size_t q : kMiddle) {
    INFO("seed " << seed << ", quantile " << kHistoryQuantiles[q]);
    CHECK(std::abs(fine_error_sum[q] / static_cast<double>(fine_slots)) <= kMeanTolerance);
    CHECK(std::abs(coarse_error_sum[q] / static_cast<double>(coarse_slots)) <= kMeanTolerance);
  }
}

TEST_CASE("PathHistory: an outcome timed before the open slot counts in the open slot",
          "[history]") {
  PathHistory h;
  h.record(5s, 1ms);           // fine slot 0
  h.record(25s, 2ms);          // closes slot 0, opens slot 2
  h.record(5s, std::nullopt);  // slot 0's time: counts in slot 2
  h.record(15s, 3ms);          // slot 1's time: counts in slot 2
  h.record(30s, 4ms);          // closes slot 2
  HistoryWindow w = h.fine();
  REQUIRE(w.newest == 2);
  CHECK(slotNumbered(w, 0).probes == 1);
  CHECK(slotNumbered(w, 0).rtt == allCodes(1ms));
  CHECK(slotNumbered(w, 1).empty());
  const HistorySlot& open = slotNumbered(w, 2);
  CHECK(open.probes == 3);
  CHECK(open.lost == 1);
  CHECK(open.rtt[0] == encodeRtt(2ms));
  CHECK(open.rtt[6] == encodeRtt(3ms));

  h.record(65s, 5ms);           // closes minute 0 (5 outcomes), opens minute 1
  h.record(59s, std::nullopt);  // minute 0's time: counts in minute 1
  h.record(125s, 6ms);          // closes minute 1
  w = h.coarse();
  REQUIRE(w.newest == 1);
  CHECK(slotNumbered(w, 0).probes == 5);
  CHECK(slotNumbered(w, 0).lost == 1);
  CHECK(slotNumbered(w, 1).probes == 2);
  CHECK(slotNumbered(w, 1).lost == 1);
  CHECK(slotNumbered(w, 1).rtt == allCodes(5ms));
}

TEST_CASE("PathHistory: all lost, no data, and counts beyond 16 bits", "[history]") {
  PathHistory h;
  for (const HistoryWindow& w : {h.fine(), h.coarse()}) {
    CHECK(w.newest == -1);
    CHECK(w.slots.empty());
  }
  CHECK(h.fine().slot_width == 10s);
  CHECK(h.coarse().slot_width == 60s);

  for (int i = 0; i < 3; ++i) h.record(1s + 1s * i, std::nullopt);
  h.record(11s, std::nullopt);
  h.record(12s, 9ms);
  h.record(21s, 1ms);
  const HistoryWindow w = h.fine();
  REQUIRE(w.newest == 1);
  const HistorySlot& dark = slotNumbered(w, 0);
  CHECK(dark.probes == 3);
  CHECK(dark.lost == 3);
  CHECK(dark.allLost());
  CHECK(!dark.empty());
  CHECK(dark.rtt == Codes{});
  const HistorySlot& half = slotNumbered(w, 1);
  CHECK(!half.allLost());
  CHECK(half.lost == 1);
  CHECK(half.rtt == allCodes(9ms));

  // Counts beyond 16 bits saturate instead of wrapping.
  PathHistory busy;
  for (int i = 0; i < 70'000; ++i) {
    busy.record(10s + 100ns * i, i % 7 == 0 ? std::optional<Duration>(2ms) : std::nullopt);
  }
  busy.record(20s, 1ms);
  const HistorySlot& many = slotNumbered(busy.fine(), 1);
  CHECK(many.probes == 65535);
  CHECK(many.lost == 60'000);
  CHECK(many.rtt == allCodes(2ms));
}

TEST_CASE("PathHistory: readers never see a half-written slot", "[history]") {
  // An outcome every 2.5 s, so that a slot closes every 4 outcomes: 4 per fine slot and 24 per
  // minute, the fourth of every fine slot lost, and every reply in minute j with RTT
  // (j mod 2000) + 1 ns, which codes hold exactly. A consistent slot has its full counts and
  // seven codes that all stand for its own minute; a torn copy mixes a slot with the one it
  // replaced, N slots earlier, whose minute differs, or sees the window's newest before the slot
  // written with it.
  const Duration interval = 2500ms;
  const auto rttOf = [](std::int64_t minute) { return Duration{minute % 2000 + 1}; };
  // At least kOutcomes, and on until the readers read often enough (the machine may be busy);
  // kMaxOutcomes keeps the run short under ThreadSanitizer.
  constexpr std::int64_t kOutcomes = 200'000;
  constexpr std::int64_t kMaxOutcomes = 600'000;
  constexpr std::uint64_t kReads = 2000;
  PathHistory h(3);
  std::atomic<bool> done{false};
  std::atomic<int> started{0};
  std::atomic<std::uint64_t> reads{0};

  struct Findings {
    std::uint64_t reads = 0;
    std::uint64_t bad = 0;
    std::int64_t first_bad = 0;
  };
  const auto reader = [&](Findings& f) {
    std::int64_t last_fine = -1;
    std::int64_t last_coarse = -1;
    const auto verify = [&](const HistoryWindow& w, bool fine, std::int64_t& last) {
      ++f.reads;
      const auto fail = [&](std::int64_t k) {
        if (f.bad++ == 0) f.first_bad = k;
      };
      if (w.newest < last) fail(w.newest);
      last = w.newest;
      if (w.newest == -1) {
        if (!w.slots.empty()) fail(-1);
        return;
      }
      if (w.slots.size() != (fine ? kFineN : kCoarseN)) fail(w.newest);
      for (std::size_t i = 0; i < w.slots.size(); ++i) {
        const std::int64_t k = w.numberOf(i);
        const HistorySlot& s = w.slots[i];
        if (k < 0) {
          if (!s.empty()) fail(k);
          continue;
        }
        const std::int64_t minute = fine ? k / 6 : k;
        const std::uint16_t probes = fine ? 4 : 24;
        if (s.probes != probes || s.lost != probes / 4 || s.rtt != allCodes(rttOf(minute))) {
          fail(k);
        }
      }
    };
    bool first = true;
    while (!done.load(std::memory_order_acquire)) {
      verify(h.fine(), true, last_fine);
      verify(h.coarse(), false, last_coarse);
      reads.fetch_add(1, std::memory_order_relaxed);
      if (first) ++started;
      first = false;
    }
  };

  std::array<Findings, 2> findings{};
  std::thread r1(reader, std::ref(findings[0]));
  std::thread r2(reader, std::ref(findings[1]));
  // Start writing once both readers are reading.
  while (started.load() < 2) std::this_thread::yield();
  const std::uint64_t reads_before = reads.load();
  std::int64_t n = 0;
  for (; n < kMaxOutcomes; ++n) {
    if (n >= kOutcomes && n % 1000 == 0 &&
        reads.load(std::memory_order_relaxed) - reads_before >= kReads) {
      break;
    }
    const TimePoint when = interval * n;
    const std::int64_t minute = when / PathHistory::kCoarseWidth;
    h.record(when, n % 4 == 3 ? std::nullopt : std::optional<Duration>(rttOf(minute)));
  }
  done.store(true, std::memory_order_release);
  r1.join();
  r2.join();

  INFO(n << " outcomes, " << reads.load() - reads_before << " reads while writing");
  for (const Findings& f : findings) {
    INFO("reads " << f.reads << ", first inconsistent slot " << f.first_bad);
    CHECK(f.reads > 0);
    CHECK(f.bad == 0);
  }
  // What the readers raced against is what they should see at the end.
  CHECK(h.fine().newest == (n - 1) / 4 - 1);
  CHECK(h.coarse().newest == (n - 1) / 24 - 1);
}
