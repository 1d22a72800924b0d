// The portable attention kernels. A score accumulates q[i] * key[i] over the dimensions in
// ascending order, one product and one add per step, in the lane of its key: key blocks are
// dimension-major (kernels/attention_kernels.hpp), so GCC vectorises the loop over a chunk of
// contiguous keys at baseline flags without reassociating anything, and a score is the same
// number whichever rows or keys it is computed with.
#include <cstddef>

#include "kernels/attention_kernels.hpp"
#include "kernels/online_softmax.hpp"
#include "common/quant_blocks.hpp"

namespace rotor {
namespace {

constexpr uint32_t kKeyChunk = 16;
static_assert(kKeyBlock % kKeyChunk == 0, "a key block is a whole number of chunks");

template <uint32_t R>
void scores_rows(const float *q, const float *block, uint32_t n, uint32_t d, float scale, float *scores,
                 uint32_t stride) {
  for (uint32_t j0 = 0; j0 < n; j0 += kKeyChunk) {
    float acc[R][kKeyChunk] = {};
    for (uint32_t i = 0; i < d; ++i) {
      // Columns past n (up to the chunk's end, inside the block) are computed and not stored.
      const float *k = block + size_t{i} * kKeyBlock + j0;
      for (uint32_t r = 0; r < R; ++r) {
        const float x = q[size_t{r} * d + i];
        for (uint32_t l = 0; l < kKeyChunk; ++l) acc[r][l] += x * k[l];
      }
    }
    const uint32_t keys = n - j0 < kKeyChunk ? n - j0 : kKeyChunk;
    for (uint32_t r = 0; r < R; ++r)
      for (uint32_t l = 0; l < keys; ++l) scores[size_t{r} * stride + j0 + l] = acc[r][l] * scale;
  }
}

// Rows four at a time: each key vector is read once per four rows.
void scores(const float *q, uint32_t rows, const void *key_block, uint32_t n, uint32_t d, float scale,
            float *out, uint32_t stride) {
  const float *block = static_cast<const float *>(key_block);
  for (uint32_t r0 = 0; r0 < rows; r0 += 4) {
    const float *qr = q + size_t{r0} * d;
    float *o = out + size_t{r0} * stride;
    switch (rows - r0) {
      case 1: scores_rows<1>(qr, block, n, d, scale, o, stride); break;
      case 2: scores_rows<2>(qr, block, n, d, scale, o, stride); break;
      case 3: scores_rows<3>(qr, block, n, d, scale, o, stride); break;
      default: scores_rows<4>(qr, block, n, d, scale, o, stride); break;
    }
  }
}

void accumulate(const float *weights, uint32_t stride, uint32_t rows, const void *value_rows, uint32_t n,
                uint32_t d, float *acc) {
  const float *values = static_cast<const float *>(value_rows);
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

namespace {

template <rotor_dtype Type>
void dequantize_keys(const unsigned char *block, uint32_t d, float *out) {
  dequantize_dimension_major(Type, d, kKeyBlock, block, out);
}
template <rotor_dtype Type>
void dequantize_values(const unsigned char *rows, uint32_t count, uint32_t d, float *out) {
  dequantize_rows(Type, rows, count, d, out);
}

}  // namespace

const AttentionKernels &portable_attention_kernels() {
  // f16/bf16 blocks are converted to floats by the caller (src/attention/attention_run.cpp).
  // Quantized blocks are dequantized into floats by the caller too.
  static const AttentionKernels kernels = {{scores, nullptr, nullptr, nullptr, nullptr},
                                           {accumulate, nullptr, nullptr, nullptr, nullptr},
                                           {},
                                           {},
                                           fold,
                                           {dequantize_keys<ROTOR_DTYPE_Q8_0>, dequantize_keys<ROTOR_DTYPE_Q4_0>},
                                           {dequantize_values<ROTOR_DTYPE_Q8_0>, dequantize_values<ROTOR_DTYPE_Q4_0>}};
  return kernels;
}

}  // namespace rotor
