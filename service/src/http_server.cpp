#include "reachmon/service/http_server.h"

#include <CivetServer.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace reachmon::service {
namespace {

void replyStatus(mg_connection* conn, int status, const char* type, const std::string& body) {
  mg_response_header_start(conn, status);
  mg_response_header_add(conn, "Content-Type", type, -1);
  mg_response_header_add(conn, "Content-Length", std::to_string(body.size()).c_str(), -1);
  mg_response_header_add(conn, "Cache-Control", "no-store", -1);
  mg_response_header_send(conn);
  mg_write(conn, body.data(), body.size());
}

constexpr const char* kText = "text/plain; charset=utf-8";

class FnHandler final : public CivetHandler {
 public:
  using Fn = std::function<void(mg_connection*)>;
  FnHandler(Fn get, Fn post) : get_(std::move(get)), post_(std::move(post)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override { return dispatch(get_, conn); }
  bool handlePost(CivetServer*, mg_connection* conn) override { return dispatch(post_, conn); }

 private:
  static bool dispatch(const Fn& fn, mg_connection* conn) {
    if (!fn) {
      replyStatus(conn, 405, kText, "method not allowed\n");
      return true;
    }
    fn(conn);
    return true;
  }
  Fn get_, post_;
};

}  // namespace

HttpServer::HttpServer(const std::string& listen, HttpHandlers handlers)
    : handlers_(std::move(handlers)) {
  constexpr unsigned kCivetIpv6 = 8;
  if (!listen.empty() && listen.front() == '[' && mg_check_feature(kCivetIpv6) == 0)
    throw std::runtime_error("cannot listen on " + listen +
                             ": this build's HTTP server (civetweb) has no IPv6 support; use an "
                             "IPv4 address such as \"127.0.0.1:9643\"");
  std::vector<std::string> options = {"listening_ports",    listen, "num_threads", "4",
                                      "request_timeout_ms", "10000"};
  try {
    server_ = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    throw std::runtime_error("cannot listen on " + listen + ": " + e.what());
  }
  auto add = [&](const char* uri, FnHandler::Fn get, FnHandler::Fn post) {
    civet_handlers_.push_back(std::make_unique<FnHandler>(std::move(get), std::move(post)));
    server_->addHandler(uri, civet_handlers_.back().get());
  };
  add(
      "/metrics",
      [this](mg_connection* c) {
        replyStatus(c, 200, "text/plain; version=0.0.4; charset=utf-8", handlers_.metrics());
      },
      nullptr);
  add(
      "/-/healthy",
      [this](mg_connection* c) {
        auto [ok, text] = handlers_.healthy();
        replyStatus(c, ok ? 200 : 503, kText, text + "\n");
      },
      nullptr);
  add("/-/reload", nullptr, [this](mg_connection* c) {
    auto [ok, text] = handlers_.reload();
    replyStatus(c, ok ? 200 : 400, kText, text + "\n");
  });
  add(
      "/$",
      [this](mg_connection* c) {
        replyStatus(c, 200, "text/html; charset=utf-8", handlers_.status_page());
      },
      nullptr);
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
