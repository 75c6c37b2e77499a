// The Event Log sink of `reachmon run`: every record becomes event MSG_REACHMON ("%1", the
// message table in messages.mc) of source "reachmon", its text handed over as UTF-16, so a
// localized interface name ("Ethernet-Verbindung 2") reads in Event Viewer as it was logged.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "windows.h"

namespace reachmon::service::win {

class EventLogSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Writes one event: ReportEventW (forSource), or a recorder in tests.
  using Report = std::function<void(WORD type, const std::wstring& text)>;

  explicit EventLogSink(Report report) : report_(std::move(report)) {}
  // Reports to the Application log as `source` (RegisterEventSourceW, then ReportEventW).
  static std::shared_ptr<EventLogSink> forSource(const wchar_t* source);

  // EVENTLOG_ERROR_TYPE for error and critical, WARNING for warn, INFORMATION otherwise.
  static WORD eventType(spdlog::level::level_enum level);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  Report report_;
};

}  // namespace reachmon::service::win
