// Attention kernels for AVX2 + FMA3 (the dispatcher picks "avx2" only on CPUs with both): the
// shared xsimd body instantiated for this architecture, compiled with this file's flags only.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/attention_kernels.hpp"

namespace rotor {
namespace arch_attention_avx2 {
namespace {

// fma3<avx2>: xsimd's plain avx2 fma is a separate multiply and add.
using Arch = xsimd::fma3<xsimd::avx2>;
float attn_hsum(xsimd::batch<float, Arch> v) { return xsimd::hadd(v); }
#include "../common/attention_lanes.hpp"
float attn_hmax(xsimd::batch<float, Arch> v) { return lanewise_hmax(v); }
#include "f16c_widen.hpp"
using AttnFmaV = xsimd::batch<float, Arch>;
AttnFmaV attn_fma(AttnFmaV a, AttnFmaV b, AttnFmaV c) {
  return xsimd::fma(a, b, c);  // vfmadd with fma3<avx2>
}
constexpr uint32_t kAttnRegisters = 16;

// 8 x 8 floats: rows of src (src_stride apart) become columns of dst.
void attn_transpose(const float *src, size_t src_stride, float *dst, size_t dst_stride) {
  __m256 r[8], t[8], s[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * src_stride);
  for (int k = 0; k < 4; ++k) {
    t[2 * k] = _mm256_unpacklo_ps(r[2 * k], r[2 * k + 1]);
    t[2 * k + 1] = _mm256_unpackhi_ps(r[2 * k], r[2 * k + 1]);
  }
  // s[4k + c], 128-bit lane m: rows 4k .. 4k+3 of column c + 4m.
  for (int k = 0; k < 2; ++k) {
    s[4 * k + 0] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
    s[4 * k + 1] = _mm256_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
    s[4 * k + 2] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
    s[4 * k + 3] = _mm256_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
  }
  for (int c = 0; c < 4; ++c) {
    _mm256_store_ps(dst + c * dst_stride, _mm256_permute2f128_ps(s[c], s[4 + c], 0x20));
    _mm256_store_ps(dst + (c + 4) * dst_stride, _mm256_permute2f128_ps(s[c], s[4 + c], 0x31));
  }
}
#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx2

const AttentionKernels &avx2_attention_kernels() { return arch_attention_avx2::kAttentionKernelSet; }

}  // namespace rotor
