/* LD_PRELOAD library for the wineserver of the Windows tests (scripts/test-windows): fixes a
   heap overflow in Wine 8.0's complete_async_poll() (server/sock.c) in memory, at start-up.

   The bug: a socket poll can have a socket marked signalled without being completed, and its
   timeout then completes it with STATUS_TIMEOUT. For a non-success status the function sizes the
   reply for no socket at all, but still writes one 16-byte entry per signalled socket past the
   end of the block, then asserts "output->count == signaled_count": the wineserver aborts and
   the whole Wine session dies (services, msiexec, the service under test). civetweb's graceful
   close triggers it under Wine (select() on a connection whose peer hangs up meanwhile), at
   random and more often on a loaded machine. Observed here with valgrind (invalid writes 0, 8
   and 12 bytes after a 16-byte block) and with the server's trace (wineserver -d1).

   The fix: the status test that skips counting the signalled sockets ("test %ebp,%ebp; je")
   becomes an unconditional jump to the counting loop, so the reply always has room for every
   socket it reports (what Windows does: a poll reports what it saw). Applied only when the
   instruction sequence is found exactly once in the wineserver's code; otherwise nothing is
   changed. Either way one line on stderr (the server's log) says what happened. */
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* test %ebp,%ebp; je <count>; xor %r13d,%r13d; xor %r12d,%r12d (signaled_count = 0). */
static const unsigned char kSite[] = {0x85, 0xed, 0x0f, 0x84, 0xa5, 0x01, 0x00,
                                      0x00, 0x45, 0x31, 0xed, 0x45, 0x31, 0xe4};

struct Search {
  unsigned char* found;
  uintptr_t base; /* where the program is loaded */
  int count;
};

static int searchCode(struct dl_phdr_info* info, size_t size, void* data) {
  (void)size;
  struct Search* s = data;
  s->base = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)* ph = &info->dlpi_phdr[i];
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X)) continue;
    unsigned char* code = (unsigned char*)(info->dlpi_addr + ph->p_vaddr);
    for (size_t at = 0; at + sizeof kSite <= ph->p_memsz; ++at) {
      if (memcmp(code + at, kSite, sizeof kSite) == 0) {
        s->found = code + at;
        ++s->count;
      }
    }
  }
  return 1; /* the first object is the program itself: stop there */
}

__attribute__((constructor)) static void fixCompleteAsyncPoll(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = '\0';
  const char* base = strrchr(exe, '/');
  if (!base || strncmp(base + 1, "wineserver", 10) != 0) return; /* the sh wrapper, ... */
  struct Search s = {NULL, 0, 0};
  dl_iterate_phdr(searchCode, &s);
  if (s.count != 1) {
    fprintf(stderr,
            "wineserver_poll_fix: %d matches of the complete_async_poll site; not patched\n",
            s.count);
    return;
  }
  const long page = sysconf(_SC_PAGESIZE);
  unsigned char* jump = s.found + 2; /* the je */
  unsigned char* first = (unsigned char*)((uintptr_t)jump & ~(uintptr_t)(page - 1));
  size_t length = (size_t)(jump + 6 - first);
  if (mprotect(first, length, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
    perror("wineserver_poll_fix: mprotect");
    return;
  }
  /* je rel32 (0f 84 r) at A -> nop (90) at A, jmp rel32 (e9 r) at A+1: both end at A+6, so the
     displacement is unchanged. */
  jump[0] = 0x90;
  jump[1] = 0xe9;
  mprotect(first, length, PROT_READ | PROT_EXEC);
  fprintf(stderr, "wineserver_poll_fix: patched complete_async_poll at %s+%#lx\n", exe,
          (unsigned long)((uintptr_t)jump - s.base));
}
