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
  RotateTokenFn rotate_large[3][2];    // for passes of at least kLargePassBytes (never nullptr)
  RowCombineFn combine_rows;           // nullptr: the scalar loop in row_compute.cpp
  CopyOutFn copy_out;                  // nullptr: out-of-place kernels write the output directly
  StreamFenceFn stream_fence;          // set with copy_out
  uint32_t vector_bytes;               // the rotation kernels' store width, with copy_out
  bool copy_cached_outputs;            // RotationKernels::copy_cached_outputs
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

// For tests: makes the named set's CPU-tuned variant (the AMD Zen tables) the active set where
// this build has it and this CPU runs its instructions, whatever the CPU's make; a later
// force_kernel_set (or nullptr) leaves it. INVALID_ARGUMENT for an unknown name, UNSUPPORTED
// where the set has no variant here.
rotor_status force_tuned_variant(const char *name);
// For tests, the other side: makes the named set itself the active set where this build and CPU
// run it, also on a CPU its variant is tuned for (where force_kernel_set gives the variant).
// INVALID_ARGUMENT for an unknown name, UNSUPPORTED for one this build or CPU lacks.
rotor_status force_untuned_set(const char *name);

}  // namespace rotor
