// The web config file: TLS and basic authentication for the HTTP endpoints, the keys and values
// of the Prometheus exporter-toolkit's web config, written as JSON.
#include <regex>

#include "json_checker.h"
#include "reachmon/config/loader.h"
#include "value_rules.h"

namespace reachmon::config {
namespace {

using nlohmann::json;

// $2a$, $2b$ or $2y$, a two-digit cost 04-31, then 22 characters of salt and 31 of hash.
bool isBcryptHash(const std::string& s) {
  static const std::regex kBcrypt(R"(\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53})");
  return std::regex_match(s, kBcrypt);
}

class WebValidator : JsonChecker {
 public:
  explicit WebValidator(std::filesystem::path base_dir) : base_dir_(std::move(base_dir)) {}

  WebConfigResult run(const json& root) {
    WebConfig web;
    if (expectType(root, "$", root.is_object(), "an object")) {
      checkKeys(root, "$", {"tls_server_config", "basic_auth_users"});
      if (auto* v = find(root, "tls_server_config"))
        guarded("$.tls_server_config", [&] { readTls(*v, "$.tls_server_config", web); });
      if (auto* v = find(root, "basic_auth_users"))
        guarded("$.basic_auth_users", [&] { readUsers(*v, "$.basic_auth_users", web); });
    }
    WebConfigResult r;
    r.errors = takeErrors();
    if (r.errors.empty()) r.config = std::move(web);
    return r;
  }

 private:
  bool readFile(const json& obj, const std::string& parent, const char* key,
                std::filesystem::path& out) {
    const json* v = find(obj, key);
    if (!v) return false;
    const std::string path = parent + "." + key;
    std::string name;
    if (!readString(*v, path, name) || !noControls(path, "file name", name)) return false;
    if (name.empty()) {
      error(path, "empty file name");
      return false;
    }
    out = base_dir_ / std::filesystem::path(name);
    return true;
  }

  void readTls(const json& v, const std::string& path, WebConfig& web) {
    if (!expectType(v, path, v.is_object(), "an object")) return;
    checkKeys(v, path,
              {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version"});
    TlsServerConfig tls;
    bool ok = true;
    for (auto [key, out] : {std::pair{"cert_file", &tls.cert_file}, {"key_file", &tls.key_file}}) {
      if (!find(v, key)) {
        error(path + "." + key, "missing: TLS needs a certificate and its private key");
        ok = false;
      } else {
        ok = readFile(v, path, key, *out) && ok;
      }
    }
    const bool has_ca = find(v, "client_ca_file") != nullptr;
    ok = (!has_ca || readFile(v, path, "client_ca_file", tls.client_ca_file)) && ok;
    if (auto* a = find(v, "client_auth_type")) ok = readClientAuth(*a, path, has_ca, tls) && ok;
    if (has_ca && tls.client_auth == ClientAuth::kNone) {
      error(path + ".client_ca_file",
            "client CAs are set but client_auth_type is NoClientCert: set client_auth_type to "
            "\"RequireAndVerifyClientCert\" or \"VerifyClientCertIfGiven\", or remove "
            "client_ca_file");
      ok = false;
    }
    if (auto* m = find(v, "min_version")) ok = readMinVersion(*m, path, tls) && ok;
    if (ok) web.tls = std::move(tls);
  }

  bool readClientAuth(const json& v, const std::string& parent, bool has_ca, TlsServerConfig& tls) {
    const std::string path = parent + ".client_auth_type";
    std::string s;
    if (!readString(v, path, s)) return false;
    if (s == "NoClientCert") {
      tls.client_auth = ClientAuth::kNone;
    } else if (s == "VerifyClientCertIfGiven" || s == "RequireAndVerifyClientCert") {
      tls.client_auth = s == "VerifyClientCertIfGiven" ? ClientAuth::kVerifyIfGiven
                                                       : ClientAuth::kRequireAndVerify;
      if (!has_ca) {
        error(path, quote(s) + " needs client_ca_file, the CAs that sign client certificates");
        return false;
      }
    } else if (s == "RequestClientCert" || s == "RequireAnyClientCert") {
      error(path, quote(s) +
                      " is not supported: a client certificate that is not verified "
                      "proves nothing; use \"RequireAndVerifyClientCert\"");
      return false;
    } else {
      error(path, "unknown client_auth_type " + quote(s) +
                      " (use \"NoClientCert\", \"VerifyClientCertIfGiven\" or "
                      "\"RequireAndVerifyClientCert\")");
      return false;
    }
    return true;
  }

  bool readMinVersion(const json& v, const std::string& parent, TlsServerConfig& tls) {
    const std::string path = parent + ".min_version";
    std::string s;
    if (!readString(v, path, s)) return false;
    if (s == "TLS12" || s == "TLS13") {
      tls.min_version = s == "TLS12" ? TlsVersion::kTls12 : TlsVersion::kTls13;
      return true;
    }
    if (s == "TLS10" || s == "TLS11") {
      error(path, quote(s) + " is no longer safe and not supported: use \"TLS12\" or \"TLS13\"");
    } else {
      error(path, "unknown min_version " + quote(s) + " (use \"TLS12\" or \"TLS13\")");
    }
    return false;
  }

  void readUsers(const json& v, const std::string& path, WebConfig& web) {
    if (!expectType(v, path, v.is_object(), "an object of user names and bcrypt hashes")) return;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string up = memberPath(path, it.key());
      if (!noControls(up, "user name", it.key())) continue;
      if (it.key().empty() || it.key().find(':') != std::string::npos) {
        error(up, "invalid user name " + quote(it.key()) +
                      ": it must not be empty or contain ':' (basic authentication splits there)");
        continue;
      }
      std::string hash;
      if (!readString(*it, up, hash)) continue;
      if (!isBcryptHash(hash)) {
        // The hash itself is not echoed: a plain password written here by mistake stays out of
        // the logs.
        error(up,
              "not a bcrypt hash (\"$2y$10$\" and 53 more characters, 60 in all): make one "
              "with `reachmon hash-password`, or htpasswd -nB");
        continue;
      }
      web.basic_auth_users[it.key()] = hash;
    }
  }

  std::filesystem::path base_dir_;
};

}  // namespace

WebConfigResult parseWebConfig(std::string_view text, const std::filesystem::path& base_dir) {
  WebConfigResult r = validateJsonText<WebConfigResult>(
      text, [&](const json& root) { return WebValidator(base_dir).run(root); });
  // A syntax error quotes the text it stopped at ("last read: '...'"), which here may be a
  // password written where a hash belongs: keep it out of logs and HTTP answers.
  constexpr std::string_view kQuote = "; last read: '";
  constexpr std::string_view kNext = "'; expected ";
  for (auto& e : r.errors) {
    const auto at = e.message.find(kQuote);
    if (at == std::string::npos) continue;
    const auto next = e.message.find(kNext, at + kQuote.size());
    e.message.erase(at, next == std::string::npos ? std::string::npos : next + 1 - at);
  }
  return r;
}

WebConfigResult loadWebConfigFile(const std::filesystem::path& file) {
  std::string why;
  const auto text = readConfigText(file, &why, kMaxWebFileBytes);
  if (!text) {
    WebConfigResult r;
    r.errors.push_back({"", "cannot read the file: " + why});
    return r;
  }
  WebConfigResult r = parseWebConfig(*text, file.parent_path());
  if (!r.config || !r.config->tls) return r;
  const auto& tls = *r.config->tls;
  for (auto [key, name] : {std::pair{"cert_file", &tls.cert_file},
                           {"key_file", &tls.key_file},
                           {"client_ca_file", &tls.client_ca_file}}) {
    // The same rules as for the config files: a FIFO named here must not hang a reload.
    if (!name->empty() && !readConfigText(*name, &why, kMaxWebFileBytes))
      r.errors.push_back({std::string("$.tls_server_config.") + key,
                          "cannot read " + name->string() + ": " + why});
  }
  if (!r.errors.empty()) r.config.reset();
  return r;
}

}  // namespace reachmon::config
