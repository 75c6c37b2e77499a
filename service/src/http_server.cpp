#include "reachmon/service/http_server.h"

#include <CivetServer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <string_view>
#include <thread>

#include "basic_auth.h"
#include "gzip.h"
#include "tls_context.h"

namespace reachmon::service {
namespace {

// Thread-per-connection (civetweb): every connection holds a worker until it is answered or
// times out, so idle and slow clients must not be able to take all workers. 128 workers keep a
// scrape answering with 100 idle or slow clients connected; a request must arrive within 5 s
// (Prometheus sends its request at once), so a connection that sends nothing, or trickles a
// request, frees its worker after 5 s. Bodies are written in pieces, each with its own 5 s.
constexpr const char* kWorkers = "128";
constexpr const char* kRequestTimeoutMs = "5000";
constexpr std::size_t kWritePiece = std::size_t{64} * 1024;

constexpr const char* kText = "text/plain; charset=utf-8";

std::shared_ptr<const std::string> text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

struct Reply {
  int status;
  const char* type;
  std::shared_ptr<const std::string> body;
  const char* authenticate = nullptr;  // WWW-Authenticate, on 401
  // /metrics, instead of `body`: sent as it is with `gzip`, else inflated on the way.
  std::shared_ptr<const MetricsBody> metrics = nullptr;
  bool gzip = false;  // the body (or /metrics) is sent gzip-compressed
  bool vary = false;  // the body depends on Accept-Encoding
};

// A page's body, compressed when the client accepts gzip (a page of 100 graphs is about 1 MB of
// HTML and SVG, a tenth of that compressed).
Reply htmlReply(int status, std::string html, const char* accept_encoding) {
  Reply r{status, "text/html; charset=utf-8", nullptr};
  r.vary = true;
  if (acceptsGzip(accept_encoding)) {
    GzipWriter gz(kPageGzipLevel, html.size() / 4 + 1024);
    gz.write(html);
    r.body = text(gz.finish());
    r.gzip = true;
  } else {
    r.body = text(std::move(html));
  }
  return r;
}

// Writes `bytes` in pieces; false if the client went away.
bool write(mg_connection* conn, std::string_view bytes) {
  for (std::size_t at = 0; at < bytes.size(); at += kWritePiece) {
    const std::size_t n = std::min(kWritePiece, bytes.size() - at);
    if (mg_write(conn, bytes.data() + at, n) <= 0) return false;
  }
  return true;
}

void send(mg_connection* conn, const Reply& r, bool with_body) {
  const std::string* body = r.metrics ? (r.gzip ? &r.metrics->gzip : nullptr) : r.body.get();
  const std::size_t length = body ? body->size() : r.metrics->text_bytes;
  mg_response_header_start(conn, r.status);
  mg_response_header_add(conn, "Content-Type", r.type, -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(length).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  if (r.metrics || r.vary) {
    // Caches must not hand a gzip body to a client that did not ask for one, or the reverse.
    mg_response_header_add(conn, "Vary", "Accept-Encoding", -1);
    if (r.gzip) mg_response_header_add(conn, "Content-Encoding", "gzip", -1);
  }
  if (r.authenticate) mg_response_header_add(conn, "WWW-Authenticate", r.authenticate, -1);
  mg_response_header_send(conn);
  if (!with_body) return;
  if (body) {
    write(conn, *body);
    return;
  }
  // The text, inflated in pieces: the whole of it is never in memory.
  bool client_gone = false;
  const bool whole = gunzip(r.metrics->gzip, kWritePiece, [&](std::string_view piece) {
    client_gone = !write(conn, piece);
    return !client_gone;
  });
  if (!whole && !client_gone)
    spdlog::error("HTTP /metrics: the cached body does not inflate; the reply was cut short");
}

// GET (and HEAD: the same headers, no body) and POST handlers of one URI; a missing one is 405.
// Every request passes the gate first, which may answer instead (401, 403).
class FnHandler final : public CivetHandler {
 public:
  using Fn = std::function<Reply(mg_connection*)>;
  using GateFn = std::function<std::optional<Reply>(mg_connection*, bool state_changing)>;
  FnHandler(GateFn gate, Fn get, Fn post)
      : gate_(std::move(gate)), get_(std::move(get)), post_(std::move(post)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    return dispatch(get_, conn, true, false);
  }
  bool handleHead(CivetServer*, mg_connection* conn) override {
    return dispatch(get_, conn, false, false);
  }
  bool handlePost(CivetServer*, mg_connection* conn) override {
    return dispatch(post_, conn, true, true);
  }

 private:
  bool dispatch(const Fn& fn, mg_connection* conn, bool with_body, bool state_changing) const {
    Reply reply{405, kText, text("method not allowed\n")};
    try {  // an exception must not cross civetweb's C code
      if (auto refused = gate_(conn, state_changing)) {
        reply = std::move(*refused);
      } else if (fn) {
        reply = fn(conn);
      }
    } catch (const std::exception& e) {
      spdlog::error("HTTP {}: {}", mg_get_request_info(conn)->local_uri, e.what());
      reply = Reply{500, kText, text("internal error; see the log\n")};
    }
    send(conn, reply, with_body);
    return true;
  }
  GateFn gate_;
  Fn get_, post_;
};

// civetweb's own messages (why it cannot bind, ...): kept while the server starts, so that a
// start-up failure says what the OS said; logged at debug level afterwards.
int logCivetMessage(const mg_connection* conn, const char* message) {
  const auto* civet = static_cast<const CivetServer*>(mg_get_user_data(mg_get_context(conn)));
  auto* log = civet ? static_cast<HttpServer::CivetLog*>(const_cast<void*>(civet->getUserContext()))
                    : nullptr;
  if (log && log->starting.load()) {
    std::lock_guard lock(log->mutex);
    if (!log->start_errors.empty()) log->start_errors += "; ";
    log->start_errors += message;
  } else {
    spdlog::debug("http server: {}", message);
  }
  return 1;  // handled: civetweb prints nothing itself
}

// civetweb made the TLS context: load the certificate, key and client CAs into it.
int initTls(void* ssl_ctx, void* user_data) {
  auto* log = static_cast<HttpServer::CivetLog*>(
      const_cast<void*>(static_cast<const CivetServer*>(user_data)->getUserContext()));
  if (!log->tls) return 0;
  if (const std::string why = configureTls(ssl_ctx, *log->tls); !why.empty()) {
    std::lock_guard lock(log->mutex);
    log->start_errors = why;  // the cause, before civetweb's "SSL callback returned error"
    return -1;
  }
  return 1;  // done: civetweb loads no certificate itself
}

}  // namespace

struct HttpServer::Gate {
  explicit Gate(HttpAccess a) : auth(std::move(a.users)), enable_reload(a.enable_reload) {}
  BasicAuth auth;
  bool enable_reload;
};

std::shared_ptr<const HttpServer::Gate> HttpServer::gate() const {
  std::lock_guard lock(gate_mutex_);
  return gate_;
}

void HttpServer::setAccess(HttpAccess access) {
  auto gate = std::make_shared<const Gate>(std::move(access));
  std::lock_guard lock(gate_mutex_);
  gate_ = std::move(gate);
}

std::string unservable(const std::string& listen, bool tls) {
  constexpr unsigned kCivetIpv6 = 8;
  if (!listen.empty() && listen.front() == '[' && mg_check_feature(kCivetIpv6) == 0)
    return "cannot listen on " + listen +
           ": this build's HTTP server (civetweb) has no IPv6 support; use an IPv4 address such "
           "as \"127.0.0.1:9643\"";
  if (tls && !tlsAvailable())
    return "cannot serve TLS on " + listen +
           ": this build's HTTP server (civetweb) has no TLS support";
  return "";
}

HttpServer::HttpServer(const std::string& listen, const std::optional<config::TlsServerConfig>& tls,
                       HttpAccess access, HttpHandlers handlers)
    : handlers_(std::move(handlers)), gate_(std::make_shared<const Gate>(std::move(access))) {
  if (const std::string why = unservable(listen, tls.has_value()); !why.empty())
    throw std::runtime_error(why);
  civet_log_.tls = tls;
  const std::vector<std::string> options = {"listening_ports",    listen + (tls ? "s" : ""),
                                            "num_threads",        kWorkers,
                                            "request_timeout_ms", kRequestTimeoutMs};
  CivetCallbacks callbacks{};
  callbacks.log_message = &logCivetMessage;
  if (tls) callbacks.init_ssl = &initTls;
  try {
    server_ = std::make_unique<CivetServer>(options, &callbacks, &civet_log_);
  } catch (const CivetException& e) {
    std::lock_guard lock(civet_log_.mutex);
    throw std::runtime_error(
        "cannot listen on " + listen + ": " +
        (civet_log_.start_errors.empty() ? std::string(e.what()) : civet_log_.start_errors));
  }
  civet_log_.starting = false;
  const FnHandler::GateFn gate_fn = [this](mg_connection* conn,
                                           bool state_changing) -> std::optional<Reply> {
    const auto g = gate();
    switch (g->auth.check(mg_get_header(conn, "Authorization"))) {
      case BasicAuth::Verdict::kAllowed:
        break;
      case BasicAuth::Verdict::kDenied:
        spdlog::debug("HTTP {} from {}: 401, no valid credentials",
                      mg_get_request_info(conn)->local_uri, mg_get_request_info(conn)->remote_addr);
        return Reply{401, kText, text("unauthorized\n"),
                     R"(Basic realm="reachmon", charset="UTF-8")"};
      case BasicAuth::Verdict::kBusy:
        return Reply{503, kText, text("too many password checks at once; try again\n")};
    }
    // A browser sends Origin with cross-site POSTs (and fetches); Prometheus and curl do not. A
    // page elsewhere must not be able to make an operator's browser change state here.
    if (state_changing && mg_get_header(conn, "Origin"))
      return Reply{403, kText,
                   text("requests with an Origin header may not change state; send the request "
                        "without one (e.g. curl -X POST)\n")};
    return std::nullopt;
  };
  auto add = [&](const char* uri, FnHandler::Fn get, FnHandler::Fn post) {
    civet_handlers_.push_back(
        std::make_unique<FnHandler>(gate_fn, std::move(get), std::move(post)));
    server_->addHandler(uri, civet_handlers_.back().get());
  };
  add(
      "/metrics",
      [this](mg_connection* conn) {
        Reply r{200, "text/plain; version=0.0.4; charset=utf-8", nullptr};
        r.gzip = acceptsGzip(mg_get_header(conn, "Accept-Encoding"));
        r.metrics = handlers_.metrics();
        if (!r.metrics) throw std::runtime_error("no metrics body");
        return r;
      },
      nullptr);
  add(
      "/-/healthy",
      [this](mg_connection*) {
        auto [ok, why] = handlers_.healthy();
        return Reply{ok ? 200 : 503, kText, text(why + "\n")};
      },
      nullptr);
  add(
      "/-/ready",
      [this](mg_connection*) {
        auto [ok, why] =
            handlers_.ready ? handlers_.ready() : std::pair<bool, std::string>{true, "ready"};
        return Reply{ok ? 200 : 503, kText, text(why + "\n")};
      },
      nullptr);
  add("/-/reload", nullptr, [this](mg_connection*) {
    if (!gate()->enable_reload)
      return Reply{403, kText,
                   text("reload over HTTP is disabled: set \"web\": {\"enable_reload\": true} in "
                        "the config, or reload with SIGHUP or a file change\n")};
    auto [ok, why] = handlers_.reload();
    return Reply{ok ? 200 : 400, kText, text(why + "\n")};
  });
  // civetweb matches URIs without regard to case: the page is the pattern's, not the URI's.
  for (const auto& route : {std::pair<const char*, const char*>{"/$", "/"}, {"/path$", "/path"}}) {
    add(
        route.first,
        [this, page = route.second](mg_connection* conn) {
          const mg_request_info* info = mg_get_request_info(conn);
          auto [status, html] = handlers_.page(page, info->query_string ? info->query_string : "");
          return htmlReply(status, std::move(html), mg_get_header(conn, "Accept-Encoding"));
        },
        nullptr);
  }
  auto ports = server_->getListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  const std::string host = listen.substr(0, listen.rfind(':'));
  if (host == "0.0.0.0") {
    wake_host_ = "127.0.0.1";
  } else if (host == "[::]") {
    wake_host_ = "::1";
  } else if (host.front() == '[') {
    wake_host_ = host.substr(1, host.size() - 2);
  } else {
    wake_host_ = host;
  }
}

HttpServer::~HttpServer() {
  if (!server_) return;
  // civetweb's accept loop polls with a 2 s quantum; a connection of our own wakes it so that
  // shutdown takes milliseconds instead of up to two seconds.
  std::thread waker([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    char err[128] = {};
    if (mg_connection* c = mg_connect_client(wake_host_.c_str(), port_, 0, err, sizeof err))
      mg_close_connection(c);
  });
  server_->close();  // stop workers before the handlers they call go away
  waker.join();
}

}  // namespace reachmon::service
