// HTTP basic authentication against bcrypt hashes (the web config's basic_auth_users), and the
// hashing behind `reachmon hash-password`. bcrypt is libxcrypt's crypt_rn on both OSes.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <semaphore>
#include <string>
#include <string_view>
#include <utility>

namespace reachmon::service {

// The user and password of an "Authorization: Basic <base64>" header value; nullopt when the
// header is not one (another scheme, bad base64, no ':').
std::optional<std::pair<std::string, std::string>> parseBasicAuthorization(std::string_view header);

// Whether `password` matches the bcrypt `hash` ($2a$/$2b$/$2y$); compares in constant time.
bool verifyBcrypt(const std::string& password, const std::string& hash);

// A new bcrypt hash ($2b$) of `password` with a random salt; throws std::runtime_error when the
// system has no randomness or no bcrypt. `cost` is 4 to 31 (each step doubles the work).
std::string hashPassword(const std::string& password, int cost);

class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}
  bool enabled() const { return !users_.empty(); }
  // Whether the Authorization header value (nullptr: none) names a user whose password matches.
  // An unknown user costs as much as a wrong password, so timing does not tell which users
  // exist. At most kParallelChecks hashes are computed at once: a flood of wrong passwords
  // takes that many cores, never all of them from the probe thread.
  bool allows(const char* authorization) const;

  static constexpr int kParallelChecks = 2;

 private:
  std::map<std::string, std::string> users_;
  mutable std::counting_semaphore<kParallelChecks> checks_{kParallelChecks};
};

}  // namespace reachmon::service
