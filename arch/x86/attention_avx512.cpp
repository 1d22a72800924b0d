// Attention kernels for AVX-512F: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <immintrin.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "kernels/attention_kernels.hpp"

namespace rotor {
namespace arch_attention_avx512 {
namespace {

using Arch = xsimd::avx512f;
// xsimd 8.1's hadd for avx512f uses an AVX-512DQ extract, and GCC 12's AVX-512F extract
// intrinsics trip -Wuninitialized inside its own header: fold the halves with vector extensions.
using V16 = float __attribute__((vector_size(64)));
using V8 = float __attribute__((vector_size(32)));
using V4 = float __attribute__((vector_size(16)));
float attn_hsum(xsimd::batch<float, Arch> v) {
  const V16 x = static_cast<V16>(static_cast<__m512>(v));
  const V8 s8 = __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7) +
                __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15);
  const V4 s4 = __builtin_shufflevector(s8, s8, 0, 1, 2, 3) + __builtin_shufflevector(s8, s8, 4, 5, 6, 7);
  return (s4[0] + s4[2]) + (s4[1] + s4[3]);
}
#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx512

const AttentionKernels &avx512_attention_kernels() { return arch_attention_avx512::kAttentionKernelSet; }

}  // namespace rotor
