// SSE2 kernels: the x86-64 baseline. SSE2 has no half-precision conversion, so f16 goes through
// the integer emulation (bit-identical to src/common/half.hpp).
#include <emmintrin.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_sse2 {
namespace {

using Arch = xsimd::sse2;
#define ROTOR_ARCH_HAS_DOUBLE 1
#define ROTOR_ARCH_HAS_STREAM
#include "../common/rope_half_emulation.hpp"

struct Ops {
  // Pairs of 16-bit elements as 32-bit words (little-endian: element 2k in the low half).
  static IntV load_words(const uint16_t *p) { return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)); }
  static void store_words(uint16_t *p, IntV v) { _mm_storeu_si128(reinterpret_cast<__m128i *>(p), v); }
  static FloatV swap_pairs(FloatV v) { return _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)); }
  static void split_pairs(const float *p, FloatV *even, FloatV *odd) {
    const __m128 lo = _mm_loadu_ps(p), hi = _mm_loadu_ps(p + 4);
    *even = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0));
    *odd = _mm_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
  }
  static FloatV dup_lo(FloatV v) { return _mm_unpacklo_ps(v, v); }
  static FloatV dup_hi(FloatV v) { return _mm_unpackhi_ps(v, v); }
  static IntV widen(const uint16_t *p) {
    return _mm_unpacklo_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i *>(p)), _mm_setzero_si128());
  }
  // Lanes hold 0 .. 0xffff: sign-extend their low 16 bits so the signed pack keeps them intact.
  static void narrow(uint16_t *p, IntV v) {
    const __m128i x = _mm_srai_epi32(_mm_slli_epi32(v, 16), 16);
    _mm_storel_epi64(reinterpret_cast<__m128i *>(p), _mm_packs_epi32(x, x));
  }
  static FloatV load_f16(const uint16_t *p) { return f16_bits_to_float(widen(p)); }
  static void store_f16(uint16_t *p, FloatV v) { narrow(p, float_to_f16_bits(v)); }
  static FloatV load_bf16(const uint16_t *p) { return bf16_bits_to_float(widen(p)); }
  static void store_bf16(uint16_t *p, FloatV v) { narrow(p, float_to_bf16_bits(v)); }
  static void store_as_float(float *p, xsimd::batch<double, Arch> v) {
    _mm_storel_pi(reinterpret_cast<__m64 *>(p), _mm_cvtpd_ps(v));
  }
  // copy_out_body.hpp: four 16-byte stores per line.
  static constexpr size_t kStoreBytes = 16;
  static __m128i load_bytes(const unsigned char *p) { return _mm_loadu_si128(reinterpret_cast<const __m128i *>(p)); }
  static void store_bytes(unsigned char *p, __m128i v) { _mm_store_si128(reinterpret_cast<__m128i *>(p), v); }
  static void stream_bytes(unsigned char *p, __m128i v) { _mm_stream_si128(reinterpret_cast<__m128i *>(p), v); }
  static void stream_fence() { _mm_sfence(); }
};

#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_sse2

const RotationKernels &sse2_rotation_kernels() { return arch_sse2::kRotationKernels; }

}  // namespace rotor
