// What the MSI's public properties LISTEN, CONFIG and FIREWALL make of the service
// (installer/windows/reachmon.wxs; msi_actions.cpp's PrepareInstall reads the properties and
// applies this). Portable, without Windows headers, so that tests/msi_settings_test.cpp runs on
// Linux and under Wine alike. Strings are UTF-8.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace reachmon::installer {

// The properties as msiexec got them (or as the installed version remembered them); "" = unset.
struct MsiProperties {
  std::string listen;    // LISTEN: HOST:PORT the service serves HTTP on (`run --listen`)
  std::string config;    // CONFIG: absolute path of the config file (`run --config`)
  std::string firewall;  // FIREWALL: "1" adds an inbound rule for LISTEN's port; "0" or "": none
};

// The inbound TCP allow rule FIREWALL=1 asks for.
struct FirewallRule {
  std::string local_port;     // "9643"
  std::string local_address;  // "*" when LISTEN is a wildcard (0.0.0.0, [::]), else the address
};

struct ServiceSettings {
  std::string arguments;  // what follows the quoted program path: run [--config "F"] [--listen L]
  std::optional<FirewallRule> firewall_rule;
  std::string firewall_note;  // FIREWALL=1 without a rule: why (LISTEN is loopback)
};

// Every invalid property, each message naming the property, its value and what is valid; empty
// when all are valid. LISTEN is checked as `reachmon run --listen` checks it ("IPv4:port" or
// "[IPv6]:port"), and its port must not be 0; CONFIG must be an absolute Windows path of a file;
// FIREWALL=1 needs LISTEN.
std::vector<std::string> propertyErrors(const MsiProperties& properties);

// The service's arguments and firewall rule for valid properties (propertyErrors() empty).
ServiceSettings serviceSettings(const MsiProperties& properties);

// Whether a valid LISTEN address is reachable from this host only: 127.0.0.0/8, [::1] and
// [::ffff:127.x.y.z].
bool isLoopbackListen(std::string_view listen);

}  // namespace reachmon::installer
