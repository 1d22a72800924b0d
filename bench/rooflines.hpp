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

}  // namespace bench
