// Writing a config file the way an editor saves it, for the App tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <string>

namespace reachmon::test {

// Writes `text` to a temporary file next to `file`, then renames it over `file` (atomic save).
inline void writeConfigFile(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path tmp = file.string() + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, file);
}

}  // namespace reachmon::test
