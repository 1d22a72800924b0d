// AVX512_BF16 kernels: the bf16 rotations of the avx512 set with the rounding to bfloat16 done
// by vcvtne2ps2bf16 / vcvtneps2bf16 instead of integer operations. The registry takes this
// set's f32 and f16 kernels, row combining and attention from the avx512 set (no second copy).
//
// The instructions compute the reference's rounding (nearest even via 0x7fff + lsb) and NaN
// result ((u >> 16) | 0x40) except on one class of input: nonzero subnormal floats, which they
// flush to a signed zero whatever MXCSR says (a normal float never rounds to a bfloat16
// subnormal, so flushed outputs come only from such inputs). Every group of results whose
// narrowed form holds a zero is therefore checked for subnormal lanes, and a group that has any
// is rounded again by the integer code: the output is the reference's, bit for bit.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_avx512bf16 {
namespace {

#include "avx512_ops.hpp"

// Lanes of v holding a nonzero subnormal. Doubling drops the sign; subtracting 2 sends zero to
// the top of the unsigned range, so one unsigned compare is left.
__mmask16 subnormal_lanes(FloatV v) {
  const __m512i u = _mm512_castps_si512(v);
  return _mm512_cmplt_epu32_mask(_mm512_sub_epi32(_mm512_add_epi32(u, u), _mm512_set1_epi32(2)),
                                 _mm512_set1_epi32(0x00fffffe));
}

// A zero magnitude among narrowed results is the cheap screen (one test per 32 results): it
// is rare in real data, and the exact subnormal test runs only behind it.
__mmask32 zero_results(__m512i narrowed) { return _mm512_testn_epi16_mask(narrowed, _mm512_set1_epi16(0x7fff)); }

struct Ops : Avx512Ops {
  static void store_bf16(uint16_t *p, FloatV v) {
    const __m256i narrowed = (__m256i)_mm512_cvtneps_pbh(v);
    if (_mm256_testn_epi16_mask(narrowed, _mm256_set1_epi16(0x7fff)) != 0 && subnormal_lanes(v) != 0)
      Avx512Ops::store_bf16(p, v);
    else
      _mm256_storeu_si256(reinterpret_cast<__m256i *>(p), narrowed);
  }
};

#define ROTOR_ARCH_BF16_PACK 1
#include "../common/rotate_body.hpp"
#include "../common/bf16_words_body.hpp"

// vcvtne2ps2bf16 packs [all of even | all of odd]; the kernels keep word pairs (even in the
// low, odd in the high half of each 32-bit lane), so one vpermw interleaves the halves: word k
// takes 16-bit elements k and 16 + k.
__m512i interleave_halves(__m512i packed) {
  const __m512i index = _mm512_setr_epi32(0x00100000, 0x00110001, 0x00120002, 0x00130003, 0x00140004, 0x00150005,
                                          0x00160006, 0x00170007, 0x00180008, 0x00190009, 0x001a000a, 0x001b000b,
                                          0x001c000c, 0x001d000d, 0x001e000e, 0x001f000f);
  return _mm512_permutexvar_epi16(index, packed);
}

inline IntV bf16_pack_word(FloatV even, FloatV odd) {
  const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(odd, even);
  if (zero_results(packed) != 0 && (subnormal_lanes(even) | subnormal_lanes(odd)) != 0)
    return bf16_pack_word_integer(even, odd);
  return interleave_halves(packed);
}

inline void bf16_pack_words(FloatV e0, FloatV o0, FloatV e1, FloatV o1, IntV *w0, IntV *w1) {
  const __m512i p0 = (__m512i)_mm512_cvtne2ps_pbh(o0, e0), p1 = (__m512i)_mm512_cvtne2ps_pbh(o1, e1);
  // kortest, not two mask moves to general registers: those would take port 0 from the multiplies.
  if (!_kortestz_mask32_u8(zero_results(p0), zero_results(p1)) &&
      (subnormal_lanes(e0) | subnormal_lanes(o0) | subnormal_lanes(e1) | subnormal_lanes(o1)) != 0) {
    bf16_pack_words_integer(e0, o0, e1, o1, w0, w1);
    return;
  }
  *w0 = interleave_halves(p0);
  *w1 = interleave_halves(p1);
}

// Only the bf16 entries: the registry fills the rest from the avx512 set.
const RotationKernels kRotationKernels = {
    {{nullptr, nullptr}, {nullptr, nullptr}, {rotate_half_bf16, rotate_interleaved_bf16}},
    nullptr,
};

}  // namespace
}  // namespace arch_avx512bf16

const RotationKernels &avx512bf16_rotation_kernels() { return arch_avx512bf16::kRotationKernels; }

}  // namespace rotor
