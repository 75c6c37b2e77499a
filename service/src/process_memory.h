// Process-wide allocator settings for a program that renders /metrics bodies of tens of MB.
#pragma once

namespace reachmon::service {

// Has the C library give a large freed block (a /metrics body) back to the OS at once. glibc
// raises its mmap threshold to the size of the largest block freed (up to 32 MB), so later
// bodies come from the malloc arena of whichever HTTP thread rendered them, and each arena keeps
// a body's worth after it is freed: 8 parallel scrapes of 10,000 paths left 222 MB resident
// instead of 79 MB. Fixing the threshold keeps every large block in its own mapping. Call at
// start-up; idempotent. Windows already maps large heap blocks on their own: nothing to do there.
void returnLargeFreedBlocksToOs();

}  // namespace reachmon::service
