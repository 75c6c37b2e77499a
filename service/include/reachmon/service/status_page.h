// The human-readable pages: "/" (every path's latency and loss graph, the uplinks of one target
// side by side, then the sources and the counters) and "/path?source=S&target=T" (one path,
// large, over 3 hours and over 10 minutes). Server-rendered HTML with inline SVG: no script, no
// external asset. Everything that comes from the config is escaped. Pure functions of a snapshot:
// any thread.
#pragma once

#include <cstddef>
#include <ctime>
#include <string>
#include <string_view>

#include "reachmon/core/clock.h"
#include "reachmon/core/snapshot.h"

namespace reachmon::service {

// "Now" for a page, read once per request.
struct PageTime {
  core::TimePoint now{0};      // the probe thread's clock (Monitor::now())
  double unix_seconds = 0;     // the wall clock at the same moment
  int utc_offset_seconds = 0;  // the host's offset from UTC: the axes show local time
  // Reads the wall clock and the host's time zone now; `probe_now` is Monitor::now().
  static PageTime current(core::TimePoint probe_now);
  // Seconds east of UTC, from the same instant as local and as UTC calendar time.
  static int utcOffset(const std::tm& local, const std::tm& utc);
};

// The query variables the pages read, decoded; a variable not given is empty.
struct PageQuery {
  std::string source;  // "/": only this source's paths; "/path": the path's source
  std::string target;  // likewise
  std::string window;  // "/": "3h" (the default) or "10m"
  std::string page;    // "/": 1 (the default) to the number of pages
  // From a raw query string ("source=isp-a&target=gw"), URL-decoded; for a variable given more
  // than once the first counts.
  static PageQuery parse(std::string_view query_string);
};

struct PageReply {
  int status = 200;  // 400 for a query that makes no sense, 404 for a path or page that is not
  std::string html;  // always a whole page, saying what is wrong when status is not 200
};

struct StatusPageOptions {
  // Above this many paths, "/" is split into pages (a target's paths stay on one page).
  std::size_t paths_per_page = 100;
};

PageReply renderStatusPage(const core::Snapshot& snapshot, const std::string& version,
                           const PageQuery& query, const PageTime& time,
                           const StatusPageOptions& options = {});
PageReply renderPathPage(const core::Snapshot& snapshot, const std::string& version,
                         const PageQuery& query, const PageTime& time);

std::string htmlEscape(std::string_view s);

}  // namespace reachmon::service
