// Rules for single config values (names, label values, host and interface names, listen ports,
// probe addresses) and the escaping of input quoted in error messages. Internal to
// reachmon_config; pure functions, safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "reachmon/core/address.h"

namespace reachmon::config {

// `s` with every control character (U+0000-U+001F, U+007F, and C1 U+0080-U+009F, UTF-8 encoded)
// written as \u00XX: input echoed in a message never reaches a terminal or log raw.
std::string escapeControls(std::string_view s);
// `s` as a JSON string literal: in quotes, with '"', '\' and control characters escaped.
std::string quote(std::string_view s);
// The path of member `key` of the object at `parent`: `$.a.key` for keys of letters, digits,
// '-' and '_', else `$.a["key"]` quoted and escaped.
std::string memberPath(const std::string& parent, std::string_view key);
// The first control character of `s`, escaped (e.g. "\u001b"), or "" when there is none.
std::string firstControl(std::string_view s);

// Source and target names: 1-64 of A-Z a-z 0-9 - _ .
bool isValidName(std::string_view s);
// Prometheus label names, minus the "__" prefix Prometheus keeps for itself.
bool isValidLabelName(std::string_view s);
// DNS names: dot-separated labels of letters, digits, '-' and '_', at most 253 characters.
bool isValidHostname(std::string_view s);

// A listen port: plain decimal 0 to 65535, no sign, space or leading zero ("0" itself is fine).
std::optional<int> parsePort(std::string_view s);

// Why `a` cannot be the address of a single host to probe from or to, e.g. "a multicast address
// (224.0.0.0/4)"; "" when it can. Covers unspecified (0.0.0.0/8, ::), multicast (224.0.0.0/4,
// ff00::/8), the limited broadcast address and the IPv4-mapped forms of the IPv4 ones.
std::string whyNotUnicast(const core::IpAddress& a);

}  // namespace reachmon::config
