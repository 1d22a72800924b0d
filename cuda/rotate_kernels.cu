// The rotation kernels: each thread runs rotate_unit (cuda/rotate_unit.hpp, where the work
// split, vector accesses, rounding and skipped positions are described) over a grid-stride
// loop. 12 instantiations: 3 dtypes x 2 pairings x vector/element accesses.
#include "rotate_kernels.hpp"
#include "rotate_unit.hpp"

namespace rotor {
namespace cuda {
namespace {

template <typename E, rotor_pairing P, bool kVec>
__global__ void __launch_bounds__(kThreadsPerBlock) rotate_kernel(const KernelArgs args) {
  const uint64_t stride = uint64_t{gridDim.x} * blockDim.x;
  for (uint64_t unit = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x; unit < args.units_total; unit += stride)
    rotate_unit<E, P, kVec>(args, unit);
}

__global__ void take_errors_kernel(ErrorRecord *record, ErrorRecord *taken) { take_error_record(record, taken); }

}  // namespace

cudaError_t launch_rotate_kernel(const LaunchPlan &plan, cudaStream_t stream) {
  with_kernel_variant(plan, [&](auto variant) {
    using Variant = decltype(variant);
    rotate_kernel<typename Variant::Elem, Variant::kPairing, Variant::kVec>
        <<<plan.blocks, kThreadsPerBlock, 0, stream>>>(plan.args);
  });
  return cudaGetLastError();
}

cudaError_t launch_take_errors_kernel(ErrorRecord *record, ErrorRecord *taken, cudaStream_t stream) {
  take_errors_kernel<<<1, 1, 0, stream>>>(record, taken);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace rotor
