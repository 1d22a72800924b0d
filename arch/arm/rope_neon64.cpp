// AArch64 Advanced SIMD kernels: NEON is part of the architecture, and so are the f16 <-> f32
// conversions (fcvtl/fcvtn, rounding to nearest even under the default FPCR).
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_neon64 {
namespace {

using Arch = xsimd::neon64;
#define ROTOR_ARCH_HAS_DOUBLE 1
#include "../common/rope_half_emulation.hpp"

struct Ops {
  // Pairs of 16-bit elements as 32-bit words (little-endian: element 2k in the low half).
  static IntV load_words(const uint16_t *p) { return vreinterpretq_s32_u16(vld1q_u16(p)); }
  static void store_words(uint16_t *p, IntV v) { vst1q_u16(p, vreinterpretq_u16_s32(v)); }
  static FloatV swap_pairs(FloatV v) { return vrev64q_f32(v); }
  static void split_pairs(const float *p, FloatV *even, FloatV *odd) {
    const float32x4_t lo = vld1q_f32(p), hi = vld1q_f32(p + 4);
    *even = vuzp1q_f32(lo, hi);
    *odd = vuzp2q_f32(lo, hi);
  }
  static FloatV dup_lo(FloatV v) { return vzip1q_f32(v, v); }
  static FloatV dup_hi(FloatV v) { return vzip2q_f32(v, v); }
  static FloatV load_f16(const uint16_t *p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }
  static void store_f16(uint16_t *p, FloatV v) { vst1_u16(p, vreinterpret_u16_f16(vcvt_f16_f32(v))); }
  static FloatV load_bf16(const uint16_t *p) {
    return bf16_bits_to_float(vreinterpretq_s32_u32(vmovl_u16(vld1_u16(p))));
  }
  static void store_bf16(uint16_t *p, FloatV v) {
    vst1_u16(p, vmovn_u32(vreinterpretq_u32_s32(float_to_bf16_bits(v))));
  }
  static void store_as_float(float *p, xsimd::batch<double, Arch> v) { vst1_f32(p, vcvt_f32_f64(v)); }
};

#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_neon64

const RotationKernels &neon64_rotation_kernels() { return arch_neon64::kRotationKernels; }

}  // namespace rotor
