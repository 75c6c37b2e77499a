// --log-format: what a log shipper reads from each line.
#include "log_format.h"

#include <spdlog/details/log_msg.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

using namespace reachmon;

namespace {

std::string format(service::LogFormat f, spdlog::level::level_enum level, std::string_view text,
                   bool line_end = true) {
  spdlog::details::log_msg msg("reachmon", level, spdlog::string_view_t(text.data(), text.size()));
  // 2026-12-07T17:46:03.123Z
  msg.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796665563123));
  spdlog::memory_buf_t out;
  service::makeLogFormatter(f, line_end)->format(msg, out);
  return {out.data(), out.size()};
}

}  // namespace

TEST_CASE("Log format json: one object per line with ts level and msg escaped", "[log]") {
  const std::string line =
      format(service::LogFormat::kJson, spdlog::level::warn, "path \"a\"\nb\\c \x01 \xff end");
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // the message's newline is escaped
  const auto obj = nlohmann::json::parse(line);
  CHECK(obj.size() == 3);
  CHECK(obj["ts"] == "2026-12-07T17:46:03.123Z");
  CHECK(obj["level"] == "warn");
  CHECK(obj["msg"] == "path \"a\"\nb\\c \x01 \xEF\xBF\xBD end");  // invalid UTF-8: U+FFFD
  CHECK(nlohmann::json::parse(
            format(service::LogFormat::kJson, spdlog::level::err, "x"))["level"] == "error");
}

TEST_CASE("Log format json without a line end for the journal", "[log]") {
  const std::string entry = format(service::LogFormat::kJson, spdlog::level::info, "x", false);
  CHECK(entry.back() == '}');
}

TEST_CASE("Log format text and unknown format names", "[log]") {
  const std::string line = format(service::LogFormat::kText, spdlog::level::info, "hello");
  CHECK(line.find(" info hello") != std::string::npos);
  CHECK(service::parseLogFormat("json") == service::LogFormat::kJson);
  CHECK(service::parseLogFormat("text") == service::LogFormat::kText);
  CHECK_FALSE(service::parseLogFormat("JSON"));
}
