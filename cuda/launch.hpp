// What the host side of the CUDA build hands to the kernels (cuda/rotate_kernels.cu): one
// launch rotates one tensor, or Q and K together. Everything here is validated beforehand
// (cuda/api_cuda.cpp); the kernels trust it.
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "rotor/rotor.h"

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

// Enqueues the rotation on stream. Returns the launch's error (cudaSuccess when enqueued).
cudaError_t launch_rotate(const RotateLaunch &launch, cudaStream_t stream);

// Enqueues: *taken = *record, then *record = {0, -1}, atomically with respect to the rotation
// kernels (of any stream) that update record.
cudaError_t launch_take_errors(ErrorRecord *record, ErrorRecord *taken, cudaStream_t stream);

// Whether a tensor qualifies for 16-byte vector loads with this pairing and dtype (exposed for
// the tests of the host-side choice; the kernels fall back to element loads otherwise).
bool vector_loads_ok(const DeviceTensor &tensor, rotor_dtype dtype, rotor_pairing pairing, uint32_t half);

}  // namespace cuda
}  // namespace rotor
