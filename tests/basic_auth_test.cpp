// Basic authentication: the Authorization header, bcrypt checks, and hashes made for
// `reachmon hash-password`.
#include "basic_auth.h"

#include <catch2/catch.hpp>
#include <chrono>

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
  CHECK_FALSE(parseBasicAuthorization("Basic YWJj"));      // "abc": no ':'
  CHECK_FALSE(parseBasicAuthorization("Basic YT!i"));      // not base64
  CHECK_FALSE(parseBasicAuthorization("Basic Y"));         // truncated
  CHECK_FALSE(parseBasicAuthorization("Basic YQ==YTpi"));  // padding inside
  CHECK_FALSE(parseBasicAuthorization("Bearer YTpi"));     // another scheme
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
  using Verdict = service::BasicAuth::Verdict;
  const service::BasicAuth open({});
  CHECK_FALSE(open.enabled());
  CHECK(open.check(nullptr) == Verdict::kAllowed);
  const service::BasicAuth auth({{"prometheus", kHash}});
  CHECK(auth.enabled());
  CHECK(auth.check("Basic cHJvbWV0aGV1czpzM2NyZXQ6d2l0aCBjb2xvbg==") == Verdict::kAllowed);
  CHECK(auth.check(nullptr) == Verdict::kDenied);
  // other:<the password>
  CHECK(auth.check("Basic b3RoZXI6czNjcmV0OndpdGggY29sb24=") == Verdict::kDenied);
}

TEST_CASE("Basic auth: a password that matched once is not hashed again", "[auth]") {
  using Verdict = service::BasicAuth::Verdict;
  // Cost 14: about a second per bcrypt here, far more on a loaded machine.
  const std::string slow = service::hashPassword("correct horse", 14);
  const service::BasicAuth auth({{"prometheus", slow}});
  const char* good = "Basic cHJvbWV0aGV1czpjb3JyZWN0IGhvcnNl";  // prometheus:correct horse
  const auto timed = [&](const char* header) {
    const auto start = std::chrono::steady_clock::now();
    const Verdict v = auth.check(header);
    return std::pair{v, std::chrono::steady_clock::now() - start};
  };
  const auto [first, first_took] = timed(good);
  REQUIRE(first == Verdict::kAllowed);
  const auto [again, again_took] = timed(good);
  CHECK(again == Verdict::kAllowed);
  // Compared with the measured first check, not with a fixed time: the second skips bcrypt.
  CHECK(again_took * 20 < first_took);
  // A wrong password is never remembered as right, and pays for its bcrypt again.
  const char* wrong = "Basic cHJvbWV0aGV1czpjb3JyZWN0IGhvcnNF";  // prometheus:correct horsE
  CHECK(auth.check(wrong) == Verdict::kDenied);
  const auto [denied, denied_took] = timed(wrong);
  CHECK(denied == Verdict::kDenied);
  CHECK(denied_took * 4 > first_took);
}

TEST_CASE("Basic auth: an unknown user costs as much as the costliest user", "[auth]") {
  using Verdict = service::BasicAuth::Verdict;
  const service::BasicAuth auth(
      {{"cheap", service::hashPassword("a", 4)}, {"dear", service::hashPassword("b", 13)}});
  const auto took = [&](const char* header) {
    const auto start = std::chrono::steady_clock::now();
    CHECK(auth.check(header) == Verdict::kDenied);
    return std::chrono::steady_clock::now() - start;
  };
  const auto dear = took("Basic ZGVhcjp4");         // dear:x
  const auto unknown = took("Basic bm9ib2R5Ong=");  // nobody:x
  const auto cheap = took("Basic Y2hlYXA6eA==");    // cheap:x
  CHECK(unknown * 4 > dear);
  CHECK(unknown > cheap * 20);
}

TEST_CASE("Basic auth: hash-password refuses what bcrypt would cut short", "[auth]") {
  CHECK_THROWS_WITH(service::hashPassword(std::string(73, 'a'), 4),
                    Catch::Contains("bcrypt reads only the first 72"));
  CHECK_NOTHROW(service::hashPassword(std::string(72, 'a'), 4));
}
