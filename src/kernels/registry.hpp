// The one kernel registry: every kernel set rotor knows (name, CPU requirement, rotation, row
// combining and attention kernels) in one table, chosen once. Dispatch, rotor_kernel_name,
// rotor_kernel_force and the CI loop that runs the suite with each set forced all read it.
#pragma once
#include <cstdint>
#include <vector>

#include "kernels/attention_kernels.hpp"
#include "kernels/rotate_kernel.hpp"
#include "rotor/rotor.h"

namespace rotor {

// What a call runs: all kernel families of one architecture, under one name.
struct KernelSet {
  const char *name;                    // "avx512bf16", "avx512", "avx2", "sse2", "neon64", "neon", "scalar"
  RotateTokenFn rotate[3][2];          // [rotor_dtype][rotor_pairing]
  RowCombineFn combine_rows;           // nullptr: the scalar loop in row_compute.cpp
  CopyOutFn copy_out;                  // nullptr: out-of-place kernels write the output directly
  StreamFenceFn stream_fence;          // set with copy_out
  uint32_t vector_bytes;               // the rotation kernels' store width, with copy_out
  const AttentionKernels *attention;
};

// The set in use: the best this CPU runs, unless ROTOR_KERNEL (read once, at first use) or
// force_kernel_set named another.
const KernelSet &active_kernels();

// Sets this build and CPU run, best first, the scalar reference last.
uint32_t available_kernel_count();
const KernelSet *available_kernel(uint32_t index);  // nullptr past the end

// Every set the registry knows, built here or not, best first (tests run each one that is
// available and report the rest as skipped).
std::vector<const char *> known_kernel_names();

// INVALID_ARGUMENT for a name the registry does not know, UNSUPPORTED for one this build or CPU
// lacks; nullptr returns to the automatic choice.
rotor_status force_kernel_set(const char *name);

}  // namespace rotor
