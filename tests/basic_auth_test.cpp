// Basic authentication: the Authorization header, bcrypt checks, and hashes made for
// `reachmon hash-password`.
#include "basic_auth.h"

#include <catch2/catch.hpp>

using namespace reachmon;

namespace {
// "s3cret:with colon", cost 4, as Python's crypt module (libxcrypt) makes it.
const std::string kHash = "$2b$04$A7Zt2cIxd7ytydtRhZFwCeRSipD95l569bhdZOHqGtpoTIp/tzwL.";
}  // namespace

TEST_CASE("Basic auth: the Authorization header is decoded or refused", "[auth]") {
  using service::parseBasicAuthorization;
  const auto good = parseBasicAuthorization("Basic cHJvbWV0aGV1czpzM2NyZXQ6d2l0aCBjb2xvbg==");
  REQUIRE(good);
  CHECK(good->first == "prometheus");
  CHECK(good->second == "s3cret:with colon");  // split at the first ':' only
  CHECK(parseBasicAuthorization("bAsIc   YTpi  ") == std::pair<std::string, std::string>{"a", "b"});
  CHECK(parseBasicAuthorization("Basic Og==") == std::pair<std::string, std::string>{"", ""});
  CHECK_FALSE(parseBasicAuthorization("Basic YWJj"));   // "abc": no ':'
  CHECK_FALSE(parseBasicAuthorization("Basic YT!i"));   // not base64
  CHECK_FALSE(parseBasicAuthorization("Basic Y"));      // truncated
  CHECK_FALSE(parseBasicAuthorization("Bearer YTpi"));  // another scheme
  CHECK_FALSE(parseBasicAuthorization("Basic"));
  CHECK_FALSE(parseBasicAuthorization(""));
}

TEST_CASE("Basic auth: bcrypt hashes are checked, made and never cut short", "[auth]") {
  using service::verifyBcrypt;
  CHECK(verifyBcrypt("s3cret:with colon", kHash));
  CHECK_FALSE(verifyBcrypt("s3cret:with colon ", kHash));
  CHECK_FALSE(verifyBcrypt("", kHash));
  // $2y$ (htpasswd) is the same algorithm as $2b$.
  std::string y = kHash;
  y[2] = 'y';
  CHECK(verifyBcrypt("s3cret:with colon", y));
  // A NUL would end the C string: "s3cret:with colon\0anything" must not pass for the password.
  CHECK_FALSE(verifyBcrypt(std::string("s3cret:with colon\0x", 19), kHash));
  CHECK_FALSE(verifyBcrypt("s3cret:with colon", "not a hash"));

  const std::string made = service::hashPassword("correct horse", 4);
  CHECK(made.rfind("$2b$04$", 0) == 0);
  CHECK(made.size() == 60);
  CHECK(verifyBcrypt("correct horse", made));
  CHECK_FALSE(verifyBcrypt("correct horsE", made));
  CHECK(service::hashPassword("correct horse", 4) != made);  // a new salt every time
}

TEST_CASE("Basic auth: users, unknown users and no users", "[auth]") {
  const service::BasicAuth open({});
  CHECK_FALSE(open.enabled());
  CHECK(open.allows(nullptr));
  const service::BasicAuth auth({{"prometheus", kHash}});
  CHECK(auth.enabled());
  CHECK(auth.allows("Basic cHJvbWV0aGV1czpzM2NyZXQ6d2l0aCBjb2xvbg=="));
  CHECK_FALSE(auth.allows(nullptr));
  CHECK_FALSE(auth.allows("Basic b3RoZXI6czNjcmV0OndpdGggY29sb24="));  // other:<the password>
}
