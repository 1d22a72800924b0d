// Attention kernels for AVX2 + FMA3 (the dispatcher picks "avx2" only on CPUs with both): the
// shared xsimd body instantiated for this architecture, compiled with this file's flags only.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <xsimd/xsimd.hpp>

#include "kernels/attention_kernels.hpp"
#include "rotor/rotor.h"  // before the body, which includes common/quant_blocks.hpp in its own namespace

namespace rotor {
namespace arch_attention_avx2 {
namespace {

// fma3<avx2>: xsimd's plain avx2 fma is a separate multiply and add.
using Arch = xsimd::fma3<xsimd::avx2>;
float attn_hsum(xsimd::batch<float, Arch> v) { return xsimd::hadd(v); }
#include "../common/attention_lanes.hpp"
float attn_hmax(xsimd::batch<float, Arch> v) { return lanewise_hmax(v); }
// f16 with F16C (every CPU the registry gives this set has it), bf16 by moving its bits to the
// top half.
xsimd::batch<float, Arch> attn_load_f16(const uint16_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
}
void attn_store_f16(uint16_t *p, xsimd::batch<float, Arch> v) {
  _mm_storeu_si128(reinterpret_cast<__m128i *>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
xsimd::batch<float, Arch> attn_load_bf16(const uint16_t *p) {
  const __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(words, 16));
}
// Quantized caches' numbers: 8 bytes widened to 32-bit lanes, then to floats (a Q4_0 nibble
// shifted down, masked and offset by -8 first; a shift known when compiled is an immediate), one
// vector at a time: each is one widening load.
template <uint32_t V>
void attn_load_q8_run(const int8_t *p, xsimd::batch<float, Arch> *out) {
  for (uint32_t v = 0; v < V; ++v)
    out[v] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p + 8 * v))));
}
template <uint32_t V>
void attn_load_q4_run(const uint8_t *p, uint32_t shift, xsimd::batch<float, Arch> *out) {
  for (uint32_t v = 0; v < V; ++v) {
    const __m256i bytes = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p + 8 * v)));
    const __m256i shifted = _mm256_srlv_epi32(bytes, _mm256_set1_epi32(int(shift)));
    const __m256i nibbles = _mm256_and_si256(shifted, _mm256_set1_epi32(15));
    out[v] = _mm256_cvtepi32_ps(_mm256_sub_epi32(nibbles, _mm256_set1_epi32(8)));
  }
}
using AttnFmaV = xsimd::batch<float, Arch>;
// The order hint of the neon64 set's quantized tiles (see there): GCC does not schedule x86
// code before register allocation, so nothing to do here.
template <uint32_t V>
void attn_widened_first(AttnFmaV *) {}
AttnFmaV attn_fma(AttnFmaV a, AttnFmaV b, AttnFmaV c) {
  return xsimd::fma(a, b, c);  // vfmadd with fma3<avx2>
}
constexpr uint32_t kAttnRegisters = 16;

#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx2

const AttentionKernels &avx2_attention_kernels() { return arch_attention_avx2::kAttentionKernelSet; }

}  // namespace rotor
