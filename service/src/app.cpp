#include "reachmon/service/app.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <set>
#include <stdexcept>
#include <string_view>

#include "gzip.h"
#include "process_memory.h"
#include "process_metrics.h"
#include "reachmon/config/loader.h"
#include "reachmon/service/http_server.h"
#include "reachmon/service/status_page.h"
#include "readiness.h"
#include "scrape_cache.h"
#include "target_resolver.h"
#include "tls_context.h"
#include "version.h"

namespace reachmon::service {
namespace {

constexpr std::chrono::seconds kStallLimit{5};

double unixNow() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string joinErrors(const std::vector<config::ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.str() + "\n";
  return out;
}

// zlib's fastest level: a scrape of 10,000 paths (14.5 MB of text) sends 626 KB and takes 40 to
// 70 ms, rendering included; level 6, zlib's default, sends 527 KB in 115 to 180 ms.
constexpr int kMetricsGzipLevel = 1;

// The /metrics body: the text compressed piece by piece as it is written, so the whole text is
// never in memory. `last_gzip_bytes`, the previous body's size, reserves the output up front.
MetricsBody renderMetrics(const core::MetricsCollector& collector,
                          std::atomic<std::size_t>& last_gzip_bytes) {
  const std::size_t last = last_gzip_bytes.load(std::memory_order_relaxed);
  GzipWriter gzip(kMetricsGzipLevel, last + last / 8 + 4096);
  collector.renderText([&gzip](std::string_view piece) { gzip.write(piece); });
  gzip.write(renderProcessMetrics(readProcessStats()));  // at scrape time, on this HTTP thread
  MetricsBody body;
  body.text_bytes = gzip.textBytes();
  body.gzip = gzip.finish();
  last_gzip_bytes.store(body.gzip.size(), std::memory_order_relaxed);
  return body;
}

}  // namespace

App::App(AppOptions options) : options_(std::move(options)) {}
App::~App() { stopResolver(); }

void App::run(Control& control) {
  returnLargeFreedBlocksToOs();  // first: before any thread of ours allocates
  if (const std::string why = vetConfig(options_.config_path); !why.empty())
    throw std::runtime_error(why);
  std::string text;
  auto loaded = config::loadConfigFile(options_.config_path, &text);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors)
      spdlog::error("{}: {}", options_.config_path.string(), e.str());
    throw std::runtime_error("invalid config " + options_.config_path.string() + " (" +
                             std::to_string(loaded.errors.size()) + " errors)");
  }
  if (const std::string why = vetConfig(loaded.config->web.config_path); !why.empty())
    throw std::runtime_error(why);
  if (!options_.listen_override.empty()) loaded.config->listen = options_.listen_override;
  monitor_ = options_.make_monitor ? options_.make_monitor() : core::Monitor::create({});
  {
    // IP-literal targets are probed at once; DNS names join when they resolve (onResolved).
    std::lock_guard lock(reload_mutex_);
    TargetResolverOptions resolver_options;
    resolver_options.lookup = options_.resolve_host;
    resolver_options.deadline = options_.resolve_deadline;
    resolver_ = std::make_unique<TargetResolver>([this] { onResolved(); }, resolver_options);
    applyConfig(*loaded.config);
    warnAboutAccess(nullptr, *loaded.config);
    config_ = std::move(loaded.config);
    last_seen_text_ = watchedText(text);
    monitor_->start();
  }

  collector_ = std::make_shared<core::MetricsCollector>(
      [this] { return monitor_->snapshot(); }, monitor_->stats(), reload_status_,
      core::BuildInfo{kVersion, options_.platform, monitor_->engineName(),
                      monitor_->rttTimestamps()});
  HttpHandlers handlers;
  // Scrapes that come in together share a serialised body (ScrapeCache): memory stays at one or
  // two bodies however many scrapers there are, and a body's memory goes back to the OS when the
  // last scrape sending it is done. Lives until the HTTP server is gone. The body is compressed
  // while it is rendered, piece by piece, and kept compressed only.
  auto scrapes = std::make_shared<ScrapeCache<MetricsBody>>(
      [this, last_gzip_bytes = std::make_shared<std::atomic<std::size_t>>(0)] {
        MetricsBody body = renderMetrics(*collector_, *last_gzip_bytes);
        releaseFreedMemory();  // the render's buffers: RSS keeps the body only
        return body;
      });
  handlers.metrics = [scrapes] { return scrapes->get(); };
  handlers.healthy = [this] { return healthy(); };
  handlers.ready = [readiness = std::make_shared<Readiness>([this] {
                      std::lock_guard lock(reload_mutex_);  // config_ and resolver_
                      if (!resolver_) return std::make_pair(false, std::string("stopping"));
                      return startupDone(*config_, resolver_->states(), *monitor_->snapshot());
                    })] { return readiness->check(); };
  handlers.reload = [this] { return reload("POST /-/reload"); };
  handlers.page = [this](std::string_view uri, std::string_view query) {
    const PageQuery q = PageQuery::parse(query);
    const PageTime time = PageTime::current(monitor_->now());
    PageReply r = uri == "/path" ? renderPathPage(*monitor_->snapshot(), kVersion, q, time)
                                 : renderStatusPage(*monitor_->snapshot(), kVersion, q, time);
    releaseFreedMemory();  // the render's scratch: a map of every path, the histories' copies
    return std::make_pair(r.status, std::move(r.html));
  };
  http_ = std::make_unique<HttpServer>(config_->listen, config_->web.config.tls,
                                       httpAccess(*config_), std::move(handlers));
  if (config_->web.config.tls)
    for (const auto& w : certificateWarnings(*config_->web.config.tls)) spdlog::warn("{}", w);
  spdlog::info(
      "reachmon {} probing {} paths with the {} engine; metrics on {}://{}/metrics{}", kVersion,
      monitor_->snapshot()->paths.size(), monitor_->engineName(),
      config_->web.config.tls ? "https" : "http",
      config_->listen.substr(0, config_->listen.rfind(':')) + ":" + std::to_string(http_->port()),
      config_->web.config.basic_auth_users.empty() ? "" : " (basic authentication)");
  if (options_.on_ready) options_.on_ready(http_->port());

  // The file watch: a change is reloaded once the files read the same twice in a row, a second
  // apart, so that a file caught mid-write is not taken for a broken edit.
  std::optional<std::string> changed_to;
  for (;;) {
    if (options_.on_alive && healthy().first) options_.on_alive();
    const auto event = control.waitFor(std::chrono::seconds(1));
    if (event == Control::Event::kStop) break;
    if (event == Control::Event::kReload) {
      reload(control.reloadReason());
      continue;
    }
    const std::string file_text = config::readConfigText(options_.config_path).value_or("");
    std::string current;
    {
      std::lock_guard lock(reload_mutex_);  // POST /-/reload writes it from an HTTP thread
      current = watchedText(file_text);
      if (current == last_seen_text_) {
        changed_to.reset();
        continue;
      }
    }
    if (changed_to != current) {
      changed_to = std::move(current);  // still being written? look again in a second
      continue;
    }
    changed_to.reset();
    reload("file change");
  }
  spdlog::info("stopping");
  control.noteStopProgress();  // each step: the Windows host advances STOP_PENDING's checkpoint
  http_.reset();
  // After HTTP: no POST /-/reload can report a reload after this.
  if (options_.on_stopping) options_.on_stopping();
  stopResolver();  // lookups still running are abandoned, never waited for
  control.noteStopProgress();
  monitor_->stop();
  control.noteStopProgress();
}

std::string App::vetConfig(const std::filesystem::path& file) const {
  return options_.vet_config && !file.empty() ? options_.vet_config(file) : std::string();
}

std::size_t App::applyConfig(const config::Config& cfg) {
  for (const auto& w : config::platformWarnings(cfg, options_.platform))
    spdlog::warn("{}: {}", options_.config_path.string(), w.str());
  std::set<TargetResolver::Key> names;
  for (const auto& t : cfg.targets)
    if (!t.literal) names.emplace(t.host, t.family);
  ResolvedHosts resolved;
  if (resolver_) {
    resolver_->setNames(names, cfg.resolve_interval);
    resolved = resolver_->results();
  }
  auto set = buildPathSet(cfg, resolved);
  const std::size_t paths = set.paths.size();
  monitor_->apply(std::move(set), cfg.min_send_gap);
  reload_status_.last_successful = true;
  reload_status_.last_success_unix_seconds = unixNow();
  return paths;
}

void App::onResolved() {
  std::lock_guard lock(reload_mutex_);
  if (!config_ || !resolver_) return;  // starting, or stopping
  spdlog::info("target addresses changed; updating paths");
  monitor_->apply(buildPathSet(*config_, resolver_->results()), config_->min_send_gap);
}

void App::stopResolver() {
  std::unique_ptr<TargetResolver> resolver;
  {
    std::lock_guard lock(reload_mutex_);
    resolver = std::move(resolver_);
  }
  resolver.reset();  // outside the lock: its thread may be waiting for it in onResolved()
}

std::pair<bool, std::string> App::reload(const std::string& trigger) {
  std::lock_guard lock(reload_mutex_);
  if (options_.on_reloading) options_.on_reloading();
  std::pair<bool, std::string> result;
  // Nothing a reload meets (the file, the resolver, the monitor) may end the process.
  try {
    result = reloadLocked(trigger);
  } catch (const std::exception& e) {
    reload_status_.last_successful = false;
    spdlog::error("reload ({}) failed, keeping the running config: {}", trigger, e.what());
    result = {false,
              std::string("config not reloaded, the running config stays:\n") + e.what() + "\n"};
  }
  if (options_.on_reloaded)
    options_.on_reloaded(result.first ? result.second
                                      : "reload (" + trigger + ") refused; " + statusLine());
  return result;
}

std::string App::statusLine() const {
  return "probing " + std::to_string(monitor_->snapshot()->paths.size()) + " paths, config " +
         (reload_status_.last_successful ? "loaded" : "reload failed (the previous one runs)");
}

HttpAccess App::httpAccess(const config::Config& cfg) {
  return HttpAccess{cfg.web.config.basic_auth_users, cfg.web.enable_reload};
}

void App::warnAboutAccess(const config::Config* running, const config::Config& next) {
  const auto& users = next.web.config.basic_auth_users;
  if (running && !running->web.config.basic_auth_users.empty() && users.empty())
    spdlog::warn("basic authentication is now off: every endpoint answers without credentials");
  // `next` carries the TLS settings the server runs with (they change at a restart only).
  if (!users.empty() && !next.web.config.tls)
    spdlog::warn(
        "basic authentication over plain HTTP: passwords cross the network in clear text; add "
        "tls_server_config to the web config file");
}

std::string App::watchedText(const std::string& config_text) const {
  std::string out = config_text;
  if (config_ && !config_->web.config_path.empty()) {
    out.push_back('\0');
    out += config::readConfigText(config_->web.config_path, nullptr, config::kMaxWebFileBytes)
               .value_or("");
  }
  return out;
}

std::pair<bool, std::string> App::reloadLocked(const std::string& trigger) {
  auto refuse = [&](const std::string& why) -> std::pair<bool, std::string> {
    reload_status_.last_successful = false;
    spdlog::error("reload ({}) refused, keeping the running config: {}", trigger, why);
    return {false, "config not reloaded, the running config stays:\n" + why + "\n"};
  };
  if (const std::string why = vetConfig(options_.config_path); !why.empty()) {
    // Seen: the file watch does not refuse the same text again every second.
    last_seen_text_ = watchedText(config::readConfigText(options_.config_path).value_or(""));
    return refuse(why);
  }
  std::string text;
  auto loaded = config::loadConfigFile(options_.config_path, &text);
  last_seen_text_ = watchedText(text);
  if (loaded.ok()) {
    if (const std::string why = vetConfig(loaded.config->web.config_path); !why.empty())
      return refuse(why);
  }
  if (!loaded.ok()) {
    reload_status_.last_successful = false;
    for (const auto& e : loaded.errors)
      spdlog::error("reload ({}) refused, keeping the running config: {}: {}", trigger,
                    options_.config_path.string(), e.str());
    return {false, "config not reloaded, the running config stays:\n" + joinErrors(loaded.errors)};
  }
  // The HTTP server keeps its address and TLS settings until a restart; users and enable_reload
  // apply at once.
  if (!options_.listen_override.empty()) loaded.config->listen = options_.listen_override;
  if (config_) {
    if (loaded.config->listen != config_->listen)
      spdlog::warn("\"listen\" changed to {}; it takes effect at the next restart",
                   loaded.config->listen);
    if (loaded.config->web.config.tls != config_->web.config.tls)
      spdlog::warn(
          "the TLS settings (web config file) changed; they take effect at the next restart");
    loaded.config->listen = config_->listen;
    loaded.config->web.config.tls = config_->web.config.tls;
  }
  const std::size_t paths = applyConfig(*loaded.config);
  warnAboutAccess(config_ ? &*config_ : nullptr, *loaded.config);
  if (http_) http_->setAccess(httpAccess(*loaded.config));
  config_ = std::move(loaded.config);
  last_seen_text_ = watchedText(text);  // the web config file the new config names
  spdlog::info("config reloaded ({}): {} paths", trigger, paths);
  return {true, "config reloaded: " + std::to_string(paths) + " paths"};
}

std::pair<bool, std::string> App::healthy() const {
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  const auto beat = std::chrono::nanoseconds(monitor_->stats().heartbeat_ns.load());
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - beat);
  if (age > kStallLimit)
    return {false, "probe loop stalled: no progress for " + std::to_string(age.count()) + " ms"};
  return {true, "OK"};
}

}  // namespace reachmon::service
