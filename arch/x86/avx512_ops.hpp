// The AVX-512 (F) definitions the rotation kernel body needs (Arch, bf16 rounding, Ops), shared
// by rope_avx512.cpp and rope_avx512bf16.cpp (which overrides bf16 narrowing only).
// No include guard and no namespace, on purpose: each arch file includes it inside its own
// anonymous namespace, so every copy is compiled with that file's -m flags only (see
// arch/common/rope_kernel_body.hpp).

using Arch = xsimd::avx512f;
#define ROTOR_ARCH_HAS_DOUBLE 1
#define ROTOR_ARCH_BF16_ROUND 1
#define ROTOR_ARCH_HAS_STREAM
#include "../common/rope_half_emulation.hpp"

// bfloat16 rounding with mask registers: the kept lsb, tested into a mask, picks 0x8000 or
// 0x7fff as the rounding bias (the reference's 0x7fff + lsb) in three instructions, two of
// them independent, where shift, mask and two adds take four in a chain; NaN lanes (a float
// self-comparison into a mask) get the quiet bit with one masked or, no blend.
IntV bf16_round_high_numbers(FloatV f) {
  const __m512i u = _mm512_castps_si512(f);
  const __mmask16 lsb = _mm512_test_epi32_mask(u, _mm512_set1_epi32(0x10000));
  return _mm512_mask_add_epi32(_mm512_add_epi32(u, _mm512_set1_epi32(0x7fff)), lsb, u, _mm512_set1_epi32(0x8000));
}
IntV bf16_quiet_nans(FloatV f, IntV rounded) {
  return _mm512_mask_or_epi32(rounded, _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q), _mm512_castps_si512(f),
                              _mm512_set1_epi32(0x400000));
}

struct Avx512Ops {
  // Pairs of 16-bit elements as 32-bit words (little-endian: element 2k in the low half).
  static IntV load_words(const uint16_t *p) { return _mm512_loadu_si512(p); }
  static void store_words(uint16_t *p, IntV v) { _mm512_storeu_si512(p, v); }
  static FloatV swap_pairs(FloatV v) { return _mm512_permute_ps(v, 0xB1); }
  static void split_pairs(const float *p, FloatV *even, FloatV *odd) {
    const __m512 lo = _mm512_loadu_ps(p), hi = _mm512_loadu_ps(p + 16);
    const __m512i e = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    *even = _mm512_permutex2var_ps(lo, e, hi);
    *odd = _mm512_permutex2var_ps(lo, _mm512_add_epi32(e, _mm512_set1_epi32(1)), hi);
  }
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
  // copy_out_body.hpp: one 64-byte line per store.
  static constexpr size_t kStoreBytes = 64;
  static __m512i load_bytes(const unsigned char *p) { return _mm512_loadu_si512(p); }
  static void store_bytes(unsigned char *p, __m512i v) { _mm512_store_si512(p, v); }
  static void stream_bytes(unsigned char *p, __m512i v) { _mm512_stream_si512(reinterpret_cast<__m512i *>(p), v); }
  static void stream_fence() { _mm_sfence(); }
};
