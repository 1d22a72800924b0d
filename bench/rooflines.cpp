#include "rooflines.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>

namespace bench {

// The widest vector unit the CPU has, chosen at load time, so the roofline is not held back
// by the baseline (SSE2) the rest of the program is compiled for.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
void rmw_pass(void *p, size_t bytes) {
  uint32_t *w = static_cast<uint32_t *>(p);
  const size_t n = bytes / 4;
  for (size_t i = 0; i < n; ++i) w[i] ^= 0x00010001u;
}

double rmw_seconds(void *p, size_t bytes, int threads, int passes) {
  using clock = std::chrono::steady_clock;
  rmw_pass(p, bytes);  // warm (page in, caches as the kernel finds them)
  const auto start = clock::now();
  if (threads <= 1) {
    for (int i = 0; i < passes; ++i) rmw_pass(p, bytes);
  } else {
    // Two threads created once, each rewriting its half `passes` times.
    const size_t half = bytes / 8 * 4;
    unsigned char *base = static_cast<unsigned char *>(p);
    std::thread other([&] {
      for (int i = 0; i < passes; ++i) rmw_pass(base + half, bytes - half);
    });
    for (int i = 0; i < passes; ++i) rmw_pass(base, half);
    other.join();
  }
  return std::chrono::duration<double>(clock::now() - start).count() / passes;
}

double memcpy_seconds(void *dst, const void *src, size_t bytes, int passes) {
  using clock = std::chrono::steady_clock;
  std::memcpy(dst, src, bytes);
  const auto start = clock::now();
  for (int i = 0; i < passes; ++i) {
    std::memcpy(dst, src, bytes);
    __asm__ __volatile__("" : : "r"(dst) : "memory");  // keep every copy
  }
  return std::chrono::duration<double>(clock::now() - start).count() / passes;
}

}  // namespace bench
