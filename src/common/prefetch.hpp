// Software prefetch of a byte range, line by line: a hint to the cache, never a fault, so the
// range may run past the end of what the caller owns.
#pragma once
#include <cstddef>

namespace rotor {

constexpr size_t kCacheLineBytes = 64;

enum class PrefetchFor { read, write };

// Asks for every cache line that [p, p + bytes) touches from its first byte on, for reading or
// (PrefetchFor::write) with intent to write, so that a later store does not wait for the line.
template <PrefetchFor For = PrefetchFor::read>
inline void prefetch_lines(const void *p, size_t bytes) {
  for (size_t offset = 0; offset < bytes; offset += kCacheLineBytes)
    __builtin_prefetch(static_cast<const char *>(p) + offset, For == PrefetchFor::write ? 1 : 0);
}

}  // namespace rotor
