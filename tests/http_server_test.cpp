// The HTTP front on a real socket: port 0, every endpoint's status and content type, methods,
// and start-up errors.
#include "reachmon/service/http_server.h"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string_view>

#include "gzip.h"
#include "http_client.h"

using namespace reachmon;
using namespace reachmon::test;

namespace {

// A /metrics body as the App makes it: `text`, gzip-compressed.
std::shared_ptr<const service::MetricsBody> metricsBody(const std::string& text) {
  service::GzipWriter gzip(1, 0);
  gzip.write(text);
  auto body = std::make_shared<service::MetricsBody>();
  body->text_bytes = gzip.textBytes();
  body->gzip = gzip.finish();
  return body;
}

service::HttpHandlers handlers(bool healthy, bool reload_ok) {
  service::HttpHandlers h;
  h.metrics = [] { return metricsBody("reachmon_up 1\n"); };
  h.healthy = [healthy] {
    return std::make_pair(healthy, std::string(healthy ? "OK" : "probe loop stalled"));
  };
  h.reload = [reload_ok] {
    return std::make_pair(reload_ok, std::string(reload_ok ? "config reloaded" : "$.x: bad"));
  };
  h.page = [](std::string_view uri, std::string_view query) {
    if (uri == "/path" && query.empty()) return std::make_pair(400, std::string("no path named"));
    return std::make_pair(
        200, "<!doctype html><title>status</title>" + std::string(uri) + "?" + std::string(query));
  };
  return h;
}

// Handlers whose reload succeeds and counts its calls in `reloads`.
service::HttpHandlers countingReloads(int& reloads) {
  auto h = handlers(true, true);
  h.reload = [&reloads] {
    ++reloads;
    return std::make_pair(true, std::string("config reloaded"));
  };
  return h;
}

// No authentication, reload enabled.
const service::HttpAccess kOpen{{}, true};

}  // namespace

TEST_CASE("HttpServer: port 0 picks a free port and every endpoint answers", "[http]") {
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, handlers(true, true));
  const int port = server.port();
  REQUIRE(port > 0);
  auto r = httpGet(port, "/metrics");
  CHECK(r.status == 200);
  CHECK(r.body == "reachmon_up 1\n");
  CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  r = httpGet(port, "/-/healthy");
  CHECK(r.status == 200);
  CHECK(r.body == "OK\n");
  r = httpPost(port, "/-/reload");
  CHECK(r.status == 200);
  CHECK(r.body == "config reloaded\n");
  r = httpGet(port, "/");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body.find("<title>status</title>") != std::string::npos);
  CHECK(httpGet(port, "/-/reload").status == 405);
  CHECK(httpPost(port, "/metrics").status == 405);
  CHECK(httpGet(port, "/nope").status == 404);
}

TEST_CASE("HttpServer: /metrics is gzip when Accept-Encoding accepts it and plain text otherwise",
          "[http]") {
  // Larger than the pieces bodies are written and inflated in (64 KiB).
  std::string text;
  for (int i = 0; text.size() < std::size_t{300} * 1024; ++i)
    text += "reachmon_probes_sent_total{source=\"a\",target=\"t" + std::to_string(i) + "\"} " +
            std::to_string(i * 31) + "\n";
  auto body = metricsBody(text);  // outlives the server, whose handler returns it
  auto h = handlers(true, true);
  h.metrics = [&body] { return body; };
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, h);
  const auto plain = [&](const std::string& headers) {
    INFO(headers);
    const auto r = httpRequest("GET", server.port(), "/metrics", headers);
    CHECK(r.status == 200);
    CHECK(r.body == text);
    CHECK(r.headers.count("content-encoding") == 0);
    CHECK(r.headers.at("content-length") == std::to_string(text.size()));
    CHECK(r.headers.at("vary") == "Accept-Encoding");
    CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
  };
  plain("");
  plain("Accept-Encoding: gzip;q=0\r\n");
  plain("Accept-Encoding: identity, deflate\r\n");
  for (const char* accept : {"gzip", "deflate, gzip;q=0.8", "*"}) {
    INFO(accept);
    const auto r = httpRequest("GET", server.port(), "/metrics",
                               std::string("Accept-Encoding: ") + accept + "\r\n");
    CHECK(r.status == 200);
    CHECK(r.body == body->gzip);
    CHECK(r.headers.at("content-encoding") == "gzip");
    CHECK(r.headers.at("content-length") == std::to_string(body->gzip.size()));
    CHECK(r.headers.at("vary") == "Accept-Encoding");
    CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
    std::string out;
    CHECK(service::gunzip(r.body, 4096, [&](std::string_view p) {
      out += p;
      return true;
    }));
    CHECK(out == text);
  }
  // The pages are compressed the same way; the short answers are never and do not vary.
  const auto page = httpRequest("GET", server.port(), "/", "Accept-Encoding: gzip\r\n");
  CHECK(page.headers.at("content-encoding") == "gzip");
  CHECK(page.headers.at("vary") == "Accept-Encoding");
  std::string html;
  CHECK(service::gunzip(page.body, 4096, [&](std::string_view p) {
    html += p;
    return true;
  }));
  CHECK(html == "<!doctype html><title>status</title>/?");
  const auto plain_page = httpRequest("GET", server.port(), "/", "");
  CHECK(plain_page.body == html);
  CHECK(plain_page.headers.count("content-encoding") == 0);
  const auto healthy = httpRequest("GET", server.port(), "/-/healthy", "Accept-Encoding: gzip\r\n");
  CHECK(healthy.headers.count("content-encoding") == 0);
  CHECK(healthy.headers.count("vary") == 0);
}

TEST_CASE("HttpServer: /path gets its query string as sent, and the page's status", "[http]") {
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, handlers(true, true));
  auto r = httpGet(server.port(), "/path?source=isp%20a&target=gw");
  CHECK(r.status == 200);
  CHECK(r.content_type == "text/html; charset=utf-8");
  CHECK(r.body == "<!doctype html><title>status</title>/path?source=isp%20a&target=gw");
  CHECK(httpGet(server.port(), "/path").status == 400);
  CHECK(httpGet(server.port(), "/?window=10m").body ==
        "<!doctype html><title>status</title>/?window=10m");
  CHECK(httpGet(server.port(), "/path/x").status == 404);
  // civetweb matches paths without regard to case: /PATH is still the path page.
  CHECK(httpGet(server.port(), "/PATH?target=gw").body ==
        "<!doctype html><title>status</title>/path?target=gw");
}

TEST_CASE("HttpServer: failures answer 503 and 400 with the reason", "[http]") {
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, handlers(false, false));
  auto r = httpGet(server.port(), "/-/healthy");
  CHECK(r.status == 503);
  CHECK(r.body == "probe loop stalled\n");
  r = httpPost(server.port(), "/-/reload");
  CHECK(r.status == 400);
  CHECK(r.body == "$.x: bad\n");
}

TEST_CASE("HttpServer: a port in use is a start-up error naming the address", "[http]") {
  service::HttpServer first("127.0.0.1:0", std::nullopt, kOpen, handlers(true, true));
  const std::string taken = "127.0.0.1:" + std::to_string(first.port());
  try {
    service::HttpServer second(taken, std::nullopt, kOpen, handlers(true, true));
    FAIL("a second server started on " << taken);
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("cannot listen on " + taken) == 0);
    // civetweb's own reason, with the OS error, not its generic "null context" message.
    CHECK(what.find("cannot bind to " + taken) != std::string::npos);
    CHECK(what.find("null context") == std::string::npos);
  }
  CHECK(httpGet(first.port(), "/metrics").status == 200);  // the first one is unaffected
}

TEST_CASE("HttpServer: an IPv6 listen address works or is refused with the reason", "[http]") {
  constexpr unsigned kCivetIpv6 = 8;
  if (mg_check_feature(kCivetIpv6) == 0) {
    // Debian's civetweb is built without IPv6: say so instead of failing obscurely.
    try {
      service::HttpServer v6("[::1]:0", std::nullopt, kOpen, handlers(true, true));
      FAIL("IPv6 listen accepted by a civetweb without IPv6");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("no IPv6 support") != std::string::npos);
    }
  } else {
    service::HttpServer v6("[::1]:0", std::nullopt, kOpen, handlers(true, true));
    CHECK(v6.port() > 0);
  }
}

TEST_CASE("HttpServer: a handler that throws answers 500 and the server goes on", "[http]") {
  auto h = handlers(true, true);
  int calls = 0;
  h.metrics = [&calls] {
    if (++calls == 1) throw std::runtime_error("scrape failed");
    return metricsBody("reachmon_up 1\n");
  };
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, h);
  CHECK(httpGet(server.port(), "/metrics").status == 500);
  const auto r = httpGet(server.port(), "/metrics");
  CHECK(r.status == 200);
  CHECK(r.body == "reachmon_up 1\n");
}

TEST_CASE("HttpServer: POST /-/reload is 403 unless enabled, and enabling applies at once",
          "[http]") {
  int reloads = 0;
  const auto h = countingReloads(reloads);
  service::HttpServer server("127.0.0.1:0", std::nullopt, service::HttpAccess{}, h);
  auto r = httpPost(server.port(), "/-/reload");
  CHECK(r.status == 403);
  CHECK(r.body.find("enable_reload") != std::string::npos);
  CHECK(reloads == 0);
  server.setAccess(service::HttpAccess{{}, true});
  CHECK(httpPost(server.port(), "/-/reload").status == 200);
  CHECK(reloads == 1);
}

TEST_CASE("HttpServer: a state-changing request with an Origin header is refused", "[http]") {
  int reloads = 0;
  const auto h = countingReloads(reloads);
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, h);
  auto r = httpRequest("POST", server.port(), "/-/reload", "Origin: http://evil.example\r\n");
  CHECK(r.status == 403);
  CHECK(r.body.find("Origin") != std::string::npos);
  CHECK(reloads == 0);
  // Reading is not changing state: a GET with Origin (e.g. a dashboard's fetch) is served.
  CHECK(
      httpRequest("GET", server.port(), "/metrics", "Origin: http://grafana.example\r\n").status ==
      200);
  CHECK(httpPost(server.port(), "/-/reload").status == 200);
  CHECK(reloads == 1);
}

TEST_CASE("HttpServer: basic authentication guards every endpoint", "[http]") {
  int reloads = 0;
  const auto h = countingReloads(reloads);
  // "prometheus" / "s3cret:with colon", bcrypt cost 4 (made with Python's crypt module).
  const std::string hash = "$2b$04$A7Zt2cIxd7ytydtRhZFwCeRSipD95l569bhdZOHqGtpoTIp/tzwL.";
  service::HttpServer server("127.0.0.1:0", std::nullopt, {{{"prometheus", hash}}, true}, h);
  const int port = server.port();
  for (const char* path : {"/metrics", "/-/healthy", "/"}) {
    auto r = httpGet(port, path);
    CHECK(r.status == 401);
    CHECK(r.authenticate.find("Basic realm=") == 0);
    CHECK(r.body.find("reachmon_up") == std::string::npos);
  }
  CHECK(httpPost(port, "/-/reload").status == 401);
  CHECK(reloads == 0);
  const auto basic = [](const char* credentials_base64) {
    return std::string("Authorization: Basic ") + credentials_base64 + "\r\n";
  };
  // prometheus:s3cret:with colon
  const auto good = basic("cHJvbWV0aGV1czpzM2NyZXQ6d2l0aCBjb2xvbg==");
  auto r = httpRequest("GET", port, "/metrics", good);
  CHECK(r.status == 200);
  CHECK(r.body == "reachmon_up 1\n");
  CHECK(httpRequest("POST", port, "/-/reload", good).status == 200);
  CHECK(reloads == 1);
  CHECK(httpRequest("GET", port, "/metrics", basic("cHJvbWV0aGV1czpzM2NyZXQ=")).status ==
        401);  // prometheus:s3cret
  CHECK(httpRequest("GET", port, "/metrics", basic("b3RoZXI6czNjcmV0OndpdGggY29sb24=")).status ==
        401);  // other:s3cret:with colon
  CHECK(httpRequest("GET", port, "/metrics", basic("!!!")).status == 401);
  CHECK(httpRequest("GET", port, "/metrics", "Authorization: Bearer x\r\n").status == 401);
  // Users change on reload: the old password stops working at once (the new one is "other").
  server.setAccess(
      {{{"prometheus", "$2b$04$InavPIB8Hn7N19nuIBnTaO.v26x67JZLN5bxRBETOvknudiIQvqte"}}, true});
  CHECK(httpRequest("GET", port, "/metrics", good).status == 401);
  server.setAccess(kOpen);
  CHECK(httpGet(port, "/metrics").status == 200);
}

TEST_CASE("HttpServer: /-/ready answers the readiness verdict and 200 without a handler",
          "[http]") {
  bool ready = false;
  auto h = handlers(true, true);
  h.ready = [&ready] {
    return std::make_pair(ready, std::string(ready ? "ready" : "not ready: resolving"));
  };
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, h);
  auto r = httpGet(server.port(), "/-/ready");
  CHECK(r.status == 503);
  CHECK(r.body == "not ready: resolving\n");
  CHECK(r.content_type == "text/plain; charset=utf-8");
  ready = true;
  r = httpGet(server.port(), "/-/ready");
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");
  CHECK(httpPost(server.port(), "/-/ready").status == 405);

  service::HttpServer plain("127.0.0.1:0", std::nullopt, kOpen, handlers(true, true));
  r = httpGet(plain.port(), "/-/ready");
  CHECK(r.status == 200);
  CHECK(r.body == "ready\n");
}

TEST_CASE("HttpServer: HEAD of every GET endpoint sends GET's status and headers and no body",
          "[http]") {
  auto h = handlers(true, true);
  bool ready = false;
  h.ready = [&ready] { return std::make_pair(ready, std::string("not ready: resolving")); };
  service::HttpServer server("127.0.0.1:0", std::nullopt, kOpen, h);
  const auto same = [&](const std::string& path, const std::string& headers) {
    INFO(path << " " << headers);
    const auto get = httpRequest("GET", server.port(), path, headers);
    const auto head = httpRequest("HEAD", server.port(), path, headers);
    CHECK(head.status == get.status);
    CHECK(head.body.empty());
    CHECK_FALSE(get.body.empty());
    CHECK(head.headers.at("content-length") == std::to_string(get.body.size()));
    for (const char* name : {"content-type", "content-length", "content-encoding", "vary",
                             "cache-control", "www-authenticate"}) {
      INFO(name);
      CHECK(head.headers.count(name) == get.headers.count(name));
      if (get.headers.count(name)) CHECK(head.headers.at(name) == get.headers.at(name));
    }
  };
  for (const char* path : {"/metrics", "/-/healthy", "/-/ready", "/", "/path?x=1"}) {
    same(path, "");
    same(path, "Accept-Encoding: gzip\r\n");
  }
  ready = true;
  same("/-/ready", "");
  CHECK(httpRequest("HEAD", server.port(), "/metrics", "Accept-Encoding: gzip\r\n")
            .headers.at("content-encoding") == "gzip");
  // And the refusals: 401 for a request without credentials.
  server.setAccess(
      {{{"prometheus", "$2b$04$A7Zt2cIxd7ytydtRhZFwCeRSipD95l569bhdZOHqGtpoTIp/tzwL."}}, true});
  for (const char* path : {"/metrics", "/-/healthy", "/-/ready", "/"}) same(path, "");
}
