#include "json_checker.h"

#include <algorithm>

#include "value_rules.h"

namespace reachmon::config {

using nlohmann::json;

std::string typeName(const json& v) {
  if (v.is_number_integer()) return "integer";
  if (v.is_number_float()) return "number";
  return v.type_name();
}

const json* JsonChecker::find(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

void JsonChecker::checkKeys(const json& obj, const std::string& path,
                            std::initializer_list<const char*> keys) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const bool known =
        std::any_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; });
    if (!known) {
      std::string list;
      for (const char* k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
      error(memberPath(path, it.key()), "unknown key (allowed here: " + list + ")");
    }
  }
}

bool JsonChecker::expectType(const json& v, const std::string& path, bool ok,
                             const char* expected) {
  if (!ok) error(path, std::string("expected ") + expected + ", found " + typeName(v));
  return ok;
}

bool JsonChecker::readString(const json& v, const std::string& path, std::string& out) {
  if (!expectType(v, path, v.is_string(), "a string")) return false;
  out = v.get<std::string>();
  return true;
}

void JsonChecker::readBool(const json& v, const std::string& path, bool& out) {
  if (expectType(v, path, v.is_boolean(), "true or false")) out = v.get<bool>();
}

bool JsonChecker::noControls(const std::string& path, const char* what, const std::string& s,
                             const char* advice) {
  const std::string c = firstControl(s);
  if (c.empty()) return true;
  error(path, std::string("invalid ") + what + " " + quote(s) + ": control character " + c +
                  " is not allowed" + advice);
  return false;
}

}  // namespace reachmon::config
