// Attention kernels for AArch64 Advanced SIMD: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "kernels/attention_kernels.hpp"

namespace rotor {
namespace arch_attention_neon64 {
namespace {

using Arch = xsimd::neon64;
float attn_hsum(xsimd::batch<float, Arch> v) { return xsimd::hadd(v); }
#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_neon64

const AttentionKernels &neon64_attention_kernels() { return arch_attention_neon64::kAttentionKernelSet; }

}  // namespace rotor
