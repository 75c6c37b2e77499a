// The config parser as check-config and reloads run it, and the web config file's parser on the
// same bytes: any text in, a result out. They must never throw, crash or read out of bounds, and
// their results must be consistent: a config exactly when there are no errors, every error with
// a message.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "reachmon/config/loader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const reachmon::config::LoadResult result = reachmon::config::parseConfig(text);
  FUZZ_CHECK(result.ok() == result.config.has_value());
  for (const auto& e : result.errors) FUZZ_CHECK(!e.message.empty() && !e.str().empty());
  if (result.config) {
    // What check-config and the service do next with a valid config.
    for (const char* platform : {"linux", "windows"}) {
      for (const auto& w : reachmon::config::platformWarnings(*result.config, platform))
        FUZZ_CHECK(!w.where.empty() && !w.message.empty());
    }
  }
  const auto web = reachmon::config::parseWebConfig(text, "/etc/reachmon");
  FUZZ_CHECK(web.ok() == web.config.has_value());
  for (const auto& e : web.errors) FUZZ_CHECK(!e.message.empty() && !e.str().empty());
  if (web.config && web.config->tls) FUZZ_CHECK(web.config->tls->cert_file.is_absolute());
  return 0;
}
