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
}

}  // namespace reachmon::service
#else
namespace reachmon::service {
void returnLargeFreedBlocksToOs() {}  // other C libraries do not raise their threshold
}  // namespace reachmon::service
#endif
