#include "msi_settings.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <utility>

#include "reachmon/config/loader.h"
#include "reachmon/core/address.h"

namespace reachmon::installer {
namespace {

// `value` in double quotes, control characters as \xNN: a message never carries them raw.
std::string shown(std::string_view value) {
  std::string out = "\"";
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// LISTEN split at its last ':' into the address (brackets removed) and the port.
std::pair<std::string, std::string> splitListen(std::string_view listen) {
  const auto colon = listen.rfind(':');
  std::string host(listen.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  return {host, std::string(listen.substr(colon + 1))};
}

bool isSeparator(char c) { return c == '\\' || c == '/'; }

// Why `path` is not an absolute Windows path of a file ("" if it is): a drive ("C:\...") or a
// share ("\\server\share\..."), no character Windows refuses in names (the service's command
// line quotes it, and '"' or a trailing '\' would end the quotes early).
std::string configPathError(const std::string& path) {
  const bool drive = path.size() > 3 &&
                     ((path[0] >= 'A' && path[0] <= 'Z') || (path[0] >= 'a' && path[0] <= 'z')) &&
                     path[1] == ':' && isSeparator(path[2]);
  const bool share =
      path.size() > 4 && isSeparator(path[0]) && isSeparator(path[1]) && !isSeparator(path[2]);
  if (!drive && !share)
    return "not an absolute path: give the drive or share, e.g. "
           "CONFIG=\"C:\\ProgramData\\reachmon\\reachmon.json\"";
  for (std::size_t i = 0; i < path.size(); ++i) {
    const auto c = static_cast<unsigned char>(path[i]);
    if (c < 0x20 || c == '"' || c == '<' || c == '>' || c == '|' || c == '?' || c == '*' ||
        (c == ':' && i != 1))
      return "a Windows path cannot contain control characters or any of \" < > | ? * or a "
             "':' other than the drive's";
  }
  if (isSeparator(path.back())) return "names a folder: give the path of the config file";
  return "";
}

}  // namespace

std::vector<std::string> propertyErrors(const MsiProperties& p) {
  std::vector<std::string> errors;
  if (!p.listen.empty()) {
    if (std::string why = config::listenAddressError(p.listen); !why.empty()) {
      errors.push_back("LISTEN: " + why);
    } else if (splitListen(p.listen).second == "0") {
      errors.push_back("LISTEN: " + shown(p.listen) +
                       ": port 0 would be a different random port at every start: give the "
                       "port Prometheus scrapes, 1 to 65535");
    }
  }
  if (!p.config.empty()) {
    if (const std::string why = configPathError(p.config); !why.empty())
      errors.push_back("CONFIG: " + shown(p.config) + ": " + why);
  }
  if (!p.firewall.empty() && p.firewall != "0" && p.firewall != "1") {
    errors.push_back("FIREWALL: " + shown(p.firewall) +
                     ": use FIREWALL=1 to add an inbound firewall rule for LISTEN's port, or "
                     "FIREWALL=0 (the default) for none");
  } else if (p.firewall == "1" && p.listen.empty()) {
    errors.push_back(
        "FIREWALL: FIREWALL=1 needs LISTEN=HOST:PORT, the address whose port the rule opens "
        "(e.g. LISTEN=0.0.0.0:9643)");
  }
  return errors;
}

bool isLoopbackListen(std::string_view listen) {
  const auto address = core::parseIpAddress(splitListen(listen).first);
  if (!address) return false;
  if (address->isLoopback()) return true;
  // ::ffff:127.0.0.0/104, IPv4-mapped loopback.
  const auto& b = address->bytes;
  if (address->family != core::Family::kIpv6 || b[10] != 0xff || b[11] != 0xff || b[12] != 127)
    return false;
  for (int i = 0; i < 10; ++i)
    if (b[i] != 0) return false;
  return true;
}

ServiceSettings serviceSettings(const MsiProperties& p) {
  ServiceSettings s;
  s.arguments = "run";
  if (!p.config.empty()) s.arguments += " --config \"" + p.config + "\"";
  if (!p.listen.empty()) s.arguments += " --listen " + p.listen;
  if (p.firewall != "1") return s;
  if (isLoopbackListen(p.listen)) {
    s.firewall_note = "no firewall rule: LISTEN " + p.listen +
                      " is a loopback address, which the firewall never blocks";
    return s;
  }
  const auto [host, port] = splitListen(p.listen);
  const auto address = core::parseIpAddress(host);
  const auto& b = address->bytes;
  const bool wildcard =
      std::all_of(b.begin(), b.begin() + (address->family == core::Family::kIpv4 ? 4 : 16),
                  [](std::uint8_t byte) { return byte == 0; });
  // The firewall takes an address without the zone of a link-local one ("fe80::1%2").
  s.firewall_rule = FirewallRule{port, wildcard ? "*" : host.substr(0, host.find('%'))};
  return s;
}

}  // namespace reachmon::installer
