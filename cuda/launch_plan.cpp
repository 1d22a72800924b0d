// The host side of a launch: the choice of kernel and the unit count, shared by the CUDA
// runtime (cuda/device_ops_cuda.cpp) and the host tests, so the tests check the plan the GPU
// gets.
#include <algorithm>

#include "launch.hpp"

namespace rotor {
namespace cuda {

namespace {
uint32_t element_bytes(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_F32 ? 4u : 2u; }
}  // namespace

bool vector_loads_ok(const DeviceTensor &tensor, rotor_dtype dtype, rotor_pairing pairing, uint32_t half) {
  const uint32_t per_vector = 16 / element_bytes(dtype);  // elements in 16 bytes
  if (half % pairs_per_thread(element_bytes(dtype), pairing, true) != 0) return false;
  if (reinterpret_cast<uintptr_t>(tensor.data) % 16 != 0) return false;
  return tensor.stride_batch % per_vector == 0 && tensor.stride_seq % per_vector == 0 &&
         tensor.stride_head % per_vector == 0;
}

LaunchPlan plan_launch(const RotateLaunch &launch) {
  LaunchPlan plan{};
  plan.dtype = launch.dtype;
  plan.pairing = launch.pairing;
  plan.vec = vector_loads_ok(launch.tensors[0], launch.dtype, launch.pairing, launch.half);
  if (launch.tensor_count > 1)
    plan.vec = plan.vec && vector_loads_ok(launch.tensors[1], launch.dtype, launch.pairing, launch.half);
  const uint32_t per_thread = pairs_per_thread(element_bytes(launch.dtype), launch.pairing, plan.vec);

  KernelArgs &args = plan.args;
  args.t0 = launch.tensors[0];
  args.t1 = launch.tensor_count > 1 ? launch.tensors[1] : launch.tensors[0];
  args.chunks = launch.half / per_thread;
  const uint64_t tokens = uint64_t{launch.batch} * launch.seq;
  args.units0 = tokens * args.t0.heads * args.chunks;
  args.units_total = args.units0 + (launch.tensor_count > 1 ? tokens * args.t1.heads * args.chunks : 0);
  args.seq = launch.seq;
  args.rows = launch.rows;
  args.half = launch.half;
  args.row_limit = launch.row_limit;
  args.positions = launch.positions;
  args.offset = launch.offset;
  args.inverse = launch.inverse;
  args.small = args.units_total <= uint64_t{UINT32_MAX};
  args.errors = launch.errors;
  plan.blocks = uint32_t(std::min<uint64_t>((args.units_total + kThreadsPerBlock - 1) / kThreadsPerBlock, kMaxBlocks));
  return plan;
}

}  // namespace cuda
}  // namespace rotor
