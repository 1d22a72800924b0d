// Memory rooflines measured in the same run as the kernels: a streaming read-modify-write of
// the same bytes (what an in-place RoPE must at least do) and a memcpy of them.
#pragma once
#include <cstddef>

namespace bench {

// One pass that reads and rewrites every 32-bit word of [p, p + bytes) (bytes % 4 == 0).
void rmw_pass(void *p, size_t bytes);

// Mean seconds per pass of `passes` passes of rmw_pass, on `threads` threads (1 or 2), each
// thread rewriting its own contiguous half.
double rmw_seconds(void *p, size_t bytes, int threads, int passes);

// Mean seconds per memcpy of `bytes` from src to dst.
double memcpy_seconds(void *dst, const void *src, size_t bytes, int passes);

// Seconds of one streaming read (a vectorised sum) of each of `ranges` ranges [p[i], p[i] + bytes),
// the mean of `passes` passes, after one pass that warms the caches as a decode step finds them.
// threads 2: two threads created once, each reading its own half of every range (the baseline of
// a decode step on a pool of two).
double read_seconds(const void *const *p, size_t ranges, size_t bytes, int passes, int threads = 1);

// Single-precision fused multiply-add throughput in GFLOP/s (2 flops per lane) of `threads`
// threads running together, each an unrolled loop of 12 independent chains on the widest vectors
// of `vector_bits` (512: AVX-512F, 256: AVX2+FMA; other values and CPUs: 0). Per thread the rate
// is taken from its own CPU time (CLOCK_THREAD_CPUTIME_ID), so time the scheduler gives other
// processes on a shared machine does not count; the threads' rates are summed.
double fma_peak_gflops(int vector_bits, int threads);

// The conversion-bound limit of a 16-bit apply: G elements per second of a loop that does
// nothing but widen `elements` 16-bit values (an L1-resident buffer, one token of 32 x 128) to
// float and narrow them back in place, again and again, on one thread, by its CPU time. f16:
// vcvtph2ps / vcvtps2ph (F16C, AVX-512 forms); bf16: a shift and a mask to floats, then
// vcvtne2ps2bf16 and the vpermw that puts the elements back in order (AVX512_BF16). 0 on CPUs
// without the instructions.
double f16_convert_gelems();
double bf16_convert_gelems();

}  // namespace bench
