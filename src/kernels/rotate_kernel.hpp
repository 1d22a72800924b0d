// The kernel interface every implementation shares (scalar reference, SIMD under arch/, and the
// caller-cos/sin entry point): rotate the heads of one token with one row of cos and sin.
//
// The core validates everything before a kernel runs; kernels assume valid input.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

struct TokenHeads {
  const float *cos;        // r/2 values
  const float *sin;        // r/2 values
  uint32_t half;           // r/2
  const void *in;          // first head of this token (element type by the kernel's dtype)
  void *out;               // may equal in (in place)
  int64_t in_head_stride;  // elements between heads
  int64_t out_head_stride;
  uint32_t heads;
  uint32_t head_dim;       // dims [2 * half, head_dim) are copied when out != in
  bool inverse;            // rotate by -angle
};

using RotateTokenFn = void (*)(const TokenHeads &job);

// Part of one table row by angle addition (src/table/row_compute.cpp): for k < count,
//   cos_out[k] = float((ac*dc - as*ds) * af),  sin_out[k] = float((as*dc + ac*ds) * af)
// in double, unfused, so every implementation gives the bits of the scalar loop.
struct RowCombineJob {
  const double *anchor_cos, *anchor_sin;  // cos/sin of anchor * theta_k
  const double *delta_cos, *delta_sin;    // cos/sin of (p - anchor) * theta_k
  uint32_t count;
  double attention_factor;
  float *cos_out, *sin_out;
};
using RowCombineFn = void (*)(const RowCombineJob &job);

// Copies `bytes` from src (the scratch an out-of-place call rotates into) to dst with stores
// aligned to dst's cache lines, non-temporal ones when `stream` (arch/common/copy_out_body.hpp).
using CopyOutFn = void (*)(void *dst, const void *src, size_t bytes, bool stream);
// Orders the calling thread's non-temporal stores before whatever it does next (x86: sfence).
using StreamFenceFn = void (*)();

// The rotation kernels of one architecture: a function per dtype and pairing, row combining,
// and the aligned write-out of out-of-place calls.
struct RotationKernels {
  RotateTokenFn rotate[3][2];          // [rotor_dtype][rotor_pairing]
  RowCombineFn combine_rows = nullptr; // nullptr: the scalar loop in row_compute.cpp
  CopyOutFn copy_out = nullptr;        // nullptr: kernels write the output directly (ARM, scalar)
  StreamFenceFn stream_fence = nullptr;
  uint32_t vector_bytes = 0;           // the kernels' store width (with copy_out)
  // With copy_out: outputs below the streaming size whose stores would straddle lines go
  // through the scratch too (else only streamed ones do, the rest are written directly).
  bool copy_cached_outputs = false;
  // For a pass whose tensor is at least kLargePassBytes (src/apply/apply_plan.hpp: it streams
  // from memory rather than staying in cache); nullptr entries: `rotate` for every call.
  RotateTokenFn rotate_large[3][2] = {};
};

// The scalar reference (src/kernels/rotate_scalar.cpp), always available.
const RotationKernels &scalar_rotation_kernels();

}  // namespace rotor
