// The inner loops of attention as a kernel set: the portable one in this folder, SIMD ones
// under arch/. Every kernel works in float on contiguous rows of head_dim floats.
//
// The contract that makes a prefill equal to decode steps: the value a kernel produces for one
// (query row, key) pair must not depend on how many rows are passed together nor on n, nor on
// where the pair falls in a register tile. A score is one dot product in a fixed order; an
// accumulator element is updated once per key, in ascending key order, always with the same
// operation.
#pragma once
#include <cstdint>

namespace rotor {

struct AttentionKernels {
  // Optional (nullptr: `scores` reads keys as they are, n rows of d floats). Rearranges n <= 64
  // keys of d floats into the layout `scores` reads, in `packed` (64 x d floats, 64-byte
  // aligned). Called once per block of keys; the block is then scored against every query row.
  void (*pack_keys)(const float *keys, uint32_t n, uint32_t d, float *packed);
  // scores[r * stride + j] = dot(q + r * d, key j) * scale for r < rows, j < n (any rows; n <= 64,
  // stride >= 64: a kernel may write scores up to the next multiple of its key tile, never past 64).
  void (*scores)(const float *q, uint32_t rows, const float *keys, uint32_t n, uint32_t d, float scale,
                 float *scores, uint32_t stride);
  // For r < rows and each j < n in turn: acc[r * d + i] += weights[r * stride + j] * values[j * d + i].
  void (*accumulate)(const float *weights, uint32_t stride, uint32_t rows, const float *values, uint32_t n,
                     uint32_t d, float *acc);
  // Online softmax step of `rows` rows that all see n > 0 keys (see online_softmax.hpp): row r's
  // scores (scores + r * stride) become the weights exp(s - m_new); running_sum[r] and its
  // accumulator (acc + r * d, d floats) are rescaled by exp(m_old - m_new), then the block's
  // weights are added to running_sum[r]. Each row's result depends on its own data only.
  void (*fold)(float *scores, uint32_t stride, uint32_t rows, uint32_t n, float *running_max, float *running_sum,
               float *acc, uint32_t d);
  // Optional (nullptr: the portable loop of common/element_convert.hpp). count f16 values to
  // float, exactly (every f16 is a float); a NaN stays a NaN. Widens f16 cache blocks.
  void (*widen_f16)(const uint16_t *from, uint32_t count, float *to);
};

// Plain C++ written so the compiler vectorises it at baseline flags; always available.
const AttentionKernels &portable_attention_kernels();

}  // namespace rotor
