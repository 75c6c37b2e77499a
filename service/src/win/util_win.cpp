#include "windows.h"

namespace reachmon::service::win {

std::wstring dataDirectory() {
  PWSTR base = nullptr;
  std::wstring dir = L"C:\\ProgramData";
  if (SUCCEEDED(SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &base))) dir = base;
  if (base) CoTaskMemFree(base);
  return dir + L"\\reachmon";
}

}  // namespace reachmon::service::win
