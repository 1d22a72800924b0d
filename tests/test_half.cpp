// The f16 and bf16 conversions every kernel must match: exhaustive decode, and encode against
// a nearest-value search in double.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "common/half.hpp"
#include "support/reference.hpp"

namespace {

TEST(Half, F16DecodeIsExactForEveryValue) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float got = rotor::f16_to_float(uint16_t(h));
    const double want = ref::f16_value(uint16_t(h));
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << h;
    } else {
      EXPECT_EQ(double(got), want) << h;
      EXPECT_EQ(rotor::float_to_f16(got), h) << "round trip " << h;
    }
  }
}

// Nearest half to x (ties to even), by scanning the two neighbours of a double estimate.
uint16_t nearest_f16(float x) {
  if (std::isnan(x)) return 0x7e00;
  const double v = x;
  if (std::fabs(v) >= 65520.0) return v > 0 ? 0x7c00 : 0xfc00;
  uint16_t best = 0;
  double best_err = INFINITY;
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  for (uint32_t mag = 0; mag < 0x7c00; ++mag) {
    const double err = std::fabs(std::fabs(v) - ref::f16_value(uint16_t(mag)));
    if (err < best_err || (err == best_err && (mag & 1) == 0)) {
      best_err = err;
      best = uint16_t(mag);
    }
  }
  return uint16_t(sign | best);
}

TEST(Half, F16EncodeRoundsToNearestEven) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 3000; ++i) {
    uint32_t u = bits(rng);
    // Bias towards the half range: exponents near 0 (and subnormals, overflow edge).
    u = (u & 0x807fffffu) | ((100u + (u >> 23) % 45u) << 23);
    const float x = rotor::bits_float(u);
    ASSERT_EQ(rotor::float_to_f16(x), nearest_f16(x)) << x;
  }
  for (float x : {0.0f, -0.0f, 65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.98023224e-8f, 2.98023259e-8f, 6.1035156e-5f})
    EXPECT_EQ(rotor::float_to_f16(x), nearest_f16(x)) << x;
}

TEST(Half, Bf16EncodeRoundsToNearestEven) {
  std::mt19937 rng(6);
  std::uniform_int_distribution<uint32_t> bits;
  for (int i = 0; i < 100000; ++i) {
    const float x = rotor::bits_float(bits(rng));
    const uint16_t got = rotor::float_to_bf16(x);
    if (std::isnan(x)) {
      EXPECT_TRUE(std::isnan(rotor::bf16_to_float(got)));
      continue;
    }
    // The two candidates around x; the nearer wins, ties go to the even one.
    const uint32_t u = rotor::float_bits(x);
    const uint16_t down = uint16_t(u >> 16), up = uint16_t(down + 1);
    const double dd = std::fabs(double(x) - ref::bf16_value(down));
    // Rounding past the largest finite value gives infinity: measure "up" as 2^128 there.
    const bool up_is_inf = (up & 0x7fff) == 0x7f80;
    const double up_value = up_is_inf ? std::copysign(std::ldexp(1.0, 128), double(x)) : ref::bf16_value(up);
    const double du = std::fabs(double(x) - up_value);
    const uint16_t want = (u & 0xffff) == 0 ? down : dd < du ? down : du < dd ? up : ((down & 1) ? up : down);
    ASSERT_EQ(got, want) << x;
  }
}

}  // namespace
