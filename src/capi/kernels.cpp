// The C entry points of kernel selection: which kernel set runs, which exist, forcing one.
#include "kernels/registry.hpp"

using namespace rotor;

extern "C" {

ROTOR_API const char *rotor_kernel_name(void) { return active_kernels().name; }

ROTOR_API uint32_t rotor_kernel_count(void) { return available_kernel_count(); }

ROTOR_API const char *rotor_kernel_available(uint32_t index) {
  const KernelSet *set = available_kernel(index);
  return set == nullptr ? nullptr : set->name;
}

ROTOR_API rotor_status rotor_kernel_force(const char *name) { return force_kernel_set(name); }

}  // extern "C"
