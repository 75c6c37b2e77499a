// Parsing and strict validation of the JSON config file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reachmon/config/config.h"

namespace reachmon::config {

// One problem in a config file: `where` is a JSON path such as `$.targets[1].interval`
// (or `line 3, column 7` for syntax errors, or empty for the file as a whole), `message` says
// what is wrong.
struct ConfigError {
  std::string where;
  std::string message;
  std::string str() const { return where.empty() ? message : where + ": " + message; }
};

struct LoadResult {
  std::optional<Config> config;     // set only when errors is empty
  std::vector<ConfigError> errors;  // every problem found, in document order
  bool ok() const { return errors.empty(); }
};

// Validates `text` completely. Never throws: whatever the JSON parser or a conversion throws
// becomes an error in the result, so a reload cannot end the process. Messages never echo raw
// control characters from the input (they appear as \u00XX).
LoadResult parseConfig(std::string_view text);

// Why `listen` ("IPv4:port" or "[IPv6]:port") is not a valid listen address, or empty if it is:
// the check of the config's "listen", for `reachmon run --listen` too.
std::string listenAddressError(const std::string& listen);
// The most a config file may hold (100,000 targets take about 10 MB).
constexpr std::uintmax_t kMaxConfigBytes = std::uintmax_t{64} << 20;
// The most a web config file, or a certificate, key or CA file it names, may hold.
constexpr std::uintmax_t kMaxWebFileBytes = std::uintmax_t{4} << 20;

// The file's bytes, or nullopt with `*error` (if given) saying why not: it cannot be opened, it is
// not a regular file (a directory, FIFO or device, whose reading could block or never end), or
// it holds more than `max_bytes`.
std::optional<std::string> readConfigText(const std::filesystem::path& file,
                                          std::string* error = nullptr,
                                          std::uintmax_t max_bytes = kMaxConfigBytes);
// Reads and validates a file; an unreadable file is reported as an error, not thrown.
// `text`, if given, receives the bytes that were validated (empty when unreadable).
LoadResult loadConfigFile(const std::filesystem::path& file, std::string* text = nullptr);

// The web config file (`web.config_file`; docs/config.md, "Web config file"): TLS and basic
// authentication users. Same rules as the config file: strict, every error with its JSON path.
struct WebConfigResult {
  std::optional<WebConfig> config;  // set only when errors is empty
  std::vector<ConfigError> errors;
  bool ok() const { return errors.empty(); }
};
// Validates `text`; relative file names in it are made absolute against `base_dir`. Never throws
// and never touches the file system.
WebConfigResult parseWebConfig(std::string_view text, const std::filesystem::path& base_dir);
// Reads and validates a web config file (relative names against its directory), and checks that
// the files it names can be read. Called by loadConfigFile when the config names one.
WebConfigResult loadWebConfigFile(const std::filesystem::path& file);

// Settings of a valid config that the probe engine of `platform` ("linux", "windows") cannot
// honour, one warning each with its JSON path. The config stays valid: they are logged.
// Windows: `tos` (IcmpSendEcho2Ex ignores IP_OPTION_INFORMATION.Tos).
std::vector<ConfigError> platformWarnings(const Config& config, std::string_view platform);

}  // namespace reachmon::config
