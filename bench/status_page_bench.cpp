// The status page's cost: renders "/" and "/path" over a synthetic snapshot whose every path has a
// full history (3 hours and 10 minutes of probes every second, RTTs with jitter, some loss), and
// prints the times as a Markdown table. bench/status_page.sh runs it; docs/benchmarks.md has the
// figures. Usage: status_page_bench [--paths N] [--sources S] [--runs R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "gzip.h"
#include "reachmon/core/history.h"
#include "reachmon/service/status_page.h"

using namespace reachmon;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

core::Snapshot makeSnapshot(int paths, int sources, core::TimePoint now) {
  core::Snapshot snap;
  for (int s = 0; s < sources; ++s)
    snap.sources.push_back({"isp-" + std::to_string(s), core::Family::kIpv4,
                            core::parseIpAddress("192.0.2." + std::to_string(s + 1))});
  std::mt19937 rng(42);
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  for (int i = 0; i < paths; ++i) {
    auto spec = std::make_shared<core::PathSpec>();
    spec->source = snap.sources[static_cast<std::size_t>(i % sources)].name;
    spec->target = "target-" + std::to_string(i / sources);
    spec->host = "198.51." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1);
    spec->target_address = core::parseIpAddress(spec->host);
    auto stats = std::make_shared<core::PathStats>();
    auto history = std::make_shared<core::PathHistory>(static_cast<std::uint32_t>(i + 1));
    const double base_ms = 5.0 + (i % 37);
    for (auto t = now - 3h - 10min; t <= now; t += 1s) {
      const bool lost = jitter(rng) < 0.02;
      const double ms = base_ms * (1.0 + 0.3 * jitter(rng) * jitter(rng));
      history->record(t, lost ? std::nullopt
                              : std::optional<core::Duration>(
                                    core::Duration{static_cast<std::int64_t>(ms * 1e6)}));
      core::PathStats::add(stats->scheduled);
      if (!lost) core::PathStats::add(stats->replied);
    }
    stats->state = core::PathState::kUp;
    stats->last_rtt_ns = static_cast<std::int64_t>(base_ms * 1e6);
    snap.paths.push_back({spec, stats, history});
  }
  return snap;
}

struct Result {
  double median_ms = 0, min_ms = 0, gzip_ms = 0, gzip6_ms = 0;
  std::size_t bytes = 0, gzip_bytes = 0, gzip6_bytes = 0;
};

// Compresses `html` at `level`: (bytes, milliseconds).
std::pair<std::size_t, double> compress(const std::string& html, int level) {
  const auto start = Clock::now();
  service::GzipWriter gz(level, html.size() / 4);
  gz.write(html);
  const std::size_t bytes = gz.finish().size();
  return {bytes, std::chrono::duration<double, std::milli>(Clock::now() - start).count()};
}

template <typename Render>
Result measure(int runs, Render render) {
  std::vector<double> ms;
  Result r;
  for (int i = 0; i < runs; ++i) {
    const auto start = Clock::now();
    const std::string html = render();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
    r.bytes = html.size();
    if (i == 0) {  // as the HTTP front sends it to a browser, and at zlib's default level
      std::tie(r.gzip_bytes, r.gzip_ms) = compress(html, service::kPageGzipLevel);
      std::tie(r.gzip6_bytes, r.gzip6_ms) = compress(html, 6);
    }
  }
  std::sort(ms.begin(), ms.end());
  r.median_ms = ms[ms.size() / 2];
  r.min_ms = ms.front();
  return r;
}

void row(std::string_view what, const Result& r) {
  std::printf("| %.*s | %.1f ms | %.1f ms | %.2f MB | %.2f MB, %.1f ms | %.2f MB, %.1f ms |\n",
              static_cast<int>(what.size()), what.data(), r.median_ms, r.min_ms,
              static_cast<double>(r.bytes) / 1e6, static_cast<double>(r.gzip_bytes) / 1e6,
              r.gzip_ms, static_cast<double>(r.gzip6_bytes) / 1e6, r.gzip6_ms);
}

int intArg(int argc, char** argv, std::string_view name, int fallback) {
  for (int i = 1; i + 1 < argc; ++i)
    if (argv[i] == name) return std::atoi(argv[i + 1]);
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int paths = intArg(argc, argv, "--paths", 1000);
  const int sources = intArg(argc, argv, "--sources", 4);
  const int runs = intArg(argc, argv, "--runs", 21);
  if (paths < 1 || sources < 1 || runs < 1) {
    std::fprintf(stderr, "usage: status_page_bench [--paths N] [--sources S] [--runs R]\n");
    return 2;
  }
  const core::TimePoint now{1000h};
  const auto built = Clock::now();
  const core::Snapshot snap = makeSnapshot(paths, sources, now);
  std::fprintf(stderr, "history of %d paths built in %.1f s\n", paths,
               std::chrono::duration<double>(Clock::now() - built).count());
  service::PageTime time;
  time.now = now;
  time.unix_seconds = 1'800'000'000;
  const auto overview = [&](const char* query, std::size_t per_page) {
    return [&, query, per_page] {
      return service::renderStatusPage(snap, "bench", service::PageQuery::parse(query), time,
                                       {per_page})
          .html;
    };
  };
  std::printf(
      "| page (%d paths, %d sources, full history) | render, median of %d | fastest | "
      "HTML | gzip as sent (level 1) | gzip level 6 |\n|---|---|---|---|---|---|\n",
      paths, sources, runs);
  row("`/`, every path on one page, 3 hours", measure(runs, overview("", std::size_t(paths))));
  row("`/`, every path on one page, 10 minutes",
      measure(runs, overview("window=10m", std::size_t(paths))));
  row("`/`, first page (100 paths, the default page size), 3 hours",
      measure(runs, overview("", 100)));
  row("`/path` (one path, both windows, large)", measure(runs, [&] {
        return service::renderPathPage(
                   snap, "bench", service::PageQuery::parse("source=isp-0&target=target-0"), time)
            .html;
      }));
  return 0;
}
