// ScrapeCache: scrapes that come in together share a render; no scrape gets a body whose
// rendering started before it arrived; a failed render is not kept.
#include "scrape_cache.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

using reachmon::service::ScrapeCache;
using namespace std::chrono_literals;

TEST_CASE("ScrapeCache: scrapes that arrive during a render share the next one", "[scrape]") {
  std::atomic<int> renders{0};
  std::atomic<bool> release{false};
  ScrapeCache cache([&] {
    const int n = ++renders;
    while (!release) std::this_thread::sleep_for(1ms);
    return std::string(1000, static_cast<char>('a' + n));
  });
  std::vector<std::shared_ptr<const std::string>> bodies(8);
  std::vector<std::thread> scrapers;
  scrapers.emplace_back([&] { bodies[0] = cache.get(); });
  while (renders == 0) std::this_thread::sleep_for(1ms);
  std::atomic<int> calling{0};
  for (std::size_t i = 1; i < bodies.size(); ++i)
    scrapers.emplace_back([&cache, &bodies, &calling, i] {
      ++calling;
      bodies[i] = cache.get();
    });
  while (calling < 7) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(100ms);  // the seven wait for the first render by now
  release = true;
  for (auto& t : scrapers) t.join();
  // The first scrape's render started before the others arrived: they share one more render
  // (a latecomer scheduled after it may render again).
  CHECK(renders >= 2);
  CHECK(renders <= 3);
  std::map<const std::string*, int> sharing;
  for (const auto& body : bodies) {
    REQUIRE(body);
    CHECK(body->size() == 1000);
    ++sharing[body.get()];
  }
  int most = 0;
  for (const auto& [body, n] : sharing) most = std::max(most, n);
  CHECK(most >= 4);
}

TEST_CASE("ScrapeCache: a scrape after a render gets a new render", "[scrape]") {
  int renders = 0;
  ScrapeCache cache([&] { return std::to_string(++renders); });
  CHECK(*cache.get() == "1");
  CHECK(*cache.get() == "2");  // never the body of a render that started before it arrived
}

TEST_CASE("ScrapeCache: a render that throws is not kept", "[scrape]") {
  int calls = 0;
  ScrapeCache cache([&]() -> std::string {
    if (++calls == 1) throw std::runtime_error("collect failed");
    return "ok";
  });
  CHECK_THROWS_AS(cache.get(), std::runtime_error);
  CHECK(*cache.get() == "ok");
}

TEST_CASE("ScrapeCache: a render lets the previous body go first unless a scrape still sends it",
          "[scrape]") {
  std::weak_ptr<const std::string> previous;
  bool previous_alive_while_rendering = false;
  ScrapeCache cache([&] {
    previous_alive_while_rendering = !previous.expired();
    return std::string(1000, 'x');
  });
  previous = cache.get();  // sent and dropped: only the cache keeps it
  REQUIRE_FALSE(previous.expired());
  cache.get();
  CHECK_FALSE(previous_alive_while_rendering);  // memory holds one body, not two

  const auto sending = cache.get();
  previous = sending;
  cache.get();
  CHECK(previous_alive_while_rendering);
}
