// App with a fake probe engine: start-up, reload by request, by file edit and over HTTP, refused
// edits that keep the running config, health, and stop. Real files, real HTTP on port 0.
#include "reachmon/service/app.h"

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "config_file.h"
#include "eventually.h"
#include "http_client.h"

using namespace reachmon;
using namespace reachmon::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Records every path set handed to it and publishes it as its snapshot.
class FakeMonitor final : public core::Monitor {
 public:
  void start() override { started = true; }
  void stop() override { stopped = true; }
  void apply(core::PathSet set, core::Duration) override {
    auto snap = std::make_shared<core::Snapshot>();
    for (auto& p : set.paths)
      snap->paths.push_back(
          {std::make_shared<core::PathSpec>(p), std::make_shared<core::PathStats>()});
    snapshots_.publish(std::move(snap));
    std::lock_guard lock(mutex_);
    applied.push_back(std::move(set));
  }
  std::shared_ptr<const core::Snapshot> snapshot() const override { return snapshots_.get(); }
  const core::MonitorStats& stats() const override { return stats_; }
  std::string engineName() const override { return "fake"; }
  std::string rttTimestamps() const override { return "user_space"; }
  core::TimePoint now() const override { return clock_.now(); }

  std::size_t appliedCount() {
    std::lock_guard lock(mutex_);
    return applied.size();
  }
  std::vector<std::string> lastTargets() {
    std::lock_guard lock(mutex_);
    std::vector<std::string> out;
    for (const auto& p : applied.back().paths) out.push_back(p.target);
    return out;
  }
  // The address of `target`'s first path in the latest path set (nullopt: unresolved).
  std::optional<core::IpAddress> lastAddress(const std::string& target) {
    std::lock_guard lock(mutex_);
    for (const auto& p : applied.back().paths)
      if (p.target == target) return p.target_address;
    return std::nullopt;
  }
  void beat(std::chrono::nanoseconds age) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch();
    stats_.heartbeat_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - age).count();
  }

  std::atomic<bool> started{false}, stopped{false};
  std::vector<core::PathSet> applied;

 private:
  std::mutex mutex_;
  core::SnapshotBox snapshots_;
  core::SteadyClock clock_;
  core::MonitorStats stats_;
};

std::string configText(const std::string& targets, const std::string& listen = "127.0.0.1:0") {
  return R"({"listen":")" + listen + R"(","web":{"enable_reload":true},)" +
         R"("sources":[{"name":"lo","address":"127.0.0.1"}],)" + R"("targets":[)" + targets + "]}";
}
const std::string kT1 = R"({"name":"t1","host":"127.0.0.1"})";
const std::string kT2 = R"({"name":"t2","host":"127.0.0.2"})";

// An App running on its own thread, as `reachmon run` does, with a FakeMonitor.
struct RunningApp {
  fs::path file;
  FakeMonitor* monitor = nullptr;
  service::Control control;
  std::promise<int> ready;
  std::unique_ptr<service::App> app;
  std::thread thread;
  std::string error;  // what run() threw
  int port = 0;

  explicit RunningApp(const std::string& name, const std::string& text,
                      const std::function<void(service::AppOptions&)>& customise = {}) {
    file = fs::temp_directory_path() / ("reachmon-app-test-" + name + ".json");
    writeConfigFile(file, text);
    service::AppOptions options;
    if (customise) customise(options);
    options.config_path = file;
    options.on_ready = [this](int p) { ready.set_value(p); };
    options.make_monitor = [this] {
      auto m = std::make_unique<FakeMonitor>();
      monitor = m.get();
      monitor->beat(0s);
      return m;
    };
    app = std::make_unique<service::App>(std::move(options));
  }
  // Starts run(); returns the HTTP port, or 0 if run() failed (see error).
  int start() {
    auto port_future = ready.get_future();
    thread = std::thread([this] {
      try {
        app->run(control);
      } catch (const std::exception& e) {
        error = e.what();
        ready.set_value(0);
      }
    });
    port = port_future.get();
    return port;
  }
  ~RunningApp() {
    control.requestStop();
    if (thread.joinable()) thread.join();
    std::error_code ignored;
    fs::remove(file, ignored);
  }
};

}  // namespace

TEST_CASE("App: starts probing the config's paths and serves them over HTTP", "[app]") {
  RunningApp r("start", configText(kT1 + "," + kT2));
  REQUIRE(r.start() > 0);
  CHECK(r.monitor->started);
  REQUIRE(r.monitor->appliedCount() == 1);
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t1", "t2"});
  CHECK(metricValue(r.port, "reachmon_config_last_reload_successful") == 1);
  const auto body = httpGet(r.port, "/metrics").body;
  CHECK(body.find(R"(reachmon_probes_sent_total{source="lo",target="t2",probe="icmp"} 0)") !=
        std::string::npos);
  CHECK(body.find(R"(engine="fake")") != std::string::npos);
  CHECK(httpGet(r.port, "/").body.find("<td>t2</td>") != std::string::npos);
  r.control.requestStop();
  r.thread.join();
  CHECK(r.monitor->stopped);
  CHECK(httpGet(r.port, "/metrics").status == 0);  // the HTTP server is gone too
}

TEST_CASE("App: reloads apply a valid config and refuse a broken one, keeping the old", "[app]") {
  RunningApp r("reload", configText(kT1));
  REQUIRE(r.start() > 0);
  writeConfigFile(r.file, configText(kT1 + "," + kT2));
  r.control.requestReload("test");
  // (The once-a-second file check may reload the same edit too.)
  REQUIRE(eventually([&] { return r.monitor->appliedCount() >= 2; }));
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t1", "t2"});
  const auto applied = r.monitor->appliedCount();

  writeConfigFile(r.file, R"({"sources":[],"colour":"blue"})");
  auto post = httpPost(r.port, "/-/reload");
  CHECK(post.status == 400);
  CHECK(post.body.find("$.colour: unknown key") != std::string::npos);
  CHECK(post.body.find("$.sources: empty") != std::string::npos);
  CHECK(metricValue(r.port, "reachmon_config_last_reload_successful") == 0);
  CHECK(r.monitor->appliedCount() == applied);  // the running paths were not touched
  CHECK(httpGet(r.port, "/-/healthy").status == 200);

  writeConfigFile(r.file, configText(kT2));
  post = httpPost(r.port, "/-/reload");
  CHECK(post.status == 200);
  CHECK(post.body == "config reloaded: 1 paths\n");
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t2"});
  CHECK(metricValue(r.port, "reachmon_config_last_reload_successful") == 1);
}

TEST_CASE("App: saving the config file reloads it", "[app]") {
  RunningApp r("watch", configText(kT1));
  REQUIRE(r.start() > 0);
  writeConfigFile(r.file, configText(kT2));
  // The file is compared with what was last loaded once a second.
  REQUIRE(eventually([&] { return r.monitor->appliedCount() == 2; }));
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t2"});
  writeConfigFile(r.file, "{ not json");
  REQUIRE(eventually(
      [&] { return metricValue(r.port, "reachmon_config_last_reload_successful") == 0; }));
  CHECK(r.monitor->appliedCount() == 2);
}

TEST_CASE("App: a file caught mid-write is not reloaded until it stops changing", "[app]") {
  // Every log line, to see reloads that failed and were then fixed by the next one.
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  struct Unhook {
    std::shared_ptr<spdlog::sinks::sink> sink;
    ~Unhook() {
      auto& sinks = spdlog::default_logger()->sinks();
      sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
    }
  } unhook{sink};

  RunningApp r("midwrite", configText(kT1));
  REQUIRE(r.start() > 0);
  // An editor that writes in place, in two writes half a second apart. The watch reads once a
  // second, just before each apply; each save starts a little later after it (0 to 850 ms), so
  // that the watch reads about half of the saves half-written, and none of them may count as a
  // broken edit.
  for (int save = 0; save < 6; ++save) {
    const std::string text = configText(save % 2 == 0 ? kT2 : kT1);
    const auto half = static_cast<std::ptrdiff_t>(text.size() / 2);
    std::this_thread::sleep_for(save * 170ms);
    {
      std::ofstream out(r.file, std::ios::trunc);
      out.write(text.data(), half);
    }
    std::this_thread::sleep_for(500ms);
    {
      std::ofstream out(r.file, std::ios::app);
      out.write(text.data() + half, static_cast<std::streamsize>(text.size()) - half);
    }
    REQUIRE(eventually(
        [&] { return r.monitor->appliedCount() == static_cast<std::size_t>(save) + 2; }));
  }
  CHECK(metricValue(r.port, "reachmon_config_last_reload_successful") == 1);
  sink->flush();
  CHECK(log.str().find("refused") == std::string::npos);
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t1"});
}

TEST_CASE("App: a new listen address waits for a restart, the rest of the edit applies", "[app]") {
  RunningApp r("listen", configText(kT1));
  REQUIRE(r.start() > 0);
  writeConfigFile(r.file, configText(kT2, "127.0.0.1:1"));
  CHECK(httpPost(r.port, "/-/reload").status == 200);
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t2"});
  CHECK(httpGet(r.port, "/-/healthy").status == 200);  // still served where it was
}

TEST_CASE("App: /-/healthy fails while the probe loop makes no progress", "[app]") {
  RunningApp r("healthy", configText(kT1));
  REQUIRE(r.start() > 0);
  r.monitor->beat(6s);
  const auto stalled = httpGet(r.port, "/-/healthy");
  CHECK(stalled.status == 503);
  CHECK(stalled.body.find("probe loop stalled") == 0);
  r.monitor->beat(0s);
  CHECK(httpGet(r.port, "/-/healthy").status == 200);
}

TEST_CASE("App: an invalid config at start-up is an error that counts the problems", "[app]") {
  RunningApp r("invalid", R"({"sources":[],"targets":[],"listen":"nowhere"})");
  CHECK(r.start() == 0);
  CHECK(r.error.find("invalid config") == 0);
  CHECK(r.error.find("(3 errors)") != std::string::npos);
  CHECK(r.monitor == nullptr);  // no probing was started
}

namespace {

// A DNS that answers a name only when the test opens its gate. Owned by the lookups, which may
// outlive the test (a hung lookup is abandoned, never waited for).
struct DnsGates {
  std::mutex mutex;
  std::condition_variable cv;
  std::set<std::string> open;
  void release(const std::string& host) {
    {
      std::lock_guard lock(mutex);
      open.insert(host);
    }
    cv.notify_all();
  }
};

}  // namespace

TEST_CASE("App: start-up and reload and stop never wait for DNS and names join when they resolve",
          "[app]") {
  auto dns = std::make_shared<DnsGates>();
  struct ReleaseAll {
    std::shared_ptr<DnsGates> dns;
    ~ReleaseAll() { dns->release("hang.example"); }
  } release_at_end{dns};
  const std::string targets = kT1 + R"(,{"name":"later","host":"later.example"})" +
                              R"(,{"name":"hang","host":"hang.example"})";
  auto r = std::make_unique<RunningApp>("dns", configText(targets), [dns](auto& options) {
    options.resolve_host = [dns](const std::string& host,
                                 core::Family) -> std::variant<core::IpAddress, std::string> {
      std::unique_lock lock(dns->mutex);
      dns->cv.wait(lock, [&] { return dns->open.count(host) > 0; });
      return *core::parseIpAddress("127.0.0.3");
    };
  });
  // Ground truth for "never waits": every lookup is still blocked on its gate while these return.
  REQUIRE(r->start() > 0);
  REQUIRE(r->monitor->appliedCount() == 1);
  CHECK(r->monitor->lastTargets() == std::vector<std::string>{"t1", "later", "hang"});
  CHECK(r->monitor->lastAddress("t1"));
  CHECK_FALSE(r->monitor->lastAddress("later"));  // resolve_failed until it resolves
  CHECK(httpGet(r->port, "/metrics").status == 200);
  CHECK(httpPost(r->port, "/-/reload").status == 200);

  dns->release("later.example");
  REQUIRE(eventually([&] { return r->monitor->lastAddress("later").has_value(); }));
  CHECK(*r->monitor->lastAddress("later") == *core::parseIpAddress("127.0.0.3"));
  CHECK_FALSE(r->monitor->lastAddress("hang"));

  r->control.requestStop();
  r->thread.join();  // "hang.example" is still blocked
  CHECK(r->monitor->stopped);
  r.reset();  // the App's destructor does not wait for it either
}

TEST_CASE(
    "App: watchdog keep-alives come while the probe loop makes progress and stop while it "
    "stalls",
    "[app]") {
  std::atomic<int> alive{0};
  RunningApp r("alive", configText(kT1),
               [&](service::AppOptions& o) { o.on_alive = [&alive] { ++alive; }; });
  REQUIRE(r.start() > 0);
  REQUIRE(test::eventually([&] { return alive.load() >= 2; }));  // about one a second
  r.monitor->beat(6s);                  // the loop's last progress 6 s ago: /-/healthy's 503
  std::this_thread::sleep_for(1500ms);  // a keep-alive decided before the stall may still come
  const int at_stall = alive.load();
  std::this_thread::sleep_for(2500ms);  // two or more rounds of the main loop
  CHECK(alive.load() == at_stall);
  CHECK(httpGet(r.port, "/-/healthy").status == 503);
  r.monitor->beat(0s);
  CHECK(test::eventually([&] { return alive.load() > at_stall; }));
}

TEST_CASE("App: a reload tells the service manager it starts and ends whether applied or refused",
          "[app]") {
  std::mutex mutex;
  std::vector<std::string> events;
  RunningApp r("notify-reload", configText(kT1), [&](service::AppOptions& o) {
    o.on_reloading = [&] {
      std::lock_guard lock(mutex);
      events.push_back("reloading");
    };
    o.on_reloaded = [&](const std::string& status) {
      std::lock_guard lock(mutex);
      events.push_back(status);
    };
  });
  REQUIRE(r.start() > 0);
  writeConfigFile(r.file, configText(kT1 + "," + kT2));
  CHECK(httpPost(r.port, "/-/reload").status == 200);
  writeConfigFile(r.file, "{ broken");
  CHECK(httpPost(r.port, "/-/reload").status == 400);
  std::lock_guard lock(mutex);
  // The file watch may reload an edit too, when the POST comes more than a second after it: then
  // more pairs. Every reload is a pair, in order, and the POSTs' outcomes are there.
  REQUIRE(events.size() % 2 == 0);
  for (std::size_t i = 0; i < events.size(); i += 2) {
    CHECK(events[i] == "reloading");
    CHECK(events[i + 1] != "reloading");
  }
  CHECK(std::count(events.begin(), events.end(), "config reloaded: 2 paths") >= 1);
  CHECK(std::count(events.begin(), events.end(),
                   "reload (POST /-/reload) refused; probing 2 paths, config reload failed (the "
                   "previous one runs)") == 1);
}

TEST_CASE("App: --listen replaces the config's listen address at start and at every reload",
          "[app]") {
  // The file's address is not this host's: serving there would fail.
  RunningApp r("listen-override", configText(kT1, "192.0.2.1:9643"),
               [](service::AppOptions& o) { o.listen_override = "127.0.0.1:0"; });
  std::ostringstream log;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(log);
  spdlog::default_logger()->sinks().push_back(sink);
  REQUIRE(r.start() > 0);
  writeConfigFile(r.file, configText(kT2, "192.0.2.2:9643"));
  CHECK(httpPost(r.port, "/-/reload").status == 200);
  CHECK(r.monitor->lastTargets() == std::vector<std::string>{"t2"});
  auto& sinks = spdlog::default_logger()->sinks();
  sinks.erase(std::remove(sinks.begin(), sinks.end(), sink), sinks.end());
  CHECK(log.str().find("\"listen\" changed") == std::string::npos);  // the override stays
}

TEST_CASE("App: /-/ready is 503 until every target name has had its first lookup then 200",
          "[app]") {
  auto dns = std::make_shared<DnsGates>();
  struct ReleaseAll {
    std::shared_ptr<DnsGates> dns;
    ~ReleaseAll() { dns->release("late.example"); }
  } release_at_end{dns};
  const std::string targets = kT1 + R"(,{"name":"named","host":"named.example"})";
  RunningApp r("ready", configText(targets), [dns](auto& options) {
    options.resolve_host = [dns](const std::string& host,
                                 core::Family) -> std::variant<core::IpAddress, std::string> {
      std::unique_lock lock(dns->mutex);
      dns->cv.wait(lock, [&] { return dns->open.count(host) > 0; });
      return *core::parseIpAddress("127.0.0.3");
    };
  });
  REQUIRE(r.start() > 0);
  // The lookup of named.example is held at its gate: probing and serving, but not ready.
  const auto waiting = httpGet(r.port, "/-/ready");
  CHECK(waiting.status == 503);
  CHECK(waiting.body == "not ready: the first lookup of 1 of 1 target names is under way\n");
  CHECK(httpRequest("HEAD", r.port, "/-/ready").status == 503);
  CHECK(httpGet(r.port, "/-/healthy").status == 200);  // another question: the loop progresses

  dns->release("named.example");
  REQUIRE(eventually([&] { return httpGet(r.port, "/-/ready").status == 200; }));
  // Ready: a scrape shows the name's address.
  CHECK(httpGet(r.port, "/metrics")
            .body.find(R"(reachmon_target_info{target="named",address="127.0.0.3"} 1)") !=
        std::string::npos);
  // Ready for good: a reload adding a name whose lookup hangs does not take it back.
  writeConfigFile(r.file, configText(targets + R"(,{"name":"late","host":"late.example"})"));
  CHECK(httpPost(r.port, "/-/reload").status == 200);
  const auto after_reload = httpGet(r.port, "/-/ready");
  CHECK(after_reload.status == 200);
  CHECK(after_reload.body == "ready\n");
}
