// The HTTP endpoints: /metrics, /-/healthy, /-/reload (POST) and the / status page; HEAD answers
// like GET without the body. Handlers run on civetweb's worker threads (see http_server.cpp for
// how many, and the timeouts that keep idle clients from holding them).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

class CivetServer;
class CivetHandler;

namespace reachmon::service {

struct HttpHandlers {
  std::function<std::shared_ptr<const std::string>()> metrics;  // exposition text, shared
  std::function<std::pair<bool, std::string>()> healthy;        // ok, explanation
  std::function<std::pair<bool, std::string>()> reload;         // ok, message
  std::function<std::string()> status_page;                     // HTML
};

class HttpServer {
 public:
  // `listen` is "IPv4:port" or "[IPv6]:port"; port 0 picks a free port. Throws on failure.
  HttpServer(const std::string& listen, HttpHandlers handlers);
  ~HttpServer();
  int port() const { return port_; }

  // What civetweb says while it starts (the reason it cannot bind); afterwards its messages go to
  // the debug log.
  struct CivetLog {
    std::atomic<bool> starting{true};
    std::mutex mutex;
    std::string start_errors;
  };

 private:
  HttpHandlers handlers_;
  CivetLog civet_log_;  // before server_: civetweb may log until server_ is gone
  std::vector<std::unique_ptr<CivetHandler>> civet_handlers_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
  std::string wake_host_;  // where to connect to wake the accept loop at shutdown
};

}  // namespace reachmon::service
