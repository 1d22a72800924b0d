// AVX2 kernels (with FMA3 and F16C, which every AVX2 CPU has and dispatch checks): f16 is
// converted by F16C in registers, rounding to nearest even like src/common/half.hpp.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_avx2 {
namespace {

// fma3<avx2>, not plain avx2 (whose fma is not fused); the kernels do not use fma anyway.
using Arch = xsimd::fma3<xsimd::avx2>;
#define ROTOR_ARCH_HAS_DOUBLE 1
#define ROTOR_ARCH_HAS_STREAM
#include "../common/rope_half_emulation.hpp"

struct Ops {
  // Pairs of 16-bit elements as 32-bit words (little-endian: element 2k in the low half).
  static IntV load_words(const uint16_t *p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)); }
  static void store_words(uint16_t *p, IntV v) { _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), v); }
  static FloatV swap_pairs(FloatV v) { return _mm256_permute_ps(v, 0xB1); }
  // shuffle_ps picks within 128-bit lanes (lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6); the 64-bit
  // permute puts the quarters in order.
  static void split_pairs(const float *p, FloatV *even, FloatV *odd) {
    const __m256 lo = _mm256_loadu_ps(p), hi = _mm256_loadu_ps(p + 8);
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
  }
  static FloatV dup_lo(FloatV v) { return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3)); }
  static FloatV dup_hi(FloatV v) { return _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7)); }
  static FloatV load_f16(const uint16_t *p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p)));
  }
  static void store_f16(uint16_t *p, FloatV v) {
    _mm_storeu_si128(reinterpret_cast<__m128i *>(p), _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
  }
  static FloatV load_bf16(const uint16_t *p) {
    return bf16_bits_to_float(_mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(p))));
  }
  static void store_bf16(uint16_t *p, FloatV v) {
    const __m256i bits = float_to_bf16_bits(v);  // 0 .. 0xffff: the unsigned pack is exact
    _mm_storeu_si128(reinterpret_cast<__m128i *>(p),
                     _mm_packus_epi32(_mm256_castsi256_si128(bits), _mm256_extracti128_si256(bits, 1)));
  }
  static void store_as_float(float *p, xsimd::batch<double, Arch> v) { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
  // copy_out_body.hpp: two 32-byte stores per line.
  static constexpr size_t kStoreBytes = 32;
  static __m256i load_bytes(const unsigned char *p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i *>(p)); }
  static void store_bytes(unsigned char *p, __m256i v) { _mm256_store_si256(reinterpret_cast<__m256i *>(p), v); }
  static void stream_bytes(unsigned char *p, __m256i v) { _mm256_stream_si256(reinterpret_cast<__m256i *>(p), v); }
  static void stream_fence() { _mm_sfence(); }
};

// A second table for AMD's Zen cores (the registry chooses): rope_kernel_body.hpp says what differs.
#define ROTOR_ARCH_ZEN_VARIANT
#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_avx2

const RotationKernels &avx2_rotation_kernels() { return arch_avx2::kRotationKernels; }
// Declared in src/kernels/arch_kernels.hpp; the registry gives it to AMD's Zen cores.
const RotationKernels &avx2_zen_rotation_kernels() { return arch_avx2::kRotationKernelsZen; }

}  // namespace rotor
