// Overflow-checked size arithmetic for arena and tensor sizes: every product of user-given
// numbers goes through these, so an overflow is an error status, never a short buffer.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

inline bool mul_overflows(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_mul_overflow(a, b, out); }
inline bool add_overflows(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_add_overflow(a, b, out); }

// Rounds n up to a multiple of the power of two `align`; false on overflow.
inline bool align_up(uint64_t n, uint64_t align, uint64_t *out) {
  uint64_t sum;
  if (add_overflows(n, align - 1, &sum)) return false;
  *out = sum & ~(align - 1);
  return true;
}

// The alignment every arena and workspace handed to the library must have.
inline bool arena_aligned(const void *p) { return reinterpret_cast<uintptr_t>(p) % ROTOR_ARENA_ALIGNMENT == 0; }

// a * b * c as a stride, saturated at INT64_MAX: a contiguous view whose strides do not fit
// is then rejected by validation instead of wrapping to a small stride.
inline int64_t saturating_stride(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t ab, abc;
  if (mul_overflows(a, b, &ab) || mul_overflows(ab, c, &abc) || abc > uint64_t(INT64_MAX)) return INT64_MAX;
  return int64_t(abc);
}

}  // namespace rotor
