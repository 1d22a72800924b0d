// Attention kernels for AVX-512F: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "attention/attention_kernels.hpp"

namespace rotor {
namespace arch_attention_avx512 {
namespace {

using Arch = xsimd::avx512f;
constexpr const char *kArchName = "avx512";
// xsimd 8.1's hadd for avx512f uses an AVX-512DQ extract: fold the halves with AVX-512F only.
float attn_hsum(xsimd::batch<float, Arch> v) {
  const __m512 x = v;
  const __m256 low = _mm512_castps512_ps256(x);
  const __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1));
  const __m256 s8 = _mm256_add_ps(low, high);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}
#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx512

const AttentionKernels &avx512_attention_kernels() { return arch_attention_avx512::kAttentionKernelSet; }

}  // namespace rotor
