// f16 and bf16 <-> float conversion with integer vector operations, rounding to nearest even
// exactly like the scalar reference (src/half.hpp), lane by lane.
//
// No include guard and no namespace of its own, on purpose: each arch/ file includes it inside
// its own anonymous namespace, after defining `Arch` (an xsimd architecture), so every copy is
// compiled with that file's -m flags and none can be merged with another (see
// rope_kernel_body.hpp). Widening from and narrowing to 16-bit storage is the arch file's job.

using FloatV = xsimd::batch<float, Arch>;
using IntV = xsimd::batch<int32_t, Arch>;

inline IntV splat(int32_t v) { return IntV(v); }

// h holds one binary16 per 32-bit lane (0 .. 0xffff).
inline FloatV f16_bits_to_float(IntV h) {
  const IntV sign = (h & splat(0x8000)) << 16;
  const IntV em = h & splat(0x7fff);
  const IntV normal = (em << 13) + splat(112 << 23);
  const IntV inf_nan = (em << 13) | splat(0x7f800000);
  // Subnormal half (and zero): mantissa * 2^-24 is exact in float.
  const IntV subnormal = xsimd::bitwise_cast<IntV>(xsimd::to_float(em) * FloatV(5.9604644775390625e-8f));
  IntV bits = xsimd::select(em >= splat(0x7c00), inf_nan, normal);
  bits = xsimd::select(em < splat(0x400), subnormal, bits);
  return xsimd::bitwise_cast<FloatV>(bits | sign);
}

// One binary16 per 32-bit lane (0 .. 0xffff), rounded to nearest even.
inline IntV float_to_f16_bits(FloatV f) {
  const IntV u = xsimd::bitwise_cast<IntV>(f);
  const IntV sign = (u >> 16) & splat(0x8000);
  const IntV abs = u & splat(0x7fffffff);
  const IntV nan = splat(0x7e00) | ((abs >> 13) & splat(0x3ff));
  // Below the smallest normal half, adding 0.5f lets the FPU round at the 2^-24 spacing.
  const IntV subnormal = xsimd::bitwise_cast<IntV>(xsimd::bitwise_cast<FloatV>(abs) + FloatV(0.5f)) -
                         splat(0x3f000000);
  // Rebias the exponent (-112 << 23) and round to nearest even on the 13 dropped bits.
  const IntV normal = (abs + splat(-0x37fff001) + ((abs >> 13) & splat(1))) >> 13;
  IntV bits = xsimd::select(abs < splat(0x38800000), subnormal, normal);
  bits = xsimd::select(abs >= splat(0x477ff000), splat(0x7c00), bits);
  bits = xsimd::select(abs > splat(0x7f800000), nan, bits);
  return bits | sign;
}

inline FloatV bf16_bits_to_float(IntV h) { return xsimd::bitwise_cast<FloatV>(h << 16); }

// f rounded to bfloat16 (nearest even; NaN made quiet, as src/half.hpp does) in the high 16
// bits of each lane; the low 16 bits are left over. Two of these pack into one word pair.
inline IntV bf16_round_high(FloatV f) {
  using UIntV = xsimd::batch<uint32_t, Arch>;
  const UIntV u = xsimd::bitwise_cast<UIntV>(f);
  const UIntV rounded = u + UIntV(0x7fffu) + ((u >> 16) & UIntV(1u));
  const IntV nan_lanes = xsimd::bitwise_cast<IntV>(u) & splat(0x7fffffff);
  return xsimd::select(nan_lanes > splat(0x7f800000), xsimd::bitwise_cast<IntV>(u | UIntV(0x00400000u)),
                       xsimd::bitwise_cast<IntV>(rounded));
}

// The low (even-indexed) and high (odd-indexed) bfloat16 of each 32-bit word, as floats.
inline FloatV bf16_even(IntV words) { return xsimd::bitwise_cast<FloatV>(words << 16); }
inline FloatV bf16_odd(IntV words) { return xsimd::bitwise_cast<FloatV>(words & splat(-0x10000)); }

// Words holding round(even) in their low and round(odd) in their high 16 bits.
inline IntV bf16_pack(FloatV even, FloatV odd) {
  using UIntV = xsimd::batch<uint32_t, Arch>;
  const UIntV low = xsimd::bitwise_cast<UIntV>(bf16_round_high(even)) >> 16;
  return xsimd::bitwise_cast<IntV>(low) | (bf16_round_high(odd) & splat(-0x10000));
}

// One bfloat16 per 32-bit lane (0 .. 0xffff), rounded to nearest even; NaN stays quiet NaN.
// Logical shifts keep every lane in 0 .. 0xffff, so narrowing needs no masking.
inline IntV float_to_bf16_bits(FloatV f) {
  using UIntV = xsimd::batch<uint32_t, Arch>;
  const UIntV u = xsimd::bitwise_cast<UIntV>(f);
  const UIntV high = u >> 16;
  const UIntV rounded = (u + UIntV(0x7fffu) + (high & UIntV(1u))) >> 16;
  const IntV nan_lanes = xsimd::bitwise_cast<IntV>(u) & splat(0x7fffffff);
  return xsimd::select(nan_lanes > splat(0x7f800000), xsimd::bitwise_cast<IntV>(high | UIntV(0x40u)),
                       xsimd::bitwise_cast<IntV>(rounded));
}
