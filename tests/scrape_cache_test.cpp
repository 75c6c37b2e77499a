// ScrapeCache: concurrent scrapes share one rendered body; a body is served again only while it
// is younger than max_age; a failed render is not cached.
#include "scrape_cache.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <stdexcept>
#include <thread>
#include <vector>

using reachmon::service::ScrapeCache;
using namespace std::chrono_literals;

TEST_CASE("ScrapeCache: scrapes that arrive during a render share its body", "[scrape]") {
  std::atomic<int> renders{0};
  std::atomic<bool> release{false};
  ScrapeCache cache(
      [&] {
        ++renders;
        while (!release) std::this_thread::sleep_for(1ms);
        return std::string(1000, 'x');
      },
      0ms);  // no reuse after the render: only sharing
  std::vector<std::shared_ptr<const std::string>> bodies(8);
  std::vector<std::thread> scrapers;
  for (auto& body : bodies) scrapers.emplace_back([&cache, &body] { body = cache.get(); });
  while (renders == 0) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(50ms);  // the other seven are waiting by now (or arrive later)
  release = true;
  for (auto& t : scrapers) t.join();
  // Scrapers that arrived during the render got its body; a latecomer may render once more.
  CHECK(renders <= 2);
  std::size_t sharing_first = 0;
  for (const auto& body : bodies) {
    REQUIRE(body);
    CHECK(body->size() == 1000);
    if (body == bodies.front()) ++sharing_first;
  }
  CHECK(sharing_first >= 4);
}

TEST_CASE("ScrapeCache: a body is reused only while it is young", "[scrape]") {
  int renders = 0;
  ScrapeCache cache([&] { return std::to_string(++renders); }, 200ms);
  const auto start = std::chrono::steady_clock::now();
  const auto first = cache.get();
  const auto second = cache.get();
  if (std::chrono::steady_clock::now() - start < 200ms) CHECK(second == first);  // young: reused
  std::this_thread::sleep_for(250ms);
  const auto third = cache.get();
  CHECK(*third != *first);  // older than max_age: rendered again
}

TEST_CASE("ScrapeCache: a render that throws is not cached", "[scrape]") {
  int calls = 0;
  ScrapeCache cache([&]() -> std::string {
    if (++calls == 1) throw std::runtime_error("collect failed");
    return "ok";
  });
  CHECK_THROWS_AS(cache.get(), std::runtime_error);
  CHECK(*cache.get() == "ok");
}
