// AVX-512 (F) kernels: 16 floats per vector, f16 through the AVX-512 forms of F16C, bf16
// narrowed with vpmovdw.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_avx512 {
namespace {

using Arch = xsimd::avx512f;
constexpr const char *kArchName = "avx512";
#define ROTOR_ARCH_HAS_DOUBLE 1
#include "../common/rope_half_emulation.hpp"

struct Ops {
  // Pairs of 16-bit elements as 32-bit words (little-endian: element 2k in the low half).
  static IntV load_words(const uint16_t *p) { return _mm512_loadu_si512(p); }
  static void store_words(uint16_t *p, IntV v) { _mm512_storeu_si512(p, v); }
  static FloatV swap_pairs(FloatV v) { return _mm512_permute_ps(v, 0xB1); }
  static FloatV dup_lo(FloatV v) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7), v);
  }
  static FloatV dup_hi(FloatV v) {
    return _mm512_permutexvar_ps(_mm512_setr_epi32(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15), v);
  }
  static FloatV load_f16(const uint16_t *p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)));
  }
  static void store_f16(uint16_t *p, FloatV v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static FloatV load_bf16(const uint16_t *p) {
    return bf16_bits_to_float(_mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(p))));
  }
  static void store_bf16(uint16_t *p, FloatV v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), _mm512_cvtepi32_epi16(float_to_bf16_bits(v)));
  }
  static void store_as_float(float *p, xsimd::batch<double, Arch> v) { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
};

#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_avx512

const KernelSet &avx512_kernels() { return arch_avx512::kKernelSet; }

}  // namespace rotor
