// TLS for the HTTP server: civetweb creates the OpenSSL context, this fills it from the web
// config (certificate chain, private key, client CAs and verification, minimum version).
#pragma once

#include <string>
#include <vector>

#include "reachmon/config/config.h"

namespace reachmon::service {

// Whether this build's HTTP server (civetweb) can serve TLS.
bool tlsAvailable();

// Configures `ssl_ctx` (an SSL_CTX*); returns "" when done, else what is wrong, with OpenSSL's
// reason (e.g. "cannot load the private key /etc/reachmon/key.pem: ... bad decrypt").
std::string configureTls(void* ssl_ctx, const config::TlsServerConfig& tls);

// What is wrong with the server certificate although it loads: expired, not valid yet, a CA
// certificate. Logged at start-up and printed by check-config; clients would refuse it.
std::vector<std::string> certificateWarnings(const config::TlsServerConfig& tls);

// Loads the settings into a context of its own (`reachmon check-config`): "" when the server
// would start with them, else why not.
std::string checkTls(const config::TlsServerConfig& tls);

}  // namespace reachmon::service
