// Conversions between the element types of tensors and caches, through float (f16 and bf16
// round to nearest even once, exactly like the rotation kernels' stores).
#pragma once
#include <cstdint>
#include <cstring>

#include "common/half.hpp"
#include "rotor/rotor.h"

namespace rotor {

inline float load_element(const void *base, rotor_dtype dtype, uint64_t i) {
  if (dtype == ROTOR_DTYPE_F32) return static_cast<const float *>(base)[i];
  const uint16_t h = static_cast<const uint16_t *>(base)[i];
  return dtype == ROTOR_DTYPE_F16 ? f16_to_float(h) : bf16_to_float(h);
}

// count elements of `from` (dtype from_type) to float.
inline void to_float(const void *from, rotor_dtype from_type, uint32_t count, float *to) {
  if (from_type == ROTOR_DTYPE_F32) {
    std::memcpy(to, from, size_t{count} * sizeof(float));
    return;
  }
  const uint16_t *h = static_cast<const uint16_t *>(from);
  if (from_type == ROTOR_DTYPE_F16)
    for (uint32_t i = 0; i < count; ++i) to[i] = f16_to_float(h[i]);
  else
    for (uint32_t i = 0; i < count; ++i) to[i] = bf16_to_float(h[i]);
}

// count floats to dtype to_type.
inline void from_float(const float *from, uint32_t count, void *to, rotor_dtype to_type) {
  if (to_type == ROTOR_DTYPE_F32) {
    std::memcpy(to, from, size_t{count} * sizeof(float));
    return;
  }
  uint16_t *h = static_cast<uint16_t *>(to);
  if (to_type == ROTOR_DTYPE_F16)
    for (uint32_t i = 0; i < count; ++i) h[i] = float_to_f16(from[i]);
  else
    for (uint32_t i = 0; i < count; ++i) h[i] = float_to_bf16(from[i]);
}

// count elements from one dtype to another (a copy when they are the same).
inline void convert_elements(const void *from, rotor_dtype from_type, uint32_t count, void *to,
                             rotor_dtype to_type) {
  if (from_type == to_type) {
    std::memcpy(to, from, size_t{count} * (from_type == ROTOR_DTYPE_F32 ? 4 : 2));
    return;
  }
  for (uint32_t i = 0; i < count; ++i) {
    const float x = load_element(from, from_type, i);
    if (to_type == ROTOR_DTYPE_F32)
      static_cast<float *>(to)[i] = x;
    else
      static_cast<uint16_t *>(to)[i] = to_type == ROTOR_DTYPE_F16 ? float_to_f16(x) : float_to_bf16(x);
  }
}

}  // namespace rotor
