// Chooses the kernel set once. Until SIMD kernels are registered this is the scalar reference.
#include "rotate_kernel.hpp"

namespace rotor {

const KernelSet &active_kernels() { return scalar_kernels(); }

}  // namespace rotor
