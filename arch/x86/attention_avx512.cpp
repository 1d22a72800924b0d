// Attention kernels for AVX-512F: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
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
// f16 with the AVX-512 form of the F16C conversion, bf16 by moving its bits to the top half.
xsimd::batch<float, Arch> attn_load_f16(const uint16_t *p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
}
void attn_store_f16(uint16_t *p, xsimd::batch<float, Arch> v) {
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
}
xsimd::batch<float, Arch> attn_load_bf16(const uint16_t *p) {
  const __m512i words = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
  return _mm512_castsi512_ps(_mm512_slli_epi32(words, 16));
}
// Quantized caches' numbers: 16 bytes widened to 32-bit lanes, then to floats (a Q4_0 nibble
// shifted down, masked and offset by -8 first; a shift known when compiled is an immediate), one
// vector at a time: each is one widening load.
template <uint32_t V>
void attn_load_q8_run(const int8_t *p, xsimd::batch<float, Arch> *out) {
  for (uint32_t v = 0; v < V; ++v)
    out[v] = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 16 * v))));
}
template <uint32_t V>
void attn_load_q4_run(const uint8_t *p, uint32_t shift, xsimd::batch<float, Arch> *out) {
  for (uint32_t v = 0; v < V; ++v) {
    const __m512i bytes = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p + 16 * v)));
    const __m512i shifted = _mm512_srlv_epi32(bytes, _mm512_set1_epi32(int(shift)));
    const __m512i nibbles = _mm512_and_si512(shifted, _mm512_set1_epi32(15));
    out[v] = _mm512_cvtepi32_ps(_mm512_sub_epi32(nibbles, _mm512_set1_epi32(8)));
  }
}
using AttnFmaV = xsimd::batch<float, Arch>;
// The order hint of the neon64 set's quantized tiles (see there): GCC does not schedule x86
// code before register allocation, so nothing to do here.
template <uint32_t V>
void attn_widened_first(AttnFmaV *) {}
AttnFmaV attn_fma(AttnFmaV a, AttnFmaV b, AttnFmaV c) {
  return _mm512_fmadd_ps(a, b, c);
}
// acc + *x * k rounded once, *x read by the multiply-add (an embedded broadcast, {1to16}):
// the tiles of the Zen variant (the body's AttnInFma says why). GCC keeps one register broadcast
// for the V multiply-adds of a row whatever the intrinsics say, so the instruction is written
// here, in both assembler dialects. *x is the second factor where the intrinsic form has it
// first: a product does not depend on the order of its factors.
AttnFmaV attn_fma_broadcast(const float *x, AttnFmaV k, AttnFmaV acc) {
  __m512 sum = acc;
  __asm__("{vfmadd231ps %[x]%{1to16%}, %[k], %[sum]|vfmadd231ps %[sum], %[k], %[x]%{1to16%}}"
          : [sum] "+v"(sum)
          : [k] "v"(static_cast<__m512>(k)), [x] "m"(*x));
  return sum;
}
#define ROTOR_ATTN_FMA_BROADCAST 1
constexpr uint32_t kAttnRegisters = 32;

#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx512

const AttentionKernels &avx512_attention_kernels() { return arch_attention_avx512::kAttentionKernelSet; }
// Declared in src/kernels/arch_kernels.hpp; the registry gives it to AMD's Zen cores.
const AttentionKernels &avx512_zen_attention_kernels() { return arch_attention_avx512::kAttentionKernelSetZen; }

}  // namespace rotor
