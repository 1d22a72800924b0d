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
  // AMD family 17h or later: the Zen cores (Zen 1-2 are 17h, Zen 3-4 19h, Zen 5 1Ah). A tuning
  // fact, not a feature: the registry gives them the variants of their sets that measured
  // faster on Zen 3 and Zen 4 (registry.cpp; the other Zen generations are not measured and
  // take the same variants, which are rotor 1.0's loops).
  bool amd_zen = false;
};

CpuFeatures detect_cpu_features();

}  // namespace rotor
