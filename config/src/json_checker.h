// The building blocks of a strict validator over an nlohmann document: every problem is collected
// as a ConfigError with its JSON path instead of thrown. The config file's Validator (loader.cpp)
// and the web config's (web_config.cpp) derive from it. Internal to reachmon_config.
#pragma once

#include <exception>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "json_scan.h"
#include "reachmon/config/loader.h"

namespace reachmon::config {

// "integer", "number", "string", ...: how a value's type is named in messages.
std::string typeName(const nlohmann::json& v);

// Scans, parses and validates `text` with `validate(const json&) -> Result`, where Result has
// `errors` and an optional `config`. Never throws: a syntax error, a number out of range or
// whatever the parser throws becomes an error; repeated keys are errors too.
template <typename Result, typename Validate>
Result validateJsonText(std::string_view text, const Validate& validate) {
  Result result;
  // The scan reads the raw text first: json::parse throws on what the scan reports, and for some
  // of it (a number such as 1e999) not even a parse_error.
  JsonScan scan = scanJson(text);
  if (scan.unreadable) {
    result.errors.push_back(std::move(*scan.unreadable));
    return result;
  }
  try {
    const nlohmann::json root = nlohmann::json::parse(text.begin(), text.end(), nullptr,
                                                      /*allow_exceptions=*/true, kIgnoreComments);
    result = validate(root);
  } catch (const std::exception& e) {
    // Not expected once the scan passed; a reload must still never end the process.
    result.config.reset();
    result.errors.push_back({"$", "cannot be read: " + exceptionText(e)});
  }
  if (!scan.duplicate_keys.empty()) {
    result.errors.insert(result.errors.begin(), scan.duplicate_keys.begin(),
                         scan.duplicate_keys.end());
    result.config.reset();
  }
  return result;
}

class JsonChecker {
 protected:
  // Runs one part of the validation; whatever it throws (a bug, never the input's fault: every
  // type is checked first) becomes an error at `path` instead of escaping into a reload.
  template <typename F>
  void guarded(const std::string& path, const F& read) {
    try {
      read();
    } catch (const std::exception& e) {
      error(path, "cannot be validated: " + exceptionText(e));
    }
  }

  void error(std::string where, std::string message) {
    errors_.push_back({std::move(where), std::move(message)});
  }
  std::vector<ConfigError> takeErrors() { return std::move(errors_); }

  static const nlohmann::json* find(const nlohmann::json& obj, const char* key);
  // Every key of `obj` must be one of `keys`: "unknown key (allowed here: ...)".
  void checkKeys(const nlohmann::json& obj, const std::string& path,
                 std::initializer_list<const char*> keys);
  bool expectType(const nlohmann::json& v, const std::string& path, bool ok, const char* expected);
  bool readString(const nlohmann::json& v, const std::string& path, std::string& out);
  void readBool(const nlohmann::json& v, const std::string& path, bool& out);
  // Refuses control characters (a NUL would cut the text short in C APIs; ESC & co. would reach
  // terminals and logs raw): "invalid <what> "<s>": control character \u001b is not allowed".
  bool noControls(const std::string& path, const char* what, const std::string& s,
                  const char* advice = "");

 private:
  std::vector<ConfigError> errors_;
};

}  // namespace reachmon::config
