// Attention kernels for AArch64 Advanced SIMD: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <arm_neon.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/attention_kernels.hpp"
#include "rotor/rotor.h"  // before the body, which includes common/quant_blocks.hpp in its own namespace

namespace rotor {
namespace arch_attention_neon64 {
namespace {

using Arch = xsimd::neon64;
float attn_hsum(xsimd::batch<float, Arch> v) { return xsimd::hadd(v); }
#include "../common/attention_lanes.hpp"
float attn_hmax(xsimd::batch<float, Arch> v) { return lanewise_hmax(v); }
// f16 with the hardware conversion (exact; a NaN stays a NaN), bf16 by moving its bits to the
// top half.
xsimd::batch<float, Arch> attn_load_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
void attn_store_f16(uint16_t *p, xsimd::batch<float, Arch> v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
xsimd::batch<float, Arch> attn_load_bf16(const uint16_t *p) { return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16(p), 16)); }
using AttnFmaV = xsimd::batch<float, Arch>;
AttnFmaV attn_fma(AttnFmaV a, AttnFmaV b, AttnFmaV c) {
  return vfmaq_f32(c, a, b);
}
constexpr uint32_t kAttnRegisters = 32;

#include "../common/attention_kernel_body.hpp"

}  // namespace
}  // namespace arch_attention_neon64

const AttentionKernels &neon64_attention_kernels() { return arch_attention_neon64::kAttentionKernelSet; }

}  // namespace rotor
