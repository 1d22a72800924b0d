// Attention kernels for AVX-512F: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <xsimd/xsimd.hpp>

#include "attention/attention_kernels.hpp"

namespace rotor {
namespace arch_attention_avx512 {
namespace {

using Arch = xsimd::avx512f;
constexpr const char *kArchName = "avx512";
#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_avx512

const AttentionKernels &avx512_attention_kernels() { return arch_attention_avx512::kAttentionKernelSet; }

}  // namespace rotor
