// Attention kernels for AArch64 Advanced SIMD: the shared xsimd body instantiated for this
// architecture, compiled with this file's flags only.
#include <arm_neon.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>
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
// Quantized caches' numbers as floats. Four vectors (16 bytes) are one load and two steps of
// widening (8 to 16 to 32 bits) shared by the halves; a Q4_0 nibble is shifted down, masked and
// offset by -8 while still in bytes. Fewer vectors go 4 bytes at a time. (Written into `out`
// directly: with GCC 12, going through float32x4x4_t made the value tiles keep a stack copy of
// every accumulator.)
void attn_widen_int8x16(int8x16_t b, xsimd::batch<float, Arch> *out, uint32_t vectors) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(b)), hi = vmovl_high_s8(b);
  out[0] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo)));
  if (vectors == 1) return;
  out[1] = vcvtq_f32_s32(vmovl_high_s16(lo));
  out[2] = vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi)));
  out[3] = vcvtq_f32_s32(vmovl_high_s16(hi));
}
int8x16_t attn_nibbles_minus_8(uint8x16_t bytes, uint32_t shift) {
  const uint8x16_t nibbles = vandq_u8(vshlq_u8(bytes, vdupq_n_s8(int8_t(-int32_t(shift)))), vdupq_n_u8(15));
  return vsubq_s8(vreinterpretq_s8_u8(nibbles), vdupq_n_s8(8));
}
uint8x16_t attn_load_4_bytes(const void *p) {
  uint32_t word;
  std::memcpy(&word, p, sizeof word);
  return vreinterpretq_u8_u32(vdupq_n_u32(word));
}
template <uint32_t V>
void attn_load_q8_run(const int8_t *p, xsimd::batch<float, Arch> *out) {
  if constexpr (V == 4)
    attn_widen_int8x16(vld1q_s8(p), out, 4);
  else
    for (uint32_t v = 0; v < V; ++v) attn_widen_int8x16(vreinterpretq_s8_u8(attn_load_4_bytes(p + 4 * v)), out + v, 1);
}
template <uint32_t V>
void attn_load_q4_run(const uint8_t *p, uint32_t shift, xsimd::batch<float, Arch> *out) {
  if constexpr (V == 4)
    attn_widen_int8x16(attn_nibbles_minus_8(vld1q_u8(p), shift), out, 4);
  else
    for (uint32_t v = 0; v < V; ++v)
      attn_widen_int8x16(attn_nibbles_minus_8(attn_load_4_bytes(p + 4 * v), shift), out + v, 1);
}
// An empty asm that takes the 4 widened key vectors of a Q4_0 score tile's step and gives them
// back, so that every multiply-add of the step comes after all 4 are widened. Without it, GCC's
// weighted scheduling-pressure model (cmake/RotorArch.cmake) interleaves the Q4_0 widening with
// the multiply-adds in fewer registers, which the in-order cores wait on: the 4-row q4_0 score
// tile 57 -> 63 cycles per 64 multiply-adds on a Cortex-A55, 87 -> 105 on an A53 (llvm-mca);
// with it 57 and 88. No instruction is emitted. (A tile of fewer key vectors, a short block's
// last, is left as it is.)
template <uint32_t V>
void attn_widened_first(xsimd::batch<float, Arch> *k) {
  if constexpr (V == 4) {
    float32x4_t a = k[0], b = k[1], c = k[2], e = k[3];
    asm("" : "+w"(a), "+w"(b), "+w"(c), "+w"(e));
    k[0] = a, k[1] = b, k[2] = c, k[3] = e;
  }
}
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
