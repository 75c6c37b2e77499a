// The web config file (TLS and basic authentication) and the config file's "web" object: what is
// accepted, and every refusal with its JSON path.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#ifndef _WIN32
#include <sys/stat.h>
#endif

#include "config_file.h"
#include "reachmon/config/loader.h"

using namespace reachmon;
namespace fs = std::filesystem;

namespace {

// "prometheus" / "secret", cost 4.
const std::string kHash = "$2b$04$A7Zt2cIxd7ytydtRhZFwCeRSipD95l569bhdZOHqGtpoTIp/tzwL.";

std::string errorText(const std::vector<config::ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) out += e.str() + "\n";
  return out;
}

std::string webErrors(const std::string& text) {
  const auto r = config::parseWebConfig(text, "/etc/reachmon");
  CHECK(r.config.has_value() == r.errors.empty());
  return errorText(r.errors);
}

// A fresh directory for one test's files.
fs::path scratchDir(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / ("reachmon-web-config-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

const char* kMain =
    R"({"listen":"127.0.0.1:0","web":{"config_file":"web.json","enable_reload":true},)"
    R"("sources":[{"name":"lo","address":"127.0.0.1"}],"targets":[{"name":"t","host":"127.0.0.1"}]})";

}  // namespace

TEST_CASE("Web config: TLS and users are read, relative files against its directory",
          "[config][web]") {
  const auto r = config::parseWebConfig(
      R"({"tls_server_config":{"cert_file":"tls/cert.pem","key_file":"/keys/key.pem",
            "client_auth_type":"RequireAndVerifyClientCert","client_ca_file":"ca.pem",
            "min_version":"TLS13"},
          "basic_auth_users":{"prometheus":")" +
          kHash + R"(","grafana":")" + kHash + R"("}})",
      "/etc/reachmon");
  REQUIRE(r.errors.empty());
  REQUIRE(r.config->tls);
  const auto& tls = *r.config->tls;
  CHECK(tls.cert_file == fs::path("/etc/reachmon/tls/cert.pem"));
  CHECK(tls.key_file == fs::path("/keys/key.pem"));
  CHECK(tls.client_ca_file == fs::path("/etc/reachmon/ca.pem"));
  CHECK(tls.client_auth == config::ClientAuth::kRequireAndVerify);
  CHECK(tls.min_version == config::TlsVersion::kTls13);
  CHECK(r.config->basic_auth_users.size() == 2);
  CHECK(r.config->basic_auth_users.at("grafana") == kHash);

  const auto plain = config::parseWebConfig(R"({"basic_auth_users":{}})", "/etc");
  REQUIRE(plain.errors.empty());
  CHECK_FALSE(plain.config->tls);
  CHECK(plain.config->basic_auth_users.empty());
  const auto defaults =
      config::parseWebConfig(R"({"tls_server_config":{"cert_file":"c","key_file":"k"}})", "/d");
  REQUIRE(defaults.errors.empty());
  CHECK(defaults.config->tls->client_auth == config::ClientAuth::kNone);
  CHECK(defaults.config->tls->min_version == config::TlsVersion::kTls12);
}

TEST_CASE("Web config: every mistake is reported with its path", "[config][web]") {
  CHECK(webErrors(R"({"tls_server_config":{"cert_file":"c"},"http_server_config":{}})") ==
        "$.http_server_config: unknown key (allowed here: tls_server_config, basic_auth_users)\n"
        "$.tls_server_config.key_file: missing: TLS needs a certificate and its private key\n");
  CHECK(webErrors(
            R"({"tls_server_config":{"cert_file":"c","key_file":"k","client_ca_file":"ca"}})") ==
        "$.tls_server_config.client_ca_file: client CAs are set but client_auth_type is "
        "NoClientCert: set client_auth_type to \"RequireAndVerifyClientCert\" or "
        "\"VerifyClientCertIfGiven\", or remove client_ca_file\n");
  CHECK(webErrors(R"({"tls_server_config":{"cert_file":"c","key_file":"k",
                      "client_auth_type":"RequireAndVerifyClientCert"}})") ==
        "$.tls_server_config.client_auth_type: \"RequireAndVerifyClientCert\" needs "
        "client_ca_file, the CAs that sign client certificates\n");
  CHECK(webErrors(R"({"tls_server_config":{"cert_file":"c","key_file":"k",
                      "client_auth_type":"RequireAnyClientCert"}})")
            .find("is not supported: a client certificate that is not verified") !=
        std::string::npos);
  CHECK(webErrors(
            R"({"tls_server_config":{"cert_file":"c","key_file":"k","min_version":"TLS10"}})") ==
        "$.tls_server_config.min_version: \"TLS10\" is no longer safe and not supported: use "
        "\"TLS12\" or \"TLS13\"\n");
  CHECK(webErrors(R"({"tls_server_config":{"cert_file":"","key_file":7}})") ==
        "$.tls_server_config.cert_file: empty file name\n"
        "$.tls_server_config.key_file: expected a string, found integer\n");
  CHECK(webErrors(R"({"basic_auth_users":{"a:b":")" + kHash + R"(","":")" + kHash + R"("}})") ==
        "$.basic_auth_users[\"\"]: invalid user name \"\": it must not be empty or contain ':' "
        "(basic authentication splits there)\n"
        "$.basic_auth_users[\"a:b\"]: invalid user name \"a:b\": it must not be empty or contain "
        "':' (basic authentication splits there)\n");
  // A plain password written by mistake is refused and not repeated in the message.
  const std::string plain = webErrors(R"({"basic_auth_users":{"prometheus":"hunter2"}})");
  CHECK(plain.find("$.basic_auth_users.prometheus: not a bcrypt hash") == 0);
  CHECK(plain.find("hunter2") == std::string::npos);
  CHECK(webErrors(R"({"basic_auth_users":{"p":")" + kHash.substr(0, 59) + R"("}})")
            .find("not a bcrypt hash") != std::string::npos);
  CHECK(webErrors(R"({"basic_auth_users":{"p":"$2b$03$)" + kHash.substr(7) + R"("}})")
            .find("not a bcrypt hash") != std::string::npos);  // cost below 4
  CHECK(webErrors(R"({"basic_auth_users":{"p":"a","p":"b"}})")
            .find("$.basic_auth_users.p: duplicate key") == 0);
  CHECK(webErrors(R"({"basic_auth_users":{"p":1e999}})").find("out of range") != std::string::npos);
  CHECK(webErrors("[]") == "$: expected an object, found array\n");
  // A syntax error never quotes the text it stopped at: it may be a password.
  for (const char* broken :
       {R"({"basic_auth_users":{"p":"Secret\w"}})", "{\"basic_auth_users\":{\"p\":\"Secret\n\"}}",
        R"({"basic_auth_users":{"p":Secret}})"}) {
    const std::string e = webErrors(broken);
    CHECK(e.find("invalid JSON") != std::string::npos);
    CHECK(e.find("Secret") == std::string::npos);
  }
  CHECK_FALSE(webErrors("{").empty());
}

TEST_CASE("Config: the web object and its file load with the config, errors name the file",
          "[config][web]") {
  const fs::path dir = scratchDir("load");
  test::writeConfigFile(dir / "reachmon.json", kMain);
  std::ofstream(dir / "cert.pem") << "cert";
  std::ofstream(dir / "key.pem") << "key";

  // The web config file is missing.
  auto r = config::loadConfigFile(dir / "reachmon.json");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].where == "$.web.config_file");
  CHECK(r.errors[0].message.find((dir / "web.json").string() + ": cannot read the file") == 0);

  // Valid, with files relative to the web config file.
  test::writeConfigFile(dir / "web.json",
                        R"({"tls_server_config":{"cert_file":"cert.pem","key_file":"key.pem"},)"
                        R"("basic_auth_users":{"prometheus":")" +
                            kHash + R"("}})");
  r = config::loadConfigFile(dir / "reachmon.json");
  REQUIRE(r.errors.empty());
  CHECK(r.config->web.enable_reload);
  CHECK(r.config->web.config_path == dir / "web.json");
  CHECK(r.config->web.config.tls->key_file == dir / "key.pem");
  CHECK(r.config->web.config.basic_auth_users.count("prometheus") == 1);

  // A file it names cannot be read: the error says which, and where it is named.
  fs::remove(dir / "key.pem");
  r = config::loadConfigFile(dir / "reachmon.json");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].str() == "$.web.config_file: " + (dir / "web.json").string() +
                                 ": $.tls_server_config.key_file: cannot read " +
                                 (dir / "key.pem").string() + ": No such file or directory");

  // Without a web object: plain HTTP, reload over HTTP off.
  const auto plain = config::parseConfig(
      R"({"sources":[{"name":"lo","address":"127.0.0.1"}],"targets":[{"name":"t","host":"127.0.0.1"}]})");
  REQUIRE(plain.errors.empty());
  CHECK_FALSE(plain.config->web.enable_reload);
  CHECK(plain.config->web.config_file.empty());
  fs::remove_all(dir);
}

TEST_CASE("Config files: only regular files of bounded size are read", "[config][web]") {
  const fs::path dir = scratchDir("special");
  std::string why;
  CHECK_FALSE(config::readConfigText(dir, &why));
  CHECK(why == "it is a directory");
  CHECK_FALSE(config::readConfigText(dir / "missing.json", &why));
  CHECK(why.find("No such file") != std::string::npos);
  std::ofstream(dir / "big.json") << std::string(1000, ' ');
  CHECK_FALSE(config::readConfigText(dir / "big.json", &why, 999));
  CHECK(why == "the file is 1000 bytes, more than the limit of 999");
  CHECK(config::readConfigText(dir / "big.json", &why, 1000) == std::string(1000, ' '));
#ifndef _WIN32
  // A FIFO would block the reader (and a reload, and the stop waiting for it) forever.
  REQUIRE(mkfifo((dir / "fifo").c_str(), 0600) == 0);
  CHECK_FALSE(config::readConfigText(dir / "fifo", &why));
  CHECK(why == "not a regular file (a FIFO, socket or device)");
  test::writeConfigFile(dir / "reachmon.json", kMain);
  fs::create_symlink(dir / "fifo", dir / "web.json");
  const auto r = config::loadConfigFile(dir / "reachmon.json");
  REQUIRE(r.errors.size() == 1);
  CHECK(r.errors[0].message ==
        (dir / "web.json").string() +
            ": cannot read the file: not a regular file (a FIFO, socket or device)");
  CHECK_FALSE(config::readConfigText("/dev/zero", &why));
  // Nor may a certificate named in it: it is read too (to check that it can be).
  fs::remove(dir / "web.json");
  test::writeConfigFile(dir / "web.json",
                        R"({"tls_server_config":{"cert_file":"fifo","key_file":"fifo"}})");
  const auto tls = config::loadConfigFile(dir / "reachmon.json");
  REQUIRE(tls.errors.size() == 2);
  CHECK(tls.errors[0].message ==
        (dir / "web.json").string() + ": $.tls_server_config.cert_file: cannot read " +
            (dir / "fifo").string() + ": not a regular file (a FIFO, socket or device)");
#endif
  fs::remove_all(dir);
}

TEST_CASE("Config: mistakes in the web object", "[config][web]") {
  const auto r = config::parseConfig(
      R"({"web":{"config_file":"","enable_reload":"yes","tls":{}},)"
      R"("sources":[{"name":"lo","address":"127.0.0.1"}],"targets":[{"name":"t","host":"127.0.0.1"}]})");
  CHECK(errorText(r.errors) ==
        "$.web.tls: unknown key (allowed here: config_file, enable_reload, graphs)\n"
        "$.web.config_file: empty: omit it for plain HTTP without authentication\n"
        "$.web.enable_reload: expected true or false, found string\n");
}

TEST_CASE("Web config: comments are white space, and errors keep their places", "[config][web]") {
  // A bcrypt hash may hold '/': inside a string it is text, never the start of a comment.
  const auto r = config::parseWebConfig(
      "// TLS and users of reachmon\n"
      "{\n"
      "  /* node_exporter's file, as JSON */\n"
      "  \"basic_auth_users\": { // bcrypt, cost 4\n"
      "    \"prometheus\": \"" +
          kHash +
          "\" /* \"secret\" */\n"
          "  }\n"
          "} // end",
      "/etc/reachmon");
  REQUIRE(r.errors.empty());
  CHECK(r.config->basic_auth_users.at("prometheus") == kHash);

  CHECK(webErrors("{\n  // users\n  \"basic_auth_user\": {}\n}") ==
        "$.basic_auth_user: unknown key (allowed here: tls_server_config, basic_auth_users)\n");
  CHECK(webErrors("/* line 1\n   line 2 */ {\"basic_auth_users\": {\"a\" 1}}") ==
        "line 2, column 40: invalid JSON: syntax error while parsing object separator - "
        "unexpected number literal; expected ':'\n");
  CHECK(webErrors("{\"basic_auth_users\": {}} /* not closed") ==
        "line 1, column 26: invalid JSON: unterminated comment: this /* has no closing */ (a "
        "// comment ends at the end of its line)\n");
  CHECK(webErrors("// nothing yet\n") ==
        "no JSON value: the file is empty or holds only comments and white space\n");
  // "$schema" is the config file's: the web config has no schema and stays strict.
  CHECK(webErrors(R"({"$schema": "x"})") ==
        "$[\"$schema\"]: unknown key (allowed here: tls_server_config, basic_auth_users)\n");

  // Loaded with the config, from files: both may carry comments.
  const fs::path dir = scratchDir("comments");
  test::writeConfigFile(dir / "reachmon.json", std::string("// reachmon\n") + kMain);
  test::writeConfigFile(
      dir / "web.json",
      "{ /* users */ \"basic_auth_users\": {\"prometheus\": \"" + kHash + "\"} }\n// end\n");
  const auto loaded = config::loadConfigFile(dir / "reachmon.json");
  INFO(errorText(loaded.errors));
  REQUIRE(loaded.errors.empty());
  CHECK(loaded.config->web.config.basic_auth_users.count("prometheus") == 1);
  test::writeConfigFile(dir / "web.json", "{ /* users */ \"basic_auth_users\": {} ");
  const auto broken = config::loadConfigFile(dir / "reachmon.json");
  REQUIRE(broken.errors.size() == 1);
  CHECK(broken.errors[0].str() == "$.web.config_file: " + (dir / "web.json").string() +
                                      ": line 1, column 38: invalid JSON: syntax error while "
                                      "parsing object - unexpected end of input; expected '}'");
  fs::remove_all(dir);
}
