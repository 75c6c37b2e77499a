// The HTTP endpoints: /metrics, /-/healthy, /-/ready, /-/reload (POST, when enabled) and the
// pages / and /path; HEAD answers like GET without the body (the same headers, Content-Length
// included). /metrics and the pages are sent gzip-compressed to clients whose Accept-Encoding
// accepts gzip (Prometheus and browsers do), as they are to the others. Optionally TLS and basic
// authentication (the web config file). Handlers run on civetweb's worker threads (see
// http_server.cpp for how many, and the timeouts that keep idle clients from holding them).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "reachmon/config/config.h"

class CivetServer;
class CivetHandler;

namespace reachmon::service {

// A rendered /metrics body, kept only gzip-compressed (about 1/25 of the text): a client that does
// not accept gzip gets it inflated while it is sent.
struct MetricsBody {
  std::string gzip;            // one gzip stream (RFC 1952) of the exposition text
  std::size_t text_bytes = 0;  // the text's size: the Content-Length of a plain reply
};

struct HttpHandlers {
  std::function<std::shared_ptr<const MetricsBody>()> metrics;  // shared by concurrent scrapes
  std::function<std::pair<bool, std::string>()> healthy;        // ok, explanation
  std::function<std::pair<bool, std::string>()> reload;         // ok, message
  // The HTML pages "/" and "/path": (status, page) for the page ("/" or "/path", whatever the
  // case the request used) and the raw query string (empty when none).
  std::function<std::pair<int, std::string>(std::string_view uri, std::string_view query)> page;
  // ok, explanation; empty: ready whenever the server answers (service/src/readiness.h).
  std::function<std::pair<bool, std::string>()> ready;
};

// Who may do what; replaced on reload (HttpServer::setAccess).
struct HttpAccess {
  std::map<std::string, std::string> users;  // basic auth: user -> bcrypt hash; empty: open
  bool enable_reload = false;                // POST /-/reload; else 403
};

// Why this build's HTTP server cannot serve `listen` (an IPv6 address without civetweb's IPv6
// support; TLS without its TLS support), or empty: what HttpServer would refuse, for
// `reachmon check-config`.
std::string unservable(const std::string& listen, bool tls);

class HttpServer {
 public:
  // `listen` is "IPv4:port" or "[IPv6]:port"; port 0 picks a free port. With `tls`, the port
  // speaks only HTTPS. Throws std::runtime_error saying why it cannot start (the address is
  // taken, the key does not match the certificate, ...).
  HttpServer(const std::string& listen, const std::optional<config::TlsServerConfig>& tls,
             HttpAccess access, HttpHandlers handlers);
  ~HttpServer();
  int port() const { return port_; }
  // Takes effect for requests that arrive afterwards. Thread-safe.
  void setAccess(HttpAccess access);

  // What civetweb says while it starts (the reason it cannot bind); afterwards its messages go to
  // the debug log.
  struct CivetLog {
    std::atomic<bool> starting{true};
    std::mutex mutex;
    std::string start_errors;
    std::optional<config::TlsServerConfig> tls;  // read by civetweb's init_ssl while starting
  };

 private:
  struct Gate;  // the parsed HttpAccess
  std::shared_ptr<const Gate> gate() const;

  HttpHandlers handlers_;
  mutable std::mutex gate_mutex_;
  std::shared_ptr<const Gate> gate_;
  CivetLog civet_log_;  // before server_: civetweb may log until server_ is gone
  std::vector<std::unique_ptr<CivetHandler>> civet_handlers_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
  std::string wake_host_;  // where to connect to wake the accept loop at shutdown
};

}  // namespace reachmon::service
