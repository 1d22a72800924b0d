#include "kernels/cpu_features.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

#include <cstdint>
#elif defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace rotor {

#if defined(__x86_64__) || defined(__i386__)
namespace {

// XCR0: which register states the OS saves on a context switch. CPUID alone says what the
// CPU has; using AVX registers the OS does not save corrupts them (or faults).
uint64_t read_xcr0() {
  uint32_t lo = 0, hi = 0;
  __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (uint64_t{hi} << 32) | lo;
}

}  // namespace

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return f;
  f.sse2 = (edx >> 26) & 1u;
  const bool fma = (ecx >> 12) & 1u, osxsave = (ecx >> 27) & 1u, avx = (ecx >> 28) & 1u,
             f16c = (ecx >> 29) & 1u;
  if (!osxsave || !avx) return f;
  const uint64_t xcr0 = read_xcr0();
  const bool ymm_state = (xcr0 & 0x6u) == 0x6u;     // XMM and YMM
  const bool zmm_state = (xcr0 & 0xe6u) == 0xe6u;   // + opmask, ZMM0-15 high halves, ZMM16-31
  unsigned eax7 = 0, ebx7 = 0, ecx7 = 0, edx7 = 0;
  if (!__get_cpuid_count(7, 0, &eax7, &ebx7, &ecx7, &edx7)) return f;
  const bool avx2 = (ebx7 >> 5) & 1u, avx512f = (ebx7 >> 16) & 1u;
  f.avx2 = ymm_state && avx2 && fma && f16c;
  f.avx512 = f.avx2 && zmm_state && avx512f;
  // AVX512_BF16 is in sub-leaf 1, which only CPUs reporting it (EAX of sub-leaf 0) define.
  const bool avx512bw = (ebx7 >> 30) & 1u, avx512vl = (ebx7 >> 31) & 1u;
  unsigned eax71 = 0, ebx71 = 0, ecx71 = 0, edx71 = 0;
  if (f.avx512 && avx512bw && avx512vl && eax7 >= 1 && __get_cpuid_count(7, 1, &eax71, &ebx71, &ecx71, &edx71))
    f.avx512bf16 = (eax71 >> 5) & 1u;
  // Vendor from leaf 0 ("AuthenticAMD" in EBX, EDX, ECX); family from leaf 1's EAX: the base
  // family, plus the extended family when the base is 0xf.
  unsigned max_leaf = 0, vendor_b = 0, vendor_c = 0, vendor_d = 0;
  __get_cpuid(0, &max_leaf, &vendor_b, &vendor_c, &vendor_d);
  const bool amd = vendor_b == 0x68747541u && vendor_d == 0x69746e65u && vendor_c == 0x444d4163u;
  const unsigned base_family = (eax >> 8) & 0xfu;
  const unsigned family = base_family == 0xfu ? base_family + ((eax >> 20) & 0xffu) : base_family;
  f.amd_zen = amd && family >= 0x17u;
  return f;
}

#elif defined(__aarch64__)

CpuFeatures detect_cpu_features() {
  CpuFeatures f;
  f.neon64 = true;  // Advanced SIMD (with f16 conversion) is mandatory in AArch64
  return f;
}

#elif defined(__arm__) && defined(__linux__)

CpuFeatures detect_cpu_features() {
  constexpr unsigned long kHwcapNeon = 1ul << 12;  // HWCAP_NEON in <asm/hwcap.h>
  CpuFeatures f;
  f.neon = (getauxval(AT_HWCAP) & kHwcapNeon) != 0;
  return f;
}

#else

CpuFeatures detect_cpu_features() { return CpuFeatures{}; }

#endif

}  // namespace rotor
