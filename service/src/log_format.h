// How `reachmon run` writes its log lines: `--log-format text` (the default: time, level,
// message) or `json` (one object per line, the keys of the Prometheus exporters' JSON logs: ts,
// level, msg), for log shippers.
#pragma once

#include <spdlog/formatter.h>

#include <memory>
#include <optional>
#include <string_view>

namespace reachmon::service {

enum class LogFormat { kText, kJson };

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parseLogFormat(std::string_view name);

// A formatter for `format`, for any sink. Text: "2026-12-07T17:46:03.123+0000 info message".
// JSON: {"ts":"2026-12-07T17:46:03.123Z","level":"info","msg":"message"} (UTC), every
// character of the message escaped as JSON requires; invalid UTF-8 becomes U+FFFD. Levels:
// trace, debug, info, warn, error, critical. `line_end`: a newline after each JSON object (not
// for the journal, whose entries are records already).
std::unique_ptr<spdlog::formatter> makeLogFormatter(LogFormat format, bool line_end = true);

}  // namespace reachmon::service
