#include "rooflines.hpp"

#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <time.h>
#if defined(__x86_64__)
#  include <immintrin.h>
#endif

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

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
float read_pass(const float *p, size_t n) {
  float lane[16] = {};
  for (size_t i = 0; i + 16 <= n; i += 16)
    for (int l = 0; l < 16; ++l) lane[l] += p[i + l];
  float sum = 0.0f;
  for (float x : lane) sum += x;
  return sum;
}

double read_seconds(const void *const *p, size_t ranges, size_t bytes, int passes, int threads) {
  using clock = std::chrono::steady_clock;
  const size_t floats = bytes / 4, half = threads > 1 ? floats / 2 : floats;
  // Floats [first, first + count) of every range, `passes` times (after one warming pass).
  auto read_part = [&](size_t first, size_t count, int times) {
    volatile float sink = 0.0f;
    for (int i = 0; i < times; ++i)
      for (size_t r = 0; r < ranges; ++r) sink = sink + read_pass(static_cast<const float *>(p[r]) + first, count);
  };
  read_part(0, floats, 1);
  const auto start = clock::now();
  if (threads <= 1) {
    read_part(0, floats, passes);
  } else {
    std::thread other([&] { read_part(half, floats - half, passes); });
    read_part(0, half, passes);
    other.join();
  }
  return std::chrono::duration<double>(clock::now() - start).count() / passes;
}

namespace {

double thread_seconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

constexpr long kFmaIterations = 4000000;

#if defined(__x86_64__) && defined(__GNUC__)
// 12 chains cover the FMA latency (4 cycles) at two FMAs per cycle with room to spare.
__attribute__((target("avx512f"))) double fma_rate_512() {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + float(i) * 1e-3f);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  const double start = thread_seconds();
  for (long i = 0; i < kFmaIterations; ++i) {
#  pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) a[j] = _mm512_fmadd_ps(a[j], m, c);
  }
  const double seconds = thread_seconds() - start;
  float keep = 0.0f;
  alignas(64) float lanes[16];
  for (int i = 0; i < 12; ++i) {
    _mm512_store_ps(lanes, a[i]);  // not _mm512_reduce_add_ps: GCC 12's header trips -Wuninitialized
    keep += lanes[0];
  }
  __asm__ __volatile__("" : : "x"(keep));
  return double(kFmaIterations) * 12 * 32 / seconds * 1e-9;
}

__attribute__((target("avx2,fma"))) double fma_rate_256() {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + float(i) * 1e-3f);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  const double start = thread_seconds();
  for (long i = 0; i < kFmaIterations; ++i) {
#  pragma GCC unroll 12
    for (int j = 0; j < 12; ++j) a[j] = _mm256_fmadd_ps(a[j], m, c);
  }
  const double seconds = thread_seconds() - start;
  float keep = 0.0f;
  for (int i = 0; i < 12; ++i) keep += _mm256_cvtss_f32(a[i]);
  __asm__ __volatile__("" : : "x"(keep));
  return double(kFmaIterations) * 12 * 16 / seconds * 1e-9;
}
#endif

double fma_rate(int vector_bits) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (vector_bits == 512 && __builtin_cpu_supports("avx512f")) return fma_rate_512();
  if (vector_bits == 256 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return fma_rate_256();
#endif
  (void)vector_bits;
  return 0.0;
}

constexpr uint32_t kConvertElements = 32 * 128;
constexpr long kConvertPasses = 40000;

#if defined(__x86_64__) && defined(__GNUC__)
// GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves, which
// -Wuninitialized reports inside the compiler's own header (docs/reliability.md).
#  pragma GCC diagnostic push
#  pragma GCC diagnostic ignored "-Wuninitialized"
#  pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
__attribute__((target("avx512f,f16c"))) double f16_convert_rate(uint16_t *p) {
  const double start = thread_seconds();
  for (long pass = 0; pass < kConvertPasses; ++pass) {
    for (uint32_t i = 0; i < kConvertElements; i += 16) {
      __m256i *at = reinterpret_cast<__m256i *>(p + i);
      _mm256_storeu_si256(at, _mm512_cvtps_ph(_mm512_cvtph_ps(_mm256_loadu_si256(at)), _MM_FROUND_TO_NEAREST_INT));
    }
    __asm__ __volatile__("" : : "r"(p) : "memory");
  }
  return double(kConvertPasses) * kConvertElements / (thread_seconds() - start) * 1e-9;
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) double bf16_convert_rate(uint16_t *p) {
  // Word k of the narrowed vector takes 16-bit elements k (even) and 16 + k (odd).
  const __m512i order = _mm512_setr_epi32(0x00100000, 0x00110001, 0x00120002, 0x00130003, 0x00140004, 0x00150005,
                                          0x00160006, 0x00170007, 0x00180008, 0x00190009, 0x001a000a, 0x001b000b,
                                          0x001c000c, 0x001d000d, 0x001e000e, 0x001f000f);
  const double start = thread_seconds();
  for (long pass = 0; pass < kConvertPasses; ++pass) {
    for (uint32_t i = 0; i < kConvertElements; i += 32) {
      const __m512i w = _mm512_loadu_si512(p + i);
      const __m512 even = _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
      const __m512 odd = _mm512_castsi512_ps(_mm512_and_si512(w, _mm512_set1_epi32(-0x10000)));
      _mm512_storeu_si512(p + i, _mm512_permutexvar_epi16(order, (__m512i)_mm512_cvtne2ps_pbh(odd, even)));
    }
    __asm__ __volatile__("" : : "r"(p) : "memory");
  }
  return double(kConvertPasses) * kConvertElements / (thread_seconds() - start) * 1e-9;
}
#  pragma GCC diagnostic pop
#endif

// Finite values of both formats (0x3c00 + k: f16 1.0 + k ulp; bf16 around 0.0117).
std::vector<uint16_t> convert_buffer() {
  std::vector<uint16_t> v(kConvertElements);
  for (uint32_t i = 0; i < kConvertElements; ++i) v[i] = uint16_t(0x3c00 + i % 1024);
  return v;
}

}  // namespace

double f16_convert_gelems() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("f16c")) {
    std::vector<uint16_t> buf = convert_buffer();
    return f16_convert_rate(buf.data());
  }
#endif
  return 0.0;
}

double bf16_convert_gelems() {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512bf16")) {
    std::vector<uint16_t> buf = convert_buffer();
    return bf16_convert_rate(buf.data());
  }
#endif
  return 0.0;
}

double fma_peak_gflops(int vector_bits, int threads) {
  if (threads <= 1) return fma_rate(vector_bits);
  std::vector<double> rates(size_t(threads), 0.0);
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back([&, t] { rates[size_t(t)] = fma_rate(vector_bits); });
  rates[0] = fma_rate(vector_bits);
  for (auto &other : others) other.join();
  double sum = 0.0;
  for (double r : rates) sum += r;
  return sum;
}

}  // namespace bench
