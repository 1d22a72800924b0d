// The inner loops of attention as a kernel set: the portable one in this folder, SIMD ones
// under arch/. Every kernel works in float. Queries, values and accumulators are rows of
// head_dim floats; keys come as a key block (below), the layout the KV cache stores them in.
//
// The contract that makes a prefill equal to decode steps: the value a kernel produces for one
// (query row, key) pair must not depend on how many rows are passed together nor on n, nor on
// where the pair falls in a register tile. A score is one dot product in a fixed order; an
// accumulator element is updated once per key, in ascending key order, always with the same
// operation.
#pragma once
#include <cfloat>
#include <cstdint>

namespace rotor {

// Keys per block. A key block is dimension-major: dimension i of key j at block[i * kKeyBlock + j]
// (64-byte aligned, all kKeyBlock columns readable), so a vector load of a row holds consecutive
// keys and the score kernels put keys in the vector lanes without transposing anything. The KV
// cache keeps its keys in such blocks (src/attention/kv_cache.hpp) and the softmax of a forward
// call runs over the same absolute blocks, which keeps a prefill's arithmetic equal to decode
// steps'.
constexpr uint32_t kKeyBlock = 64;

// How far a block's largest score may exceed a row's running maximum m before the fold moves m
// to it, in the fold's base-2 units: 11.5, about e^8 (8 log2(e) = 11.54), the slack it had in
// base e. Below that, m stays (stale) and the block's weights 2^(s - m) may exceed 1, up to
// 2^11.5 ~ 2896: a stale m only scales the row's sum and accumulators by a common factor, which
// the division at the end removes, and float keeps its relative precision at any scale. Moving
// m costs a pass over the row's accumulators (a read-modify-write of head_dim floats) and a
// branch that the data decides; with the slack, decode steps after 2048 cached tokens took
// 2.5-4.6% less time on a Zen 3 (docs/performance.md; the benchmark's prefill, whose scores
// rarely raise m much, 0.4%). After a row's first block m rarely rises that far (such a score
// would outweigh every earlier one ~2896 times), so the branch is all but always not taken.
// Sums stay finite: at most 2^11.5 per key.
constexpr float kStaleMaximumSlack = 11.5f;

// The fold's 2^r for r in [-1/2, 1/2], as 1 + r * (c0 + c1 r + ... + c5 r^5): c0 .. c5 here.
// Fitted to 2^r's relative error (Lawson's reweighted least squares on 4000 Chebyshev points,
// in double; tests/golden/fit_exp2.py): 2.0e-9 in exact arithmetic; evaluated in float, 0.9 ulp
// with fused multiply-adds and 1.2 without (test_attention_kernels.cpp, FoldWeighsLikeExp2).
// r = 0 gives exactly 1, so a row's maximum weighs exactly 1.
inline constexpr float kExp2Poly[6] = {6.931471824645996e-01f, 2.402264773845673e-01f, 5.550332367420197e-02f,
                                       9.618436917662621e-03f, 1.339887501671910e-03f, 1.535336195956916e-04f};

// The running maximum a fold continues with after a block whose largest score is block_max:
// block_max when it exceeds m by more than the slack (always for the first block, m = -inf,
// and for +inf), else m (also when block_max is NaN). Static: each file that includes it, the
// arch files compiled with their own -m flags among them, gets its own copy (an inline function
// of external linkage could leave all callers one AVX-512 copy; .ci/check-isa-symbols).
static inline float next_running_maximum(float block_max, float m) {
  return block_max > m + kStaleMaximumSlack ? block_max : m;
}

// The scale the score kernels take for a softmax scale: scale * log2(e), so that the fold's
// 2^s is e^(dot * scale) (the multiply by log2(e) is then the tile's, where it is free, and not
// the fold's). Saturated at +-FLT_MAX so that a finite scale stays finite: a dot product of 0
// then scores 0, not 0 * inf = NaN. Static for the reason next_running_maximum is.
static inline float base2_score_scale(float scale) {
  const float scaled = scale * 1.44269504088896341f;
  return scaled > FLT_MAX ? FLT_MAX : (scaled < -FLT_MAX ? -FLT_MAX : scaled);
}

// Indexed by rotor_dtype (f32, f16, bf16): the element type of the keys and values read.
using AttentionScoresFn = void (*)(const float *q, uint32_t rows, const void *key_block, uint32_t n, uint32_t d,
                                   float scale, float *scores, uint32_t stride);
using AttentionAccumulateFn = void (*)(const float *weights, uint32_t stride, uint32_t rows, const void *values,
                                       uint32_t n, uint32_t d, float *acc);

struct AttentionKernels {
  // scores[r * stride + j] = dot(q + r * d, key j of the block) * scale for r < rows, j < n (any
  // rows; n <= kKeyBlock, stride >= kKeyBlock). A kernel may compute keys past n up to the next
  // multiple of its key tile (their columns hold any finite or non-finite values) and write
  // those scores, never past kKeyBlock. Entry [dtype] reads a block of that type, widening each
  // element exactly to float as it loads it (so the three give the same scores for the same
  // values); an f16/bf16 entry may be nullptr: the caller then converts the block to floats and
  // uses the f32 entry. Entries [Q8_0] and [Q4_0] (optional the same way) read a quantized
  // cache's key block (attention/quantized_keys.hpp; d a multiple of 32) and give the bits the
  // f32 entry gives on that block dequantized (dequantize_keys below): each number times its
  // scale, an exact float, is the key element the dot product takes.
  AttentionScoresFn scores[5];
  // For r < rows and each j < n in turn: acc[r * d + i] += weights[r * stride + j] * values[j * d + i],
  // values n rows of d elements of the entry's type (nullptr for f16/bf16 as for scores); for
  // Q8_0/Q4_0, n rows of ggml's blocks, with the bits of the f32 entry on the dequantized rows.
  AttentionAccumulateFn accumulate[5];
  // Optional per type (f16, bf16; entry [f32] unused): count elements to float, exactly, with
  // the loads `scores` and `accumulate` use. A block that many query rows see (a prefill) is
  // widened once rather than at every row tile's load (attention_run.cpp).
  void (*widen[3])(const void *from, uint32_t count, float *to);
  // Optional per type (f16, bf16; entry [f32] unused): count floats rounded to the type exactly as
  // common/half.hpp rounds them (nearest even, NaN quieted the same way), for the keys and values
  // a forward call appends to an f16/bf16 cache from f32 tensors.
  void (*narrow[3])(const float *from, uint32_t count, void *to);
  // Online softmax step of `rows` rows that all see n > 0 keys (see online_softmax.hpp), in base
  // 2: the caller scores with base2_score_scale(scale), so that 2^s = e^(dot * scale). Row r's
  // scores (scores + r * stride) become the weights 2^(s - m_new); running_sum[r] and its
  // accumulator (acc + r * d, d floats) are rescaled by 2^(m_old - m_new), then the block's
  // weights are added to running_sum[r]. m_new is m_old unless the block's largest score exceeds
  // m_old by more than kStaleMaximumSlack (or m_old is -inf, or the block's maximum is
  // infinite), then that score (next_running_maximum). Each row's result depends on its own
  // data only.
  void (*fold)(float *scores, uint32_t stride, uint32_t rows, uint32_t n, float *running_max, float *running_sum,
               float *acc, uint32_t d);
  // Per quantized cache type ([0] Q8_0, [1] Q4_0; d a multiple of 32): a key block of the KV
  // cache (attention/quantized_keys.hpp) as floats [d][kKeyBlock], and `count` value rows (ggml's
  // blocks) as floats, exactly common/quant_blocks.hpp's values: the loops of that header,
  // compiled with the set's instruction set.
  void (*dequantize_keys[2])(const unsigned char *block, uint32_t d, float *out);
  void (*dequantize_values[2])(const unsigned char *rows, uint32_t count, uint32_t d, float *out);
};

// Index of a quantized type in dequantize_keys / dequantize_values.
constexpr int kQuantTypeBase = 3;  // ROTOR_DTYPE_Q8_0

// Plain C++ written so the compiler vectorises it at baseline flags; always available.
const AttentionKernels &portable_attention_kernels();

}  // namespace rotor
