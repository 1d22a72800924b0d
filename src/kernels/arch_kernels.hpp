// The SIMD kernels under arch/, each file compiled with its own -m flags (cmake/RotorArch.cmake
// defines ROTOR_HAVE_<ARCH> for the sets it built). Only the registry may reach them, and only
// after cpu_features.hpp said this CPU and OS run them.
//
// ROTOR_<ARCH>_KERNELS expands to the set's rotation and attention kernels, or to two nullptrs
// when this build lacks the set, so the registry can list every set by name in one table. A set
// that only replaces some kernels of another adds that other set's rotation kernels (the base).
#pragma once
#include "kernels/attention_kernels.hpp"
#include "kernels/rotate_kernel.hpp"

namespace rotor {

#if defined(ROTOR_HAVE_AVX512)
const RotationKernels &avx512_rotation_kernels();
const AttentionKernels &avx512_attention_kernels();
#  define ROTOR_AVX512_KERNELS &avx512_rotation_kernels(), &avx512_attention_kernels()
#else
#  define ROTOR_AVX512_KERNELS nullptr, nullptr
#endif

// AVX512_BF16: its own bf16 rotations; the rest of the set (f32, f16, row combining, attention)
// is the avx512 set's, the third value naming the set its empty entries come from.
#if defined(ROTOR_HAVE_AVX512BF16) && defined(ROTOR_HAVE_AVX512)
const RotationKernels &avx512bf16_rotation_kernels();
#  define ROTOR_AVX512BF16_KERNELS \
    &avx512bf16_rotation_kernels(), &avx512_attention_kernels(), &avx512_rotation_kernels()
#else
#  define ROTOR_AVX512BF16_KERNELS nullptr, nullptr, nullptr
#endif

#if defined(ROTOR_HAVE_AVX2)
const RotationKernels &avx2_rotation_kernels();
const AttentionKernels &avx2_attention_kernels();
#  define ROTOR_AVX2_KERNELS &avx2_rotation_kernels(), &avx2_attention_kernels()
#else
#  define ROTOR_AVX2_KERNELS nullptr, nullptr
#endif

// AMD Zen variants of the AVX-512 and AVX2 sets: the same kernels with f32 and f16 rotations
// one head per pass for passes too large to stay in cache, and straddling outputs that stay
// cached written directly (arch/common/rope_kernel_body.hpp; rotor 1.1's two heads per pass
// measured 10-15% slower on Zen 4 and up to 1.4x on Zen 3 there, issue 25). The registry's
// variants() table gives them, under the set's name, to the CPUs cpu_features says are Zen cores.
// The AVX-512 variants' attention tiles read each row's query element or weight in the
// multiply-adds (arch/common/attention_kernel_body.hpp, AttnInFma: modelled 20% fewer cycles on
// Zen 4, the same bits).
#if defined(ROTOR_HAVE_AVX512)
const RotationKernels &avx512_zen_rotation_kernels();
const AttentionKernels &avx512_zen_attention_kernels();
#  define ROTOR_AVX512_ZEN_KERNELS &avx512_zen_rotation_kernels(), &avx512_zen_attention_kernels()
#else
#  define ROTOR_AVX512_ZEN_KERNELS nullptr, nullptr
#endif
#if defined(ROTOR_HAVE_AVX512BF16) && defined(ROTOR_HAVE_AVX512)
#  define ROTOR_AVX512BF16_ZEN_KERNELS \
    &avx512bf16_rotation_kernels(), &avx512_zen_attention_kernels(), &avx512_zen_rotation_kernels()
#else
#  define ROTOR_AVX512BF16_ZEN_KERNELS nullptr, nullptr, nullptr
#endif
#if defined(ROTOR_HAVE_AVX2)
const RotationKernels &avx2_zen_rotation_kernels();
#  define ROTOR_AVX2_ZEN_KERNELS &avx2_zen_rotation_kernels(), &avx2_attention_kernels()
#else
#  define ROTOR_AVX2_ZEN_KERNELS nullptr, nullptr
#endif

// SSE2 has no fused multiply-add: its attention is the portable one.
#if defined(ROTOR_HAVE_SSE2)
const RotationKernels &sse2_rotation_kernels();
#  define ROTOR_SSE2_KERNELS &sse2_rotation_kernels(), &portable_attention_kernels()
#else
#  define ROTOR_SSE2_KERNELS nullptr, nullptr
#endif

#if defined(ROTOR_HAVE_NEON64)
const RotationKernels &neon64_rotation_kernels();
const AttentionKernels &neon64_attention_kernels();
#  define ROTOR_NEON64_KERNELS &neon64_rotation_kernels(), &neon64_attention_kernels()
#else
#  define ROTOR_NEON64_KERNELS nullptr, nullptr
#endif

// 32-bit NEON (ARMv7) has no fused multiply-add in every core: portable attention.
#if defined(ROTOR_HAVE_NEON)
const RotationKernels &neon_rotation_kernels();
#  define ROTOR_NEON_KERNELS &neon_rotation_kernels(), &portable_attention_kernels()
#else
#  define ROTOR_NEON_KERNELS nullptr, nullptr
#endif

}  // namespace rotor
