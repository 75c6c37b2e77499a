#include "basic_auth.h"

#include <crypt.h>
#include <openssl/evp.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace reachmon::service {
namespace {

// Hand-written: civetweb 1.15 exports no base64 decoder and the rest of the project has none.
std::optional<std::string> base64Decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  unsigned bits = 0;
  int nbits = 0;
  for (char c : in) {
    const int v = value(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<unsigned>(v);
    nbits += 6;
    if (nbits >= 8) {
      nbits -= 8;
      out.push_back(static_cast<char>((bits >> nbits) & 0xff));
    }
  }
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
