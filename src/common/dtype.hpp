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

// The storage types of a KV cache: a tensor's, or a block quantization (cache storage only).
inline bool valid_cache_dtype(int dtype) {
  return valid_dtype(dtype) || dtype == ROTOR_DTYPE_Q8_0 || dtype == ROTOR_DTYPE_Q4_0;
}
inline bool dtype_is_quantized(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_Q8_0 || dtype == ROTOR_DTYPE_Q4_0; }

// Bytes of one element of a valid tensor dtype (quantized types have no element size: their
// sizes are common/quant_blocks.hpp's).
inline size_t dtype_size(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_F32 ? 4 : 2; }

}  // namespace rotor
