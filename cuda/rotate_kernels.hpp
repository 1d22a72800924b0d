// The CUDA launches of cuda/rotate_kernels.cu, for the runtime's device operations.
#pragma once
#include <cuda_runtime_api.h>

#include "launch.hpp"

namespace rotor {
namespace cuda {

// Enqueues the plan's kernel on stream. Returns the launch's error (cudaSuccess when enqueued).
cudaError_t launch_rotate_kernel(const LaunchPlan &plan, cudaStream_t stream);

// Enqueues take_error_record(record, taken) as a one-thread kernel.
cudaError_t launch_take_errors_kernel(ErrorRecord *record, ErrorRecord *taken, cudaStream_t stream);

}  // namespace cuda
}  // namespace rotor
