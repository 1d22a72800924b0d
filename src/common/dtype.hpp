// Element types of the C interface: which values are valid and how many bytes each takes.
// In common/ because tables (cos/sin output), tensor views and KV caches all need them.
#pragma once
#include <cstddef>

#include "rotor/rotor.h"

namespace rotor {

// A C caller may pass any int as a rotor_dtype: check the int (common/enum_bits.hpp reads it).
inline bool valid_dtype(int dtype) {
  return dtype == ROTOR_DTYPE_F32 || dtype == ROTOR_DTYPE_F16 || dtype == ROTOR_DTYPE_BF16;
}

// Bytes of one element of a valid dtype.
inline size_t dtype_size(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_F32 ? 4 : 2; }

}  // namespace rotor
