// What App tells its host (the Windows service's SCM reporting) and asks of it: each step of the
// stop sequence is noted in Control::stopProgress(), and AppOptions::vet_config may refuse the
// config file at start and at every reload (the Windows service refuses a config that
// non-administrators can write), keeping the running config.
#include <catch2/catch.hpp>
#include <filesystem>
#include <future>
#include <thread>

#include "config_file.h"
#include "http_client.h"
#include "reachmon/service/app.h"

using namespace reachmon;
using namespace reachmon::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Publishes every path set it gets; stop() records the stop progress it sees.
class RecordingMonitor final : public core::Monitor {
 public:
  explicit RecordingMonitor(const service::Control& control) : control_(control) {}
  void start() override {}
  void stop() override { progress_at_stop = control_.stopProgress(); }
  void apply(core::PathSet set, core::Duration) override {
    auto snap = std::make_shared<core::Snapshot>();
    for (auto& p : set.paths)
      snap->paths.push_back(
          {std::make_shared<core::PathSpec>(p), std::make_shared<core::PathStats>()});
    snapshots_.publish(std::move(snap));
    ++applied;
  }
  std::shared_ptr<const core::Snapshot> snapshot() const override { return snapshots_.get(); }
  const core::MonitorStats& stats() const override { return stats_; }
  std::string engineName() const override { return "fake"; }
  std::string rttTimestamps() const override { return "user_space"; }
  core::TimePoint now() const override { return clock_.now(); }

  std::atomic<std::uint64_t> progress_at_stop{0};
  std::atomic<int> applied{0};

 private:
  const service::Control& control_;
  core::SnapshotBox snapshots_;
  core::SteadyClock clock_;
  core::MonitorStats stats_;
};

std::string configText(const std::string& target) {
  return R"({"listen":"127.0.0.1:0","web":{"enable_reload":true},)"
         R"("sources":[{"name":"lo","address":"127.0.0.1"}],)"
         R"("targets":[{"name":")" +
         target + R"(","host":"127.0.0.1"}]})";
}

// An App on its own thread whose vet_config refuses while `refuse` is set.
struct VettedApp {
  fs::path file;
  service::Control control;
  RecordingMonitor* monitor = nullptr;
  std::atomic<bool> refuse{false};
  std::atomic<bool> refuse_web{false};  // refuse web config files (named *web.json)
  std::atomic<int> vetted{0};
  std::promise<int> ready;
  std::unique_ptr<service::App> app;
  std::thread thread;
  std::string error;

  explicit VettedApp(const std::string& name) {
    file = fs::temp_directory_path() / ("reachmon-app-hooks-" + name + ".json");
    writeConfigFile(file, configText("t1"));
    service::AppOptions options;
    options.config_path = file;
    options.on_ready = [this](int port) { ready.set_value(port); };
    options.make_monitor = [this] {
      auto m = std::make_unique<RecordingMonitor>(control);
      monitor = m.get();
      return m;
    };
    options.vet_config = [this](const fs::path& path) -> std::string {
      ++vetted;
      const bool web = path.filename().string().ends_with("web.json");
      return (web ? refuse_web : refuse) ? path.string() + " can be changed by Everyone (write)"
                                         : "";
    };
    app = std::make_unique<service::App>(std::move(options));
  }
  int start() {
    auto port = ready.get_future();
    thread = std::thread([this] {
      try {
        app->run(control);
      } catch (const std::exception& e) {
        error = e.what();
        ready.set_value(0);
      }
    });
    return port.get();
  }
  ~VettedApp() {
    control.requestStop();
    if (thread.joinable()) thread.join();
    std::error_code ignored;
    fs::remove(file, ignored);
  }
};

}  // namespace

TEST_CASE("App: each step of the stop sequence is noted as stop progress", "[app]") {
  VettedApp a("progress");
  REQUIRE(a.start() > 0);
  CHECK(a.control.stopProgress() == 0);  // nothing while running
  a.control.requestStop();
  a.thread.join();
  // Left the main loop, then stopped HTTP (two steps) before the probe engine's stop, which
  // is the last step.
  CHECK(a.monitor->progress_at_stop == 2);
  CHECK(a.control.stopProgress() == 3);
}

TEST_CASE("App: a config that vet_config refuses does not start", "[app]") {
  VettedApp a("refused-start");
  a.refuse = true;
  CHECK(a.start() == 0);
  CHECK(a.error == a.file.string() + " can be changed by Everyone (write)");
  CHECK(a.monitor == nullptr);  // nothing was started
}

TEST_CASE("App: the web config file is vetted too at start and at each reload", "[app]") {
  const fs::path web = fs::temp_directory_path() / "reachmon-app-hooks-web.json";
  writeConfigFile(web, R"({"basic_auth_users":{}})");
  const std::string with_web =
      R"({"listen":"127.0.0.1:0","web":{"enable_reload":true,"config_file":")" +
      web.generic_string() +
      R"("},"sources":[{"name":"lo","address":"127.0.0.1"}],)"
      R"("targets":[{"name":"t2","host":"127.0.0.1"}]})";
  {
    VettedApp a("web-refused-start");
    a.refuse_web = true;
    writeConfigFile(a.file, with_web);
    CHECK(a.start() == 0);
    CHECK(a.error == web.generic_string() + " can be changed by Everyone (write)");
  }
  VettedApp a("web-refused-reload");
  const int port = a.start();
  REQUIRE(port > 0);
  a.refuse_web = true;
  writeConfigFile(a.file, with_web);
  const auto post = httpPost(port, "/-/reload");
  CHECK(post.status == 400);
  CHECK(post.body.find(web.generic_string() + " can be changed by Everyone (write)") !=
        std::string::npos);
  CHECK(a.monitor->applied == 1);
  CHECK(a.monitor->snapshot()->paths.at(0).spec->target == "t1");
  a.refuse_web = false;
  CHECK(httpPost(port, "/-/reload").status == 200);
  CHECK(a.monitor->snapshot()->paths.at(0).spec->target == "t2");
  fs::remove(web);
}

TEST_CASE("App: a reload that vet_config refuses keeps the running config", "[app]") {
  VettedApp a("refused-reload");
  const int port = a.start();
  REQUIRE(port > 0);
  CHECK(a.vetted == 1);
  REQUIRE(a.monitor->applied == 1);

  a.refuse = true;  // e.g. the file became writable by Users
  writeConfigFile(a.file, configText("t2"));
  const auto post = httpPost(port, "/-/reload");
  CHECK(post.status == 400);
  CHECK(post.body.find("can be changed by Everyone (write)") != std::string::npos);
  CHECK(a.monitor->applied == 1);
  CHECK(metricValue(port, "reachmon_config_last_reload_successful") == 0);
  CHECK(a.monitor->snapshot()->paths.at(0).spec->target == "t1");
  // The file watch refuses the same text once, not every second.
  const int vetted = a.vetted;
  std::this_thread::sleep_for(2500ms);
  CHECK(a.vetted == vetted);

  a.refuse = false;  // permissions repaired
  a.control.requestReload("test");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (a.monitor->applied < 2 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  CHECK(a.monitor->applied == 2);
  CHECK(a.monitor->snapshot()->paths.at(0).spec->target == "t2");
  CHECK(metricValue(port, "reachmon_config_last_reload_successful") == 1);
}
