// Logging of the Windows service: the Event Log (source "reachmon", registered by
// `reachmon install`), a rotating file under %ProgramData%\reachmon\logs, and stderr.
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/sinks/win_eventlog_sink.h>
#include <spdlog/spdlog.h>

#include "../host.h"
#include "windows.h"

namespace reachmon::service {

void setupRunLogging() {
  const std::wstring logs = win::dataDirectory() + L"\\logs";
  CreateDirectoryW(logs.c_str(), nullptr);
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_sink_mt>());
  try {
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(
        win::toUtf8(logs + L"\\reachmon.log"), 10 * 1024 * 1024, 5));
  } catch (const spdlog::spdlog_ex& e) {
    spdlog::warn("no log file: {}", e.what());
  }
  auto eventlog = std::make_shared<spdlog::sinks::win_eventlog_sink_mt>(win::kEventSource);
  eventlog->set_level(spdlog::level::info);  // the Event Log gets no debug chatter
  sinks.push_back(eventlog);
  auto logger = std::make_shared<spdlog::logger>("reachmon", sinks.begin(), sinks.end());
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %l %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace reachmon::service
