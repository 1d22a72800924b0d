// The portable attention kernels. Dot products keep 8 partial sums (element i goes to lane
// i % 8) and add them in a fixed tree, so GCC vectorises them without reassociating anything
// and a score is the same number whichever rows it is computed with.
#include <cstddef>

#include "kernels/attention_kernels.hpp"
#include "kernels/online_softmax.hpp"

namespace rotor {
namespace {

constexpr uint32_t kLanes = 8;

// (l0 + l4) + (l2 + l6) + ((l1 + l5) + (l3 + l7)): the order a 256-bit register folds in.
inline float fold_lanes(const float *lane) {
  const float s0 = lane[0] + lane[4], s1 = lane[1] + lane[5], s2 = lane[2] + lane[6], s3 = lane[3] + lane[7];
  return (s0 + s2) + (s1 + s3);
}

template <uint32_t R>
void scores_rows(const float *q, const float *keys, uint32_t n, uint32_t d, float scale, float *scores,
                 uint32_t stride) {
  const uint32_t full = d - d % kLanes;
  for (uint32_t j = 0; j < n; ++j) {
    const float *k = keys + size_t{j} * d;
    float lane[R][kLanes] = {};
    for (uint32_t i = 0; i < full; i += kLanes)
      for (uint32_t r = 0; r < R; ++r)
        for (uint32_t l = 0; l < kLanes; ++l) lane[r][l] += q[size_t{r} * d + i + l] * k[i + l];
    for (uint32_t l = 0; full + l < d; ++l)
      for (uint32_t r = 0; r < R; ++r) lane[r][l] += q[size_t{r} * d + full + l] * k[full + l];
    for (uint32_t r = 0; r < R; ++r) scores[size_t{r} * stride + j] = fold_lanes(lane[r]) * scale;
  }
}

// Rows four at a time: each key is read once per four rows.
void scores(const float *q, uint32_t rows, const float *keys, uint32_t n, uint32_t d, float scale,
            float *out, uint32_t stride) {
  for (uint32_t r0 = 0; r0 < rows; r0 += 4) {
    const float *qr = q + size_t{r0} * d;
    float *o = out + size_t{r0} * stride;
    switch (rows - r0) {
      case 1: scores_rows<1>(qr, keys, n, d, scale, o, stride); break;
      case 2: scores_rows<2>(qr, keys, n, d, scale, o, stride); break;
      case 3: scores_rows<3>(qr, keys, n, d, scale, o, stride); break;
      default: scores_rows<4>(qr, keys, n, d, scale, o, stride); break;
    }
  }
}

void accumulate(const float *weights, uint32_t stride, uint32_t rows, const float *values, uint32_t n,
                uint32_t d, float *acc) {
  for (uint32_t j = 0; j < n; ++j) {
    const float *__restrict v = values + size_t{j} * d;
    for (uint32_t r = 0; r < rows; ++r) {
      const float w = weights[size_t{r} * stride + j];
      float *__restrict a = acc + size_t{r} * d;
      for (uint32_t i = 0; i < d; ++i) a[i] += w * v[i];
    }
  }
}

void fold(float *scores, uint32_t stride, uint32_t rows, uint32_t n, float *running_max, float *running_sum,
          float *acc, uint32_t d) {
  for (uint32_t r = 0; r < rows; ++r)
    fold_scores(scores + size_t{r} * stride, n, running_max + r, running_sum + r, acc + size_t{r} * d, d);
}

}  // namespace

const AttentionKernels &portable_attention_kernels() {
  static const AttentionKernels kernels = {nullptr, scores, accumulate, fold, nullptr};
  return kernels;
}

}  // namespace rotor
