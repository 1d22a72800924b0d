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

// A second table for AMD's Zen cores (the registry chooses): rope_kernel_body.hpp says what differs.
#define ROTOR_ARCH_ZEN_VARIANT
#include "../common/rope_kernel_body.hpp"

}  // namespace
}  // namespace arch_avx512

const RotationKernels &avx512_rotation_kernels() { return arch_avx512::kRotationKernels; }
// Declared in src/kernels/arch_kernels.hpp; the registry gives it to AMD's Zen cores.
const RotationKernels &avx512_zen_rotation_kernels() { return arch_avx512::kRotationKernelsZen; }

}  // namespace rotor
