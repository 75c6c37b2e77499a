#include "../process_memory.h"

namespace reachmon::service {

// The Windows heap serves blocks above its VirtualAlloc threshold (512 KiB on x64) from their
// own allocations and releases them on free: a freed /metrics body is already returned.
void returnLargeFreedBlocksToOs() {}

// The heap decommits free pages on its own.
void releaseFreedMemory() {}

}  // namespace reachmon::service
