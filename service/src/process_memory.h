// Process-wide allocator settings for a program that renders /metrics bodies of tens of MB.
#pragma once

namespace reachmon::service {

// Has the C library give a large freed block (a /metrics body) back to the OS at once. glibc
// raises its mmap threshold to the size of the largest block freed (up to 32 MB), so later
// bodies come from the malloc arena of whichever HTTP thread rendered them, and each arena keeps
// a body's worth after it is freed: 8 parallel scrapes of 10,000 paths left 222 MB resident
// instead of 79 MB. Fixing the threshold keeps every large block in its own mapping; one arena
// for all threads keeps a scrape's smaller buffers for the next scrape instead of one arena's
// worth per HTTP worker that ever rendered. Call at start-up, before the HTTP threads exist;
// idempotent. Windows already maps large heap blocks on their own: nothing to do there.
void returnLargeFreedBlocksToOs();

// Gives the pages of freed memory back to the OS (glibc: malloc_trim). A scrape frees about
// 1 MB of buffers at 10,000 paths (zlib's state, text pieces, scratch vectors) that would stay
// resident until the next scrape reuses them. Takes about a millisecond; call after a render.
void releaseFreedMemory();

}  // namespace reachmon::service
