// The process_* values on Windows against what this test process does: handles it opens and
// closes, memory it commits, the fixed handle limit. Wine 8 counts neither handles nor private
// bytes (it reports 0 for both): there those two values must be left out, which is what these
// tests check under Wine.
#include <windows.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <vector>

#include "open_count_checks.h"
#include "process_metrics.h"

using namespace reachmon;

namespace {

bool underWine() {
  const HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
  return ntdll && GetProcAddress(ntdll, "wine_get_version") != nullptr;
}

struct HandleCloser {
  void operator()(HANDLE h) const { CloseHandle(h); }
};
using Handle = std::unique_ptr<void, HandleCloser>;

struct VirtualFreer {
  void operator()(void* p) const { VirtualFree(p, 0, MEM_RELEASE); }
};

}  // namespace

TEST_CASE("ProcessStats on Windows: handles the process opens count as open descriptors",
          "[process]") {
  const auto before = service::readProcessStats();
  if (underWine()) {
    CHECK_FALSE(before.open_fds);  // Wine's GetProcessHandleCount says 0: left out
    return;
  }
  const auto file = std::filesystem::temp_directory_path() / "reachmon-process-stats-test";
  constexpr int kOpened = 25;
  std::vector<Handle> handles;
  for (int i = 0; i < kOpened; ++i) {
    handles.emplace_back(CreateFileW(file.wstring().c_str(), GENERIC_READ | GENERIC_WRITE,
                                     FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
                                     nullptr, OPEN_ALWAYS, FILE_FLAG_DELETE_ON_CLOSE, nullptr));
    REQUIRE(handles.back().get() != INVALID_HANDLE_VALUE);
  }
  const auto during = service::readProcessStats();
  handles.clear();
  const auto after = service::readProcessStats();
  test::checkOpenedThenClosed(before, during, after, kOpened);
}

TEST_CASE("ProcessStats on Windows: committed memory counts as private bytes", "[process]") {
  const auto before = service::readProcessStats();
  REQUIRE(before.max_fds);
  CHECK(*before.max_fds == 16777216);  // 2^24 handles per process, as client_golang exports
  if (underWine()) {
    CHECK_FALSE(before.virtual_bytes);  // Wine's PrivateUsage is 0: left out
    return;
  }
  REQUIRE(before.virtual_bytes);
  // Committed pages count at once, before they are touched.
  constexpr std::size_t kCommitted = std::size_t{64} << 20;
  const std::unique_ptr<void, VirtualFreer> block(
      VirtualAlloc(nullptr, kCommitted, MEM_COMMIT | MEM_RESERVE, PAGE_READWRITE));
  REQUIRE(block);
  const auto with_block = service::readProcessStats();
  REQUIRE(with_block.virtual_bytes);
  CHECK(*with_block.virtual_bytes >= *before.virtual_bytes + 0.9 * kCommitted);
}
