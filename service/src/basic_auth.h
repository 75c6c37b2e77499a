// HTTP basic authentication against bcrypt hashes (the web config's basic_auth_users), and the
// hashing behind `reachmon hash-password`. bcrypt is libxcrypt's crypt_rn on both OSes.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>
#include <string>
#include <string_view>
#include <utility>

namespace reachmon::service {

// The user and password of an "Authorization: Basic <base64>" header value; nullopt when the
// header is not one (another scheme, bad base64, no ':').
std::optional<std::pair<std::string, std::string>> parseBasicAuthorization(std::string_view header);

// Whether `password` matches the bcrypt `hash` ($2a$/$2b$/$2y$); compares in constant time. Like
// every bcrypt, only the first 72 bytes of the password count; a NUL in it never matches.
bool verifyBcrypt(const std::string& password, const std::string& hash);

// bcrypt reads at most this many bytes of a password.
constexpr std::size_t kBcryptMaxPassword = 72;

// A new bcrypt hash ($2b$) of `password` with a random salt; throws std::runtime_error when the
// password is longer than bcrypt reads (72 bytes), or the system has no randomness. `cost` is 4
// to 31 (each step doubles the work).
std::string hashPassword(const std::string& password, int cost);

class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);
  bool enabled() const { return !users_.empty(); }

  enum class Verdict { kAllowed, kDenied, kBusy };
  // Whether the Authorization header value (nullptr: none) names a user whose password matches.
  // - Credentials that matched once are remembered (a SHA-256 of user, password and hash, never
  //   the password), so a scraper pays for bcrypt once, not on every scrape.
  // - At most kParallelChecks hashes are computed at once: a flood of wrong passwords takes that
  //   many cores, never all of them from the probe thread. A request that cannot start its check
  //   within kCheckWait gets kBusy instead of holding an HTTP worker longer.
  // - An unknown user is checked against the costliest hash, so timing does not tell which
  //   users exist.
  Verdict check(const char* authorization) const;

  static constexpr int kParallelChecks = 2;
  static constexpr std::chrono::seconds kCheckWait{2};
  static constexpr std::size_t kRemembered = 256;  // then forgotten all at once

 private:
  std::map<std::string, std::string> users_;
  std::string costliest_hash_;
  mutable std::counting_semaphore<kParallelChecks> checks_{kParallelChecks};
  mutable std::mutex remembered_mutex_;
  mutable std::set<std::string> remembered_;  // digests of credentials that matched
};

}  // namespace reachmon::service
