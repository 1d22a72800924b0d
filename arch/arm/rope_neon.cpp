// ARMv7 NEON kernels. Plain `neon` has no f16 conversion instructions (that is neon-fp16) and
// xsimd 8.1 has no double batches on it, so f16 uses the integer emulation and table rows the
// scalar loop. ARMv7 NEON flushes subnormal floats to zero: results differ from the scalar
// reference only when an input, a product or a result is below 2^-126.
#include <arm_neon.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_neon {
namespace {

using Arch = xsimd::neon;
#define ROTOR_ARCH_HAS_DOUBLE 0
#include "../common/rope_half_emulation.hpp"

struct Ops {
  // Pairs of 16-bit elements as 32-bit words (little-endian: element 2k in the low half).
  static IntV load_words(const uint16_t *p) { return vreinterpretq_s32_u16(vld1q_u16(p)); }
  static void store_words(uint16_t *p, IntV v) { vst1q_u16(p, vreinterpretq_u16_s32(v)); }
  static FloatV swap_pairs(FloatV v) { return vrev64q_f32(v); }
  static void split_pairs(const float *p, FloatV *even, FloatV *odd) {
    const float32x4x2_t v = vld2q_f32(p);  // de-interleaving load
    *even = v.val[0];
    *odd = v.val[1];
  }
  static FloatV dup_lo(FloatV v) { return vzipq_f32(v, v).val[0]; }
  static FloatV dup_hi(FloatV v) { return vzipq_f32(v, v).val[1]; }
  static IntV widen(const uint16_t *p) { return vreinterpretq_s32_u32(vmovl_u16(vld1_u16(p))); }
  static void narrow(uint16_t *p, IntV v) { vst1_u16(p, vmovn_u32(vreinterpretq_u32_s32(v))); }
  static FloatV load_f16(const uint16_t *p) { return f16_bits_to_float(widen(p)); }
  static void store_f16(uint16_t *p, FloatV v) { narrow(p, float_to_f16_bits(v)); }
  static FloatV load_bf16(const uint16_t *p) { return bf16_bits_to_float(widen(p)); }
  static void store_bf16(uint16_t *p, FloatV v) { narrow(p, float_to_bf16_bits(v)); }
};

#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_neon

const RotationKernels &neon_rotation_kernels() { return arch_neon::kRotationKernels; }

}  // namespace rotor
