// Attention kernels for AVX-512F: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/attention_kernels.hpp"

namespace rotor {
namespace arch_attention_avx512 {
namespace {

using Arch = xsimd::avx512f;
// xsimd 8.1's hadd for avx512f uses an AVX-512DQ extract, and GCC 12's AVX-512F extract
// intrinsics trip -Wuninitialized inside its own header: fold the halves with vector extensions.
using V16 = float __attribute__((vector_size(64)));
using V8 = float __attribute__((vector_size(32)));
using V4 = float __attribute__((vector_size(16)));
float attn_hsum(xsimd::batch<float, Arch> v) {
  const V16 x = static_cast<V16>(static_cast<__m512>(v));
  const V8 s8 = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7) +
                __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
  const V4 s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
// The largest lane: halves compared pairwise (a > b ? a : b), as attn_hsum folds them.
float attn_hmax(xsimd::batch<float, Arch> v) {
  const V16 x = static_cast<V16>(static_cast<__m512>(v));
  const V8 lo8 = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7), hi8 = __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
  const V8 m8 = hi8 > lo8 ? hi8 : lo8;
  const V4 lo4 = __builtin_shufflevector(m8, m8, 0, 1, 2, 3), hi4 = __builtin_shufflevector(m8, m8, 4, 5, 6, 7);
  const V4 m4 = hi4 > lo4 ? hi4 : lo4;
  const float a = m4[1] > m4[0] ? m4[1] : m4[0], b = m4[3] > m4[2] ? m4[3] : m4[2];
  return b > a ? b : a;
}
#include "f16c_widen.hpp"
using AttnFmaV = xsimd::batch<float, Arch>;
AttnFmaV attn_fma(AttnFmaV a, AttnFmaV b, AttnFmaV c) {
  return _mm512_fmadd_ps(a, b, c);
}
constexpr uint32_t kAttnRegisters = 32;

// 16 x 16 floats: rows of src (src_stride apart) become columns of dst. Unpack pairs of rows,
// then quads (the shufps pattern), then exchange 128-bit lanes twice: 64 shuffles in all. Vector
// extensions rather than intrinsics for the reason given at attn_hsum.
void attn_transpose(const float *src, size_t src_stride, float *dst, size_t dst_stride) {
  V16 r[16], t[16], s[16];
  for (size_t i = 0; i < 16; ++i) std::memcpy(&r[i], src + i * src_stride, sizeof(V16));
  for (int k = 0; k < 8; ++k) {
    const V16 a = r[2 * k], b = r[2 * k + 1];
    t[2 * k] = __builtin_shufflevector(a, b, 0, 16, 1, 17, 4, 20, 5, 21, 8, 24, 9, 25, 12, 28, 13, 29);
    t[2 * k + 1] = __builtin_shufflevector(a, b, 2, 18, 3, 19, 6, 22, 7, 23, 10, 26, 11, 27, 14, 30, 15, 31);
  }
  // s[4k + c], 128-bit lane m: rows 4k .. 4k+3 of column c + 4m.
  for (int k = 0; k < 4; ++k)
    for (int h = 0; h < 2; ++h) {
      const V16 a = t[4 * k + h], b = t[4 * k + h + 2];
      s[4 * k + 2 * h] = __builtin_shufflevector(a, b, 0, 1, 16, 17, 4, 5, 20, 21, 8, 9, 24, 25, 12, 13, 28, 29);
      s[4 * k + 2 * h + 1] = __builtin_shufflevector(a, b, 2, 3, 18, 19, 6, 7, 22, 23, 10, 11, 26, 27, 14, 15, 30, 31);
    }
  auto even_lanes = [](V16 a, V16 b) {
    return __builtin_shufflevector(a, b, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27);
  };
  auto odd_lanes = [](V16 a, V16 b) {
    return __builtin_shufflevector(a, b, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  };
  for (size_t c = 0; c < 4; ++c) {
    const V16 x0 = even_lanes(s[c], s[4 + c]), y0 = even_lanes(s[8 + c], s[12 + c]);
    const V16 x1 = odd_lanes(s[c], s[4 + c]), y1 = odd_lanes(s[8 + c], s[12 + c]);
    const V16 out[4] = {even_lanes(x0, y0), even_lanes(x1, y1), odd_lanes(x0, y0), odd_lanes(x1, y1)};
    for (size_t m = 0; m < 4; ++m) std::memcpy(dst + (c + 4 * m) * dst_stride, &out[m], sizeof(V16));
  }
}
#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx512

const AttentionKernels &avx512_attention_kernels() { return arch_attention_avx512::kAttentionKernelSet; }

}  // namespace rotor
