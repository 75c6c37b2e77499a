#include <cstdlib>  // defines __GLIBC__ on glibc

#include "../process_memory.h"

#if defined(__GLIBC__)
#include <malloc.h>

namespace reachmon::service {

void returnLargeFreedBlocksToOs() {
  // glibc's initial threshold is 128 KiB; 1 MiB keeps mid-sized buffers in the arenas and any
  // body of more than a few hundred paths out of them. Setting the threshold also stops glibc
  // from raising it (and the trim threshold) later.
  constexpr int kMmapThresholdBytes = 1024 * 1024;
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  // One arena for every thread. A scrape's buffers below the threshold (zlib's deflate state,
  // the compressed body while it grows, the text pieces: about 1.5 MB at 10,000 paths) come
  // from the arena of the HTTP worker that renders, and each of up to 8 arenas per core kept
  // them after they were freed: RSS grew by 1.5 MB a scrape, as scrapes landed on new workers.
  // In one arena the next scrape reuses them. Allocation is rare on every thread (the probe
  // thread's steady state allocates nothing), so sharing its lock costs nothing measurable.
  mallopt(M_ARENA_MAX, 1);
}

void releaseFreedMemory() { malloc_trim(0); }

}  // namespace reachmon::service
#else
namespace reachmon::service {
void returnLargeFreedBlocksToOs() {}  // other C libraries do not raise their threshold
void releaseFreedMemory() {}
}  // namespace reachmon::service
#endif
