// The HTTP endpoints: /metrics, /-/healthy, /-/reload (POST) and the / status page.
// Handlers run on civetweb's worker threads.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

class CivetServer;
class CivetHandler;

namespace reachmon::service {

struct HttpHandlers {
  std::function<std::string()> metrics;                   // exposition text
  std::function<std::pair<bool, std::string>()> healthy;  // ok, explanation
  std::function<std::pair<bool, std::string>()> reload;   // ok, message
  std::function<std::string()> status_page;               // HTML
};

class HttpServer {
 public:
  // `listen` is "IPv4:port" or "[IPv6]:port"; port 0 picks a free port. Throws on failure.
  HttpServer(const std::string& listen, HttpHandlers handlers);
  ~HttpServer();
  int port() const { return port_; }

 private:
  HttpHandlers handlers_;
  std::vector<std::unique_ptr<CivetHandler>> civet_handlers_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
  std::string wake_host_;  // where to connect to wake the accept loop at shutdown
};

}  // namespace reachmon::service
