// What the harnesses share: a failed property is a finding, reported like a sanitizer's, so that
// libFuzzer saves the input as a crash artifact.
#pragma once

#include <cstdio>
#include <cstdlib>

// Not assert(): it must also hold in builds with NDEBUG.
#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (false)
