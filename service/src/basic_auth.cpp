#include "basic_auth.h"

#include <crypt.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace reachmon::service {
namespace {

// Standard base64 (RFC 4648), the padding optional as before: OpenSSL's EVP_DecodeBlock wants
// whole 4-character groups and decodes padding as zero bytes, which are cut off again.
std::optional<std::string> base64Decode(std::string_view in) {
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1 || in.find('=') != std::string_view::npos) return std::nullopt;
  const std::size_t padding = (4 - in.size() % 4) % 4;
  std::string padded(in);
  padded.append(padding, '=');
  std::string out(padded.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(padded.data()),
                                static_cast<int>(padded.size()));
  if (n < 0) return std::nullopt;
  out.resize(static_cast<std::size_t>(n) - padding);
  return out;
}

// The SHA-256 of `s`, raw bytes.
std::string sha256(const std::string& s) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int size = 0;
  if (EVP_Digest(s.data(), s.size(), md.data(), &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 failed");
  return {reinterpret_cast<const char*>(md.data()), size};
}

bool equalConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

std::optional<std::pair<std::string, std::string>> parseBasicAuthorization(
    std::string_view header) {
  constexpr std::string_view kScheme = "basic ";
  if (header.size() < kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != kScheme[i]) return std::nullopt;
  std::string_view encoded = header.substr(kScheme.size());
  while (!encoded.empty() && encoded.front() == ' ') encoded.remove_prefix(1);
  while (!encoded.empty() && encoded.back() == ' ') encoded.remove_suffix(1);
  auto decoded = base64Decode(encoded);
  if (!decoded) return std::nullopt;
  const auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::pair{decoded->substr(0, colon), decoded->substr(colon + 1)};
}

bool verifyBcrypt(const std::string& password, const std::string& hash) {
  // crypt_rn stops at a NUL: "secret\0anything" must not pass for "secret".
  if (password.find('\0') != std::string::npos) return false;
  auto data = std::make_unique<crypt_data>();  // 32 KiB: not on a worker's stack
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  return out != nullptr && out[0] != '*' && equalConstantTime(out, hash);
}

std::string hashPassword(const std::string& password, int cost) {
  if (password.find('\0') != std::string::npos)
    throw std::runtime_error("the password contains a NUL character");
  if (password.size() > kBcryptMaxPassword)
    throw std::runtime_error("the password is " + std::to_string(password.size()) +
                             " bytes long; bcrypt reads only the first " +
                             std::to_string(kBcryptMaxPassword) + ": use a shorter one");
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  // nullptr, 0: crypt_gensalt_rn takes its random salt from the OS.
  if (!crypt_gensalt_rn("$2b$", static_cast<unsigned long>(cost), nullptr, 0, setting.data(),
                        static_cast<int>(setting.size())))
    throw std::runtime_error(std::string("cannot make a bcrypt salt: ") + std::strerror(errno));
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), setting.data(), data.get(), sizeof(crypt_data));
  if (out == nullptr || out[0] == '*')
    throw std::runtime_error(std::string("cannot compute the bcrypt hash: ") +
                             std::strerror(errno));
  return out;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {
  // "$2b$10$...": the cost is the two digits after the third '$' (the web config checked it).
  auto cost = [](const std::string& hash) { return hash.substr(4, 2); };
  for (const auto& [user, hash] : users_)
    if (costliest_hash_.empty() || cost(hash) > cost(costliest_hash_)) costliest_hash_ = hash;
}

BasicAuth::Verdict BasicAuth::check(const char* authorization) const {
  if (users_.empty()) return Verdict::kAllowed;
  const auto credentials = authorization ? parseBasicAuthorization(authorization) : std::nullopt;
  if (!credentials) return Verdict::kDenied;
  const auto it = users_.find(credentials->first);
  const std::string digest =
      it == users_.end()
          ? std::string()
          : sha256(credentials->first + '\0' + credentials->second + '\0' + it->second);
  if (!digest.empty()) {
    std::lock_guard lock(remembered_mutex_);
    if (remembered_.count(digest)) return Verdict::kAllowed;
  }
  if (!checks_.try_acquire_for(kCheckWait)) return Verdict::kBusy;
  struct Release {
    std::counting_semaphore<kParallelChecks>& s;
    ~Release() { s.release(); }
  } release{checks_};
  const bool match =
      verifyBcrypt(credentials->second, it == users_.end() ? costliest_hash_ : it->second);
  if (!match || it == users_.end()) return Verdict::kDenied;
  std::lock_guard lock(remembered_mutex_);
  if (remembered_.size() >= kRemembered) remembered_.clear();
  remembered_.insert(digest);
  return Verdict::kAllowed;
}

}  // namespace reachmon::service
