// f16 and bf16 <-> float conversion with integer vector operations, rounding to nearest even
// exactly like the scalar reference (src/common/half.hpp), lane by lane.
//
// No include guard and no namespace of its own, on purpose: each arch/ file includes it inside
// its own anonymous namespace, after defining `Arch` (an xsimd architecture), so every copy is
// compiled with that file's -m flags and none can be merged with another (see
// rope_kernel_body.hpp). Widening from and narrowing to 16-bit storage is the arch file's job.

using FloatV = xsimd::batch<float, Arch>;
using IntV = xsimd::batch<int32_t, Arch>;

inline IntV splat(int32_t v) { return IntV(v); }

// The bits of v as a batch of another lane type: a register read differently, no instruction.
// Not xsimd::bitwise_cast, which xsimd 8.1 routes on NEON through a table of per-type functions
// that GCC 12 for AArch64 leaves out of line: every cast in a hot loop was a call with its
// vectors passed through the stack, and the neon64 bf16 rotations modelled 8-15x slower than
// the f16 ones (docs/performance.md, "The neon64 bf16 rotations without calls").
template <typename To, typename From>
inline To bits_as(From v) {
  static_assert(sizeof(To) == sizeof(From), "a batch of the same width");
  return __builtin_bit_cast(To, v);
}

// h holds one binary16 per 32-bit lane (0 .. 0xffff).
inline FloatV f16_bits_to_float(IntV h) {
  const IntV sign = (h & splat(0x8000)) << 16;
  const IntV em = h & splat(0x7fff);
  const IntV normal = (em << 13) + splat(112 << 23);
  const IntV inf_nan = (em << 13) | splat(0x7f800000);
  // Subnormal half (and zero): mantissa * 2^-24 is exact in float.
  const IntV subnormal = bits_as<IntV>(xsimd::to_float(em) * FloatV(5.9604644775390625e-8f));
  // Strict comparisons with adjusted constants: SSE2 has no integer >=, which xsimd builds
  // from three instructions.
  IntV bits = xsimd::select(em > splat(0x7bff), inf_nan, normal);
  bits = xsimd::select(em < splat(0x400), subnormal, bits);
  return bits_as<FloatV>(bits | sign);
}

// One binary16 per 32-bit lane (0 .. 0xffff), rounded to nearest even.
inline IntV float_to_f16_bits(FloatV f) {
  const IntV u = bits_as<IntV>(f);
  const IntV sign = (u >> 16) & splat(0x8000);
  const IntV abs = u & splat(0x7fffffff);
  const IntV nan = splat(0x7e00) | ((abs >> 13) & splat(0x3ff));
  // Below the smallest normal half, adding 0.5f lets the FPU round at the 2^-24 spacing.
  const IntV subnormal = bits_as<IntV>(bits_as<FloatV>(abs) + FloatV(0.5f)) -
                         splat(0x3f000000);
  // Rebias the exponent (-112 << 23) and round to nearest even on the 13 dropped bits.
  const IntV normal = (abs + splat(-0x37fff001) + ((abs >> 13) & splat(1))) >> 13;
  IntV bits = xsimd::select(abs < splat(0x38800000), subnormal, normal);
  bits = xsimd::select(abs > splat(0x477fefff), splat(0x7c00), bits);  // rounds to infinity
  bits = xsimd::select(abs > splat(0x7f800000), nan, bits);
  return bits | sign;
}

inline FloatV bf16_bits_to_float(IntV h) { return bits_as<FloatV>(h << 16); }

// f rounded to bfloat16 in the high 16 bits of each lane, the low 16 bits left over (two of
// these pack into one word pair), in two steps:
//   bf16_round_high_numbers: u + 0x7fff + the kept lsb (the reference's round to nearest even),
//                            right for every lane that is not NaN;
//   bf16_quiet_nans:         NaN lanes (xsimd::isnan, an unordered compare: xsimd 8.1's `f != f`
//                            is an ordered one on AVX and AVX-512, false for NaN) replaced by
//                            u | 0x400000, whose high half is the reference's (u >> 16) | 0x40.
//                            Without it a NaN with low bits >= 0x8000 (0x7fffffff, say) would
//                            carry into the sign and come out as -0.
// The kernels skip the second step when no result of a group is NaN (see bf16_pack_words in
// bf16_words_body.hpp). An arch file may define ROTOR_ARCH_BF16_ROUND and supply both with
// the same results in fewer instructions.
#ifdef ROTOR_ARCH_BF16_ROUND
IntV bf16_round_high_numbers(FloatV f);
IntV bf16_quiet_nans(FloatV f, IntV rounded);
#else
inline IntV bf16_round_high_numbers(FloatV f) {
  using UIntV = xsimd::batch<uint32_t, Arch>;
  const UIntV u = bits_as<UIntV>(f);
  return bits_as<IntV>(u + UIntV(0x7fffu) + ((u >> 16) & UIntV(1u)));
}
inline IntV bf16_quiet_nans(FloatV f, IntV rounded) {
  const IntV quiet = bits_as<IntV>(f) | splat(0x00400000);
  return bits_as<IntV>(
      xsimd::select(xsimd::isnan(f), bits_as<FloatV>(quiet), bits_as<FloatV>(rounded)));
}
#endif

inline IntV bf16_round_high(FloatV f) { return bf16_quiet_nans(f, bf16_round_high_numbers(f)); }

// The low (even-indexed) and high (odd-indexed) bfloat16 of each 32-bit word, as floats.
inline FloatV bf16_even(IntV words) { return bits_as<FloatV>(words << 16); }
inline FloatV bf16_odd(IntV words) { return bits_as<FloatV>(words & splat(-0x10000)); }

// Words holding the low halves of `even` in their low and of `odd` in their high 16 bits.
inline IntV bf16_pack_high(IntV even, IntV odd) {
  using UIntV = xsimd::batch<uint32_t, Arch>;
  return bits_as<IntV>(bits_as<UIntV>(even) >> 16) | (odd & splat(-0x10000));
}

// Words holding round(even) in their low and round(odd) in their high 16 bits.
inline IntV bf16_pack(FloatV even, FloatV odd) { return bf16_pack_high(bf16_round_high(even), bf16_round_high(odd)); }

// One bfloat16 per 32-bit lane (0 .. 0xffff), rounded to nearest even; NaN stays quiet NaN.
// A logical shift keeps every lane in 0 .. 0xffff, so narrowing needs no masking.
inline IntV float_to_bf16_bits(FloatV f) {
  using UIntV = xsimd::batch<uint32_t, Arch>;
  return bits_as<IntV>(bits_as<UIntV>(bf16_round_high(f)) >> 16);
}
