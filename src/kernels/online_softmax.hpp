// Online (streaming) softmax over blocks of keys, in base 2 (scores carry log2(e) in their
// scale): each row keeps a running maximum m, a running sum l of 2^(s - m) and an accumulator
// of 2^(s - m) * v; a new block that raises m by more than kStaleMaximumSlack rescales both by
// 2^(m_old - m_new). Only one block of scores per row ever exists.
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

// 2^x for the fold's x = s - m <= kStaleMaximumSlack (attention_kernels.hpp: a score less its
// row's running maximum, both in base-2 units), within 1.2 ulp, written with plain float
// operations so the loops that call it vectorise: 2^n * 2^r with n = x rounded to the nearest
// integer (by adding and removing 1.5 * 2^23), r = x - n in [-1/2, 1/2] (exact) and
// 2^r = 1 + r * q(r), q the degree-5 polynomial kExp2Poly. 2^0 is exactly 1; x < -126 gives 0
// (the SIMD sets' clamp gives 2^-126); NaN stays NaN; correct up to x = 127.
inline float softmax_exp2(float x) {
  const float clamped = x > -126.0f ? x : -126.0f;  // NaN takes the clamp here, restored below
  const float shifter = 12582912.0f;
  const float n = (clamped + shifter) - shifter;
  const float r = clamped - n;
  float q = kExp2Poly[5];
  for (int k = 4; k >= 0; --k) q = q * r + kExp2Poly[k];
  const int32_t exponent = static_cast<int32_t>(n) + 127;  // n in [-126, 12]: a normal power of 2
  const uint32_t bits = static_cast<uint32_t>(exponent) << 23;
  float pow2;
  std::memcpy(&pow2, &bits, sizeof pow2);
  const float result = (r * q + 1.0f) * pow2;
  return x >= -126.0f ? result : (x < -126.0f ? 0.0f : x);
}

// The weights of a block whose new row maximum m is infinite, which only an infinite score
// gives (an overflowed key or query: an f16/bf16 key past its type's range is stored as
// infinity). 2^(s - m) would be 2^(inf - inf) = NaN for the scores equal to m, and the NaN
// would reach the row's sum and every output element. The limit of the softmax is taken instead:
// each score equal to m weighs 1 and every other score 0 (a NaN score stays NaN). With m = +inf
// the output is the mean of the values whose scores are +inf; with m = -inf (every score so far
// -inf) the block weighs its -inf scores evenly, until a later block brings a finite maximum,
// whose rescale factor 2^-inf clears them (to 2^-126 of them in the SIMD sets, whose 2^x
// clamps at -126). Rewrites scores[0 .. n) as those weights and returns their sum (a count: exact
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

// Folds n > 0 scores of one row into its state: scores become the weights 2^(s - m_new),
// *sum and acc[0 .. d) are rescaled by 2^(m_old - m_new) when m moves (next_running_maximum:
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
        scores[j + l] = softmax_exp2(scores[j + l] - new_max);
        lane_sum[l] += scores[j + l];
      }
    for (uint32_t l = 0; full + l < n; ++l) {
      scores[full + l] = softmax_exp2(scores[full + l] - new_max);
      lane_sum[l] += scores[full + l];
    }
    block_sum = ((lane_sum[0] + lane_sum[4]) + (lane_sum[2] + lane_sum[6])) +
                ((lane_sum[1] + lane_sum[5]) + (lane_sum[3] + lane_sum[7]));
  }
  if (new_max != *running_max) {
    // The first block finds running_max = -inf: the factor is 0 and so are sum and acc (or
    // what a block of -inf scores alone left there: see weigh_infinite_maximum).
    const float factor = softmax_exp2(*running_max - new_max);
    *running_sum *= factor;
    for (uint32_t i = 0; i < d; ++i) acc[i] *= factor;
    *running_max = new_max;
  }
  *running_sum += block_sum;
}

}  // namespace rotor
