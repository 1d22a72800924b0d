// Chooses the attention kernels to match the rotation kernels in use: the rotation dispatcher
// has already checked the CPU (and honours ROTOR_KERNEL and rotor_kernel_force), so "avx512"
// means AVX-512F + AVX2 + FMA are there, "avx2" means AVX2 + FMA. Anything else (scalar,
// sse2, 32-bit neon) uses the portable kernels.
#include <cstring>

#include "../kernels/rotate_kernel.hpp"
#include "attention_kernels.hpp"

namespace rotor {

#if defined(ROTOR_HAVE_ATTENTION_AVX512)
const AttentionKernels &avx512_attention_kernels();
#endif
#if defined(ROTOR_HAVE_ATTENTION_AVX2)
const AttentionKernels &avx2_attention_kernels();
#endif
#if defined(ROTOR_HAVE_ATTENTION_NEON64)
const AttentionKernels &neon64_attention_kernels();
#endif

const AttentionKernels &active_attention_kernels() {
  const char *rotation = active_kernels().name;
  (void)rotation;
#if defined(ROTOR_HAVE_ATTENTION_AVX512)
  if (std::strcmp(rotation, "avx512") == 0) return avx512_attention_kernels();
#endif
#if defined(ROTOR_HAVE_ATTENTION_AVX2)
  if (std::strcmp(rotation, "avx512") == 0 || std::strcmp(rotation, "avx2") == 0) return avx2_attention_kernels();
#endif
#if defined(ROTOR_HAVE_ATTENTION_NEON64)
  if (std::strcmp(rotation, "neon64") == 0) return neon64_attention_kernels();
#endif
  return portable_attention_kernels();
}

}  // namespace rotor
