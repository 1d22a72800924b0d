// What the host side of the CUDA build hands to the kernels: one launch rotates one tensor, or
// Q and K together. Everything here is validated beforehand (cuda/api_cuda.cpp); the kernels
// trust it. No CUDA header is needed: the host tests (tests/cuda_host/) compile this, the
// launch plan and the kernels' per-thread body (rotate_unit.hpp) with the host compiler.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

// Functions that nvcc compiles for the device and the host alike (plain inline functions for
// a host compiler): the one body a GPU thread runs and the host tests run.
#if defined(__CUDACC__)
#define ROTOR_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define ROTOR_HOST_DEVICE inline
#endif

namespace rotor {
namespace cuda {

// The device error record: tokens skipped because their device position was out of range.
struct ErrorRecord {
  unsigned int skipped_tokens;
  int position;  // one offending position (-1 when none)
};

// One tensor of a launch (strides in elements; the head_dim elements of a head contiguous).
struct DeviceTensor {
  void *data;
  int64_t stride_batch, stride_seq, stride_head;
  uint32_t heads;
};

struct RotateLaunch {
  DeviceTensor tensors[2];   // [0] = x or Q, [1] = K
  uint32_t tensor_count;     // 1 or 2; both share dtype, batch, seq and positions
  rotor_dtype dtype;
  rotor_pairing pairing;
  uint32_t batch, seq;
  const float *rows;         // device rows: row p at rows + p * 2 * half (cos half, then sin half)
  uint32_t half;             // rotary_dim / 2
  uint32_t row_limit;        // rows [0, row_limit) hold valid data; others are never read
  const int32_t *positions;  // device [batch][seq], or NULL for offset + s
  uint32_t offset;
  bool inverse;
  ErrorRecord *errors;       // device; counts tokens with positions outside [0, row_limit)
};

// What one thread of the kernel reads, flattened so a thread selects its tensor's fields with
// no dynamic indexing into the parameter block. Units are (tensor, token, head, chunk), the
// chunk fastest; a chunk is pairs_per_thread consecutive pairs of one head.
struct KernelArgs {
  DeviceTensor t0, t1;
  uint64_t units0;       // units of tensor 0
  uint64_t units_total;  // units of both tensors
  uint32_t chunks;       // chunks per head
  uint32_t seq;
  const float *rows;
  uint32_t half;
  uint32_t row_limit;
  const int32_t *positions;
  uint32_t offset;
  bool inverse;
  bool small;            // units_total <= 2^32 - 1: index arithmetic in 32 bits
  ErrorRecord *errors;
};

constexpr uint32_t kThreadsPerBlock = 256;
constexpr uint64_t kMaxBlocks = uint64_t{1} << 20;  // the grid-stride loop covers the rest

// Pairs one thread rotates: 1 on the element path; on the vector path as many as one 16-byte
// vector holds (HALF: V of the first dims, V of the second in another vector; INTERLEAVED:
// V pairs are 2V consecutive elements).
ROTOR_HOST_DEVICE constexpr uint32_t pairs_per_thread(uint32_t element_bytes, rotor_pairing pairing, bool vec) {
  return !vec ? 1u : pairing == ROTOR_PAIRING_HALF ? 16u / element_bytes : 8u / element_bytes;
}

// Whether a tensor qualifies for 16-byte vector accesses with this pairing and dtype: data and
// strides 16-byte aligned, r/2 a multiple of the pairs a vector holds. The kernels trust a
// "yes" (a wrong one would be a misaligned access on the GPU); otherwise they use elements.
bool vector_loads_ok(const DeviceTensor &tensor, rotor_dtype dtype, rotor_pairing pairing, uint32_t half);

// A launch as the kernels see it: which of the 12 kernels (dtype x pairing x vector/element),
// its arguments and its grid. The CUDA runtime and the host tests launch from the same plan.
struct LaunchPlan {
  KernelArgs args;
  rotor_dtype dtype;
  rotor_pairing pairing;
  bool vec;
  uint32_t blocks;  // of kThreadsPerBlock threads
};
LaunchPlan plan_launch(const RotateLaunch &launch);

}  // namespace cuda
}  // namespace rotor
