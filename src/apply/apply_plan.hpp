// One rotation call, planned: the rows to read, the tensors to rotate and how the work splits.
// Built after validation; run() only binds pointers and calls kernels (no allocation).
#pragma once
#include <cstdint>

#include "kernels/rotate_kernel.hpp"
#include "rotor/rotor.h"

namespace rotor {

class Pool;

struct RowSource {
  const float *cos;     // row 0's cos values
  const float *sin;     // row 0's sin values
  uint64_t row_stride;  // floats between consecutive rows
  uint32_t half;
};

// A pass whose input tensor holds at least this many bytes rotates with the kernel set's
// rotate_large kernels (on AMD's Zen cores one head per pass; elsewhere the same as rotate).
// Set between the two sizes measured on a Zen 3 EPYC: a 2 MiB tensor (128 tokens x 32 heads x
// 128 f32, cached: two heads per pass as fast or faster) and a 32 MiB one (2048 tokens, streamed
// from memory: one head 1.3-1.4x faster interleaved); docs/performance.md, issue 25.
constexpr uint64_t kLargePassBytes = uint64_t{8} << 20;

struct TensorPass {
  rotor_tensor in;
  rotor_tensor out;
  RotateTokenFn rotate;
  // Out of place on a kernel set that has it: the aligned write-out through a scratch
  // (run_plan decides per call whether to use it). nullptr: rotate writes `out` directly.
  CopyOutFn copy_out = nullptr;
  StreamFenceFn stream_fence = nullptr;
  uint32_t vector_bytes = 0;  // the kernels' store width
  bool copy_cached_outputs = false;  // KernelSet::copy_cached_outputs
};

// Multi-axis positions (rotor_layout): per token one id per axis, and per pair its axis.
struct AxisPositions {
  const int32_t *ids = nullptr;     // [axes][batch * seq]; nullptr: a 1-D call
  uint32_t axes = 1;
  const uint8_t *pair_axis = nullptr;  // half entries
};

// The row of a multi-axis token: the table's row itself when every id is the same (bit for bit
// 1-D RoPE), else pair j gathered from the row of id[pair_axis[j]] into `scratch` (2 * half
// floats: cos then sin). `token` indexes the ids; rows as in RowSource.
const float *gather_axes_row(const RowSource &rows, const AxisPositions &axes, uint64_t token,
                             uint64_t tokens, float *scratch);

struct ApplyPlan {
  RowSource rows;
  AxisPositions axes;        // ids != nullptr: positions below is unused
  const int32_t *positions;  // [batch][seq] or NULL
  uint32_t offset;
  uint32_t batch, seq;
  TensorPass passes[2];      // Q and K (apply_qk), or one tensor
  uint32_t pass_count;
  bool inverse;
};

// Runs the plan on the pool (or the calling thread for small calls or pool == NULL).
void run_plan(const ApplyPlan &plan, Pool *pool);

// The output size (bytes, all passes of a call) from which out-of-place calls use non-temporal
// stores; returns the previous value. For tests, which reach the streaming path with small
// tensors (0: every out-of-place call streams) or keep it off (UINT64_MAX).
uint64_t set_stream_min_bytes(uint64_t bytes);

}  // namespace rotor
