// AVX-512 (F) kernels: 16 floats per vector, f16 through the AVX-512 forms of F16C, bf16
// narrowed with vpmovdw.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <xsimd/xsimd.hpp>

#include "kernels/arch_kernels.hpp"

namespace rotor {
namespace arch_avx512 {
namespace {

#include "avx512_ops.hpp"
using Ops = Avx512Ops;

// A second table, rotate_half one head per pass, for AMD Zen 4 (the registry chooses).
#define ROTOR_ARCH_ONE_HEAD_HALF
#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_avx512

const RotationKernels &avx512_rotation_kernels() { return arch_avx512::kRotationKernels; }
// Declared in src/kernels/registry.cpp, its only caller (AMD Zen 4).
const RotationKernels &avx512_one_head_half_rotation_kernels() { return arch_avx512::kRotationKernelsOneHeadHalf; }

}  // namespace rotor
