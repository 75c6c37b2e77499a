// The validated configuration model: plain values, no JSON. Produced by parseConfig(), read by
// the service, which turns it into probe paths. Sources and per-target probe options are the
// probe thread's own types (core/path.h): one struct per concept, parsed here, used there.
// Immutable once built; safe to share between threads.
#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "reachmon/core/address.h"
#include "reachmon/core/path.h"

namespace reachmon::config {

using Duration = std::chrono::nanoseconds;

struct Target {
  std::string name;
  std::string host;                        // as written: an IP literal or a DNS name
  std::optional<core::IpAddress> literal;  // set when host is an IP literal
  core::Family family = core::Family::kIpv4;
  std::vector<std::string> sources;  // empty: every source of the same family
  core::Labels labels;
  core::ProbeOptions probe;  // `defaults` with the target's own settings applied
};

// The web config file (`web.config_file`): TLS and basic authentication of the HTTP endpoints, in
// the style of the Prometheus exporter-toolkit's web config, as JSON.
enum class ClientAuth { kNone, kVerifyIfGiven, kRequireAndVerify };
enum class TlsVersion { kTls12, kTls13 };

struct TlsServerConfig {
  std::filesystem::path cert_file;       // PEM certificate (chain), absolute
  std::filesystem::path key_file;        // PEM private key, absolute
  std::filesystem::path client_ca_file;  // PEM CAs for client certificates; empty: none
  ClientAuth client_auth = ClientAuth::kNone;
  TlsVersion min_version = TlsVersion::kTls12;
  bool operator==(const TlsServerConfig&) const = default;
};

struct WebConfig {
  std::optional<TlsServerConfig> tls;                   // unset: plain HTTP
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash; empty: no auth
  bool operator==(const WebConfig&) const = default;
};

// The config file's "web" object.
struct Web {
  std::string config_file;     // as written; empty: plain HTTP without authentication
  bool enable_reload = false;  // POST /-/reload answers only when true
  bool graphs = true;          // the status page's graphs: each path keeps a PathHistory
  // The web config file's path (relative to the config file's directory) and contents; set by
  // loadConfigFile when config_file is.
  std::filesystem::path config_path;
  WebConfig config;
};

struct Config {
  std::string listen = "127.0.0.1:9643";
  Web web;
  core::ProbeOptions defaults;
  Duration resolve_interval = std::chrono::minutes(5);
  Duration min_send_gap = std::chrono::microseconds(50);
  std::vector<core::SourceSpec> sources;
  std::vector<Target> targets;
};

}  // namespace reachmon::config
