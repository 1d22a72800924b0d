// Memory for the library's caller-owned arenas and workspaces (tables built in place, KV caches,
// attention and re-rotation workspaces), which must be ROTOR_ARENA_ALIGNMENT-aligned. Only the
// standard library and rotor.h, so benchmarks can use it as well as tests.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "rotor/rotor.h"

namespace test_support {

struct FreeDeleter {
  void operator()(void *p) const { std::free(p); }
};

// Frees itself; get() is the aligned start.
using AlignedBuffer = std::unique_ptr<unsigned char, FreeDeleter>;

// At least `bytes` (std::aligned_alloc wants a whole number of alignments, and never 0), every
// byte 0x5A: contents the library never wrote read the same on every run, and not as zeros.
// Null when the allocation fails.
inline AlignedBuffer aligned_buffer(size_t bytes) {
  const size_t align = ROTOR_ARENA_ALIGNMENT;
  const size_t rounded = bytes == 0 ? align : (bytes + align - 1) / align * align;
  AlignedBuffer b(static_cast<unsigned char *>(std::aligned_alloc(align, rounded)));
  if (b) std::memset(b.get(), 0x5A, rounded);
  return b;
}

}  // namespace test_support
