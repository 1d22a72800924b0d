// Element decoding for tests and fuzzers: plain code written from the formats (IEEE binary16,
// bfloat16 = the top half of a float), sharing nothing with src/common/half.hpp, so a test
// that compares the library with it can fail.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "rotor/rotor.h"

namespace test_support {

inline double f16_value(uint16_t h) {
  const int exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  const double sign = (h & 0x8000) ? -1.0 : 1.0;
  if (exp == 0) return sign * std::ldexp(double(mant), -24);
  if (exp == 31) return mant ? NAN : sign * INFINITY;
  return sign * std::ldexp(double(mant + 1024), exp - 25);
}

inline double bf16_value(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline size_t element_bytes(int dtype) { return dtype == ROTOR_DTYPE_F32 ? 4 : 2; }

// Element `index` of an array of `dtype` elements at base, exactly, as a double.
inline double element_value(const void *base, int dtype, int64_t index) {
  const unsigned char *p = static_cast<const unsigned char *>(base) + index * int64_t(element_bytes(dtype));
  if (dtype == ROTOR_DTYPE_F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, p, 2);
  return dtype == ROTOR_DTYPE_F16 ? f16_value(h) : bf16_value(h);
}

}  // namespace test_support
