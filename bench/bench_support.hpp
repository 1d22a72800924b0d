// Small things every benchmark program needs (element sizes and names, which FMA loop the
// active kernel set is compared with): one definition for rotor_bench, rotor_bench_attention and
// rotor_bench_attention_kernels.
#pragma once
#include <cstddef>
#include <string>

#include "rotor/rotor.h"

namespace bench {

inline size_t dtype_bytes(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_F32 ? 4 : 2; }

inline const char *dtype_name(rotor_dtype dtype) {
  return dtype == ROTOR_DTYPE_F32 ? "f32"
         : dtype == ROTOR_DTYPE_F16 ? "f16"
         : dtype == ROTOR_DTYPE_Q8_0 ? "q8_0"
         : dtype == ROTOR_DTYPE_Q4_0 ? "q4_0"
                                     : "bf16";
}

// The vector width of kernel set `name`, the width of the FMA loop that is its peak
// (fma_peak_gflops); 0 for sets without an FMA loop (SSE2, NEON, scalar).
inline int vector_bits_of(const std::string &name) {
  return name == "avx512" || name == "avx512bf16" ? 512 : name == "avx2" ? 256 : 0;
}

// The same for the active kernel set of the library this program links.
inline int kernel_vector_bits() { return vector_bits_of(rotor_kernel_name()); }

}  // namespace bench
