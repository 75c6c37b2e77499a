#include "tls_context.h"

#include <civetweb.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <memory>

namespace reachmon::service {
namespace {

// The reason of OpenSSL's most recent error (and the queue emptied), e.g. "bad decrypt".
std::string openSslError() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf{};
    ERR_error_string_n(e, buf.data(), buf.size());
    out = buf.data();  // the last one is the closest to the cause
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

// OpenSSL's passphrase callback: notes the request, gives no passphrase.
int refusePassphrase(char*, int, int, void* asked) {
  if (asked) *static_cast<bool*>(asked) = true;
  return 0;
}

}  // namespace

bool tlsAvailable() {
  constexpr unsigned kCivetTls = 2;
  return mg_check_feature(kCivetTls) != 0;
}

std::string configureTls(void* ssl_ctx, const config::TlsServerConfig& tls) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  ERR_clear_error();
  const std::string cert = tls.cert_file.string();
  const std::string key = tls.key_file.string();
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return "cannot load the certificate " + cert + ": " + openSslError();
  // An encrypted key would make OpenSSL prompt on the terminal (or fail obscurely in a service):
  // refuse the passphrase request and say why.
  bool asked_for_passphrase = false;
  SSL_CTX_set_default_passwd_cb(ctx, &refusePassphrase);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, &asked_for_passphrase);
  const int key_loaded = SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (key_loaded != 1) {
    if (asked_for_passphrase) {
      ERR_clear_error();
      return "the private key " + key +
             " is encrypted: reachmon needs it unencrypted (openssl pkey -in ENCRYPTED -out "
             "PLAIN), readable by the service only";
    }
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
      return "the private key " + key + " does not match the certificate " + cert + " (" +
             openSslError() + ")";
    return "cannot load the private key " + key + ": " + openSslError();
  }
  if (SSL_CTX_check_private_key(ctx) != 1)
    return "the private key " + key + " does not match the certificate " + cert + ": " +
           openSslError();
  const int min = tls.min_version == config::TlsVersion::kTls13 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (SSL_CTX_set_min_proto_version(ctx, min) != 1)
    return "cannot set the minimum TLS version: " + openSslError();
  // Sessions resumed with a client certificate need an ID context; any constant will do.
  static constexpr unsigned char kSessionContext[] = "reachmon";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  if (tls.client_auth == config::ClientAuth::kNone) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return "";
  }
  const std::string ca = tls.client_ca_file.string();
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
    return "cannot load the client CAs " + ca + ": " + openSslError();
  // The CAs' names go to the client in the handshake, so it knows which certificate to send.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str()))
    SSL_CTX_set_client_CA_list(ctx, names);
  const int mode = tls.client_auth == config::ClientAuth::kRequireAndVerify
                       ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
                       : SSL_VERIFY_PEER;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return "";
}

std::vector<std::string> certificateWarnings(const config::TlsServerConfig& tls) {
  std::vector<std::string> out;
  const std::string cert = tls.cert_file.string();
  const std::unique_ptr<BIO, decltype(&BIO_free)> file(BIO_new_file(cert.c_str(), "r"), &BIO_free);
  if (!file) return out;  // configureTls says why it cannot be read
  const std::unique_ptr<X509, decltype(&X509_free)> x509(
      PEM_read_bio_X509(file.get(), nullptr, nullptr, nullptr), &X509_free);
  ERR_clear_error();
  if (!x509) return out;
  if (X509_cmp_current_time(X509_get0_notAfter(x509.get())) < 0)
    out.push_back("the certificate " + cert + " has expired: clients will refuse it");
  if (X509_cmp_current_time(X509_get0_notBefore(x509.get())) > 0)
    out.push_back("the certificate " + cert + " is not valid yet: clients will refuse it");
  if (X509_check_ca(x509.get()) != 0)
    out.push_back("the certificate " + cert +
                  " is a CA certificate: use a server certificate that the CA signed");
  return out;
}

std::string checkTls(const config::TlsServerConfig& tls) {
  if (!tlsAvailable()) return "this build's HTTP server (civetweb) has no TLS support";
  const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_server_method()),
                                                              &SSL_CTX_free);
  if (!ctx) return "cannot create a TLS context: " + openSslError();
  return configureTls(ctx.get(), tls);
}

}  // namespace reachmon::service
