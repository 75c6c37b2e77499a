// Parsing and strict validation of the JSON config file.
#pragma once

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

// Validates `text` completely; never throws on bad input.
LoadResult parseConfig(std::string_view text);
// Reads and validates a file; an unreadable file is reported as an error, not thrown.
LoadResult loadConfigFile(const std::filesystem::path& file);

}  // namespace reachmon::config
