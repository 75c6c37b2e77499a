// The first pass over a config file's text, before the document is built: whether it is JSON
// reachmon can read at all (syntax, numbers beyond a double's range) and which keys repeat in one
// object (building the document would silently keep the last). Internal to reachmon_config.
#pragma once

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reachmon/config/loader.h"

namespace reachmon::config {

// Comments (`//` to the end of the line, `/* ... */`) are read as white space (nlohmann's
// ignore_comments), by the scan and by the parse that builds the document (json_checker.h) alike.
inline constexpr bool kIgnoreComments = true;

struct JsonScan {
  // Set when the text cannot be read as a document: the one error to report. Syntax errors are
  // placed by line and column; a number out of range by its JSON path, line and column.
  std::optional<ConfigError> unreadable;
  std::vector<ConfigError> duplicate_keys;  // with their JSON paths, in document order
};

// Never throws: whatever the parser or the allocator throws becomes `unreadable`.
JsonScan scanJson(std::string_view text);

// An exception's message without nlohmann's "[json.exception.type_error.302] " prefix, control
// characters escaped.
std::string exceptionText(const std::exception& e);

}  // namespace reachmon::config
