// The SIMD kernel sets under arch/, each compiled with its own -m flags (cmake/RotorArch.cmake
// defines ROTOR_HAVE_<ARCH> for those built). Only dispatch.cpp may call one, and only after
// cpu_features.hpp said this CPU and OS can run it.
#pragma once
#include "rotate_kernel.hpp"

namespace rotor {

const KernelSet &sse2_kernels();
const KernelSet &avx2_kernels();
const KernelSet &avx512_kernels();
const KernelSet &neon_kernels();
const KernelSet &neon64_kernels();

}  // namespace rotor
