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

struct TensorPass {
  rotor_tensor in;
  rotor_tensor out;
  RotateTokenFn rotate;
};

struct ApplyPlan {
  RowSource rows;
  const int32_t *positions;  // [batch][seq] or NULL
  uint32_t offset;
  uint32_t batch, seq;
  TensorPass passes[2];      // Q and K (apply_qk), or one tensor
  uint32_t pass_count;
  bool inverse;
};

// Runs the plan on the pool (or the calling thread for small calls or pool == NULL).
void run_plan(const ApplyPlan &plan, Pool *pool);

}  // namespace rotor
