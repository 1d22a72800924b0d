// What the running CPU and OS support, detected once without any -m flag (this code must run
// on every CPU the library may be loaded on).
#pragma once

namespace rotor {

struct CpuFeatures {
  bool sse2 = false;
  bool avx2 = false;    // AVX2 + FMA3 + F16C, with the OS saving YMM state (XGETBV)
  bool avx512 = false;  // the above + AVX-512F, with the OS saving ZMM and opmask state
  bool avx512bf16 = false;  // the above + AVX-512BW, AVX-512VL and AVX512_BF16
  bool neon = false;    // ARMv7 NEON (HWCAP)
  bool neon64 = false;  // AArch64 Advanced SIMD (always present)
  // AMD family 19h with AVX-512F: Zen 4 (512-bit operations in two 256-bit halves; Zen 3, the
  // same family, has no AVX-512). A tuning fact, not a feature: the registry gives it the
  // variants its sets measured faster with (registry.cpp).
  bool amd_zen4 = false;
};

CpuFeatures detect_cpu_features();

}  // namespace rotor
