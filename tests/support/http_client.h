// A minimal HTTP/1.0 client for the service tests, on civetweb's client API (portable: the same
// test runs on Linux and under Wine).
#pragma once

#include <civetweb.h>
#include <strings.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <string>

namespace reachmon::test {

struct HttpResponse {
  int status = 0;  // 0: no connection (see error)
  std::string content_type;
  std::string authenticate;                    // WWW-Authenticate
  std::map<std::string, std::string> headers;  // every header, by its name in lower case
  std::string body;                            // as received (not decoded: gzip stays gzip)
  std::string error;
};

// `headers`: more request header lines, each ending in "\r\n".
inline HttpResponse httpRequest(const char* method, int port, const std::string& path,
                                const std::string& headers = "", const char* host = "127.0.0.1") {
  HttpResponse r;
  char err[256] = {};
  mg_connection* c = mg_download(host, port, 0, err, sizeof err,
                                 "%s %s HTTP/1.0\r\nHost: %s\r\nContent-Length: 0\r\n%s\r\n",
                                 method, path.c_str(), host, headers.c_str());
  if (!c) {
    r.error = err;
    return r;
  }
  const mg_response_info* info = mg_get_response_info(c);
  r.status = info->status_code;
  for (int i = 0; i < info->num_headers; ++i) {
    std::string name = info->http_headers[i].name;
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    r.headers[name] = info->http_headers[i].value;
  }
  for (int i = 0; i < info->num_headers; ++i)
    if (strcasecmp(info->http_headers[i].name, "Content-Type") == 0) {
      r.content_type = info->http_headers[i].value;
    } else if (strcasecmp(info->http_headers[i].name, "WWW-Authenticate") == 0) {
      r.authenticate = info->http_headers[i].value;
    }
  char buf[4096];
  for (int n; (n = mg_read(c, buf, sizeof buf)) > 0;)
    r.body.append(buf, static_cast<std::size_t>(n));
  mg_close_connection(c);
  return r;
}

inline HttpResponse httpGet(int port, const std::string& path) {
  return httpRequest("GET", port, path);
}
inline HttpResponse httpPost(int port, const std::string& path) {
  return httpRequest("POST", port, path);
}

// The value of an unlabelled series in /metrics, or -1 if it is not there.
inline double metricValue(int port, const std::string& name) {
  const auto body = httpGet(port, "/metrics").body;
  const auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + name.size() + 2));
}

}  // namespace reachmon::test
