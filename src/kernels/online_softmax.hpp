// Online (streaming) softmax over blocks of keys: each row keeps a running maximum m, a running
// sum l of exp(s - m) and an accumulator of exp(s - m) * v; a new block that raises m by more
// than kStaleMaximumSlack rescales both by exp(m_old - m_new). Only one block of scores per row
// ever exists.
//
// This is the portable kernel set's fold (attention_scalar.cpp); SIMD sets have their own
// with the same formulas, and hand it the rows whose maximum is infinite (an overflowed score:
// weigh_infinite_maximum below). Within one kernel set a prefill and a decode step fold a row's
// blocks identically.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/attention_kernels.hpp"  // next_running_maximum

namespace rotor {

// exp(x) for the fold's x = s - m <= kStaleMaximumSlack (attention_kernels.hpp: a score less
// its row's running maximum), about 1 ulp, written with plain float operations so the loops
// that call it vectorise: 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 in [-ln2/2, ln2/2]
// (ln 2 split in two parts, Cody-Waite) and a degree-7 polynomial for e^r (the minimax
// coefficients of the Cephes expf). exp(0) is exactly 1; x < -87 gives 0 (the true value is
// below FLT_MIN); NaN stays NaN; correct up to x = 88 (n = 127).
inline float softmax_exp(float x) {
  const float clamped = x > -87.0f ? x : -87.0f;  // NaN takes the clamp here, restored below
  // Adding and removing 1.5 * 2^23 rounds to the nearest integer in float arithmetic.
  const float shifter = 12582912.0f;
  const float n = (clamped * 1.44269504088896341f + shifter) - shifter;
  const float r = (clamped - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const float e_r = (p * (r * r) + r) + 1.0f;
  const int32_t exponent = static_cast<int32_t>(n) + 127;  // n in [-126, 12]: a normal power of 2
  const uint32_t bits = static_cast<uint32_t>(exponent) << 23;
  float pow2;
  std::memcpy(&pow2, &bits, sizeof pow2);
  const float result = e_r * pow2;
  return x >= -87.0f ? result : (x < -87.0f ? 0.0f : x);
}

// The weights of a block whose new row maximum m is infinite, which only an infinite score
// gives (an overflowed key or query: an f16/bf16 key past its type's range is stored as
// infinity). exp(s - m) would be exp(inf - inf) = NaN for the scores equal to m, and the NaN
// would reach the row's sum and every output element. The limit of the softmax is taken instead:
// each score equal to m weighs 1 and every other score 0 (a NaN score stays NaN). With m = +inf
// the output is the mean of the values whose scores are +inf; with m = -inf (every score so far
// -inf) the block weighs its -inf scores evenly, until a later block brings a finite maximum,
// whose rescale factor exp(-inf) clears them (to 2^-125 of them in the SIMD sets, whose exp
// clamps at -87). Rewrites scores[0 .. n) as those weights and returns their sum (a count: exact
// in any order). Every kernel set comes here for such rows (the SIMD sets through this fold),
// outside its exp loop, so all give the same weights, and a finite row costs one comparison per
// block.
inline float weigh_infinite_maximum(float *scores, uint32_t n, float m) {
  float sum = 0.0f;
  for (uint32_t j = 0; j < n; ++j) {
    const float s = scores[j];
    scores[j] = s == m ? 1.0f : (std::isnan(s) ? s : 0.0f);
    sum += scores[j];
  }
  return sum;
}

// Folds n > 0 scores of one row into its state: scores become the weights exp(s - m_new),
// *sum and acc[0 .. d) are rescaled by exp(m_old - m_new) when m moves (next_running_maximum:
// only by more than kStaleMaximumSlack). The weights then go to the accumulate kernel.
inline void fold_scores(float *scores, uint32_t n, float *running_max, float *running_sum, float *acc,
                        uint32_t d) {
  // Lane-wise (element j in lane j % 8) so the loops vectorise; the fold order is fixed.
  constexpr uint32_t kLanes = 8;
  const uint32_t full = n - n % kLanes;
  float lane_max[kLanes];
  for (uint32_t l = 0; l < kLanes; ++l) lane_max[l] = *running_max;
  for (uint32_t j = 0; j < full; j += kLanes)
    for (uint32_t l = 0; l < kLanes; ++l) lane_max[l] = scores[j + l] > lane_max[l] ? scores[j + l] : lane_max[l];
  for (uint32_t l = 0; full + l < n; ++l) lane_max[l] = scores[full + l] > lane_max[l] ? scores[full + l] : lane_max[l];
  float block_max = lane_max[0];
  for (uint32_t l = 1; l < kLanes; ++l) block_max = lane_max[l] > block_max ? lane_max[l] : block_max;
  const float new_max = next_running_maximum(block_max, *running_max);

  float block_sum;
  if (std::isinf(new_max)) {
    block_sum = weigh_infinite_maximum(scores, n, new_max);
  } else {
    float lane_sum[kLanes] = {};
    for (uint32_t j = 0; j < full; j += kLanes)
      for (uint32_t l = 0; l < kLanes; ++l) {
        scores[j + l] = softmax_exp(scores[j + l] - new_max);
        lane_sum[l] += scores[j + l];
      }
    for (uint32_t l = 0; full + l < n; ++l) {
      scores[full + l] = softmax_exp(scores[full + l] - new_max);
      lane_sum[l] += scores[full + l];
    }
    block_sum = ((lane_sum[0] + lane_sum[4]) + (lane_sum[2] + lane_sum[6])) +
                ((lane_sum[1] + lane_sum[5]) + (lane_sum[3] + lane_sum[7]));
  }
  if (new_max != *running_max) {
    // The first block finds running_max = -inf: the factor is 0 and so are sum and acc (or
    // what a block of -inf scores alone left there: see weigh_infinite_maximum).
    const float factor = softmax_exp(*running_max - new_max);
    *running_sum *= factor;
    for (uint32_t i = 0; i < d; ++i) acc[i] *= factor;
    *running_max = new_max;
  }
  *running_sum += block_sum;
}

}  // namespace rotor
