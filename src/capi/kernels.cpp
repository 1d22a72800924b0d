// The C entry points of kernel selection: which kernel set runs, which exist, forcing one.
#include "capi/guard.hpp"
#include "kernels/registry.hpp"

using namespace rotor;

extern "C" {

// The registry is filled once under std::call_once, which can throw: these fall back to the
// answer that is always true (the scalar reference exists on every machine).
ROTOR_API const char *rotor_kernel_name(void) {
  return guarded_value<const char *>("scalar", [] { return active_kernels().name; });
}

ROTOR_API uint32_t rotor_kernel_count(void) {
  return guarded_value<uint32_t>(1, [] { return available_kernel_count(); });
}

ROTOR_API const char *rotor_kernel_available(uint32_t index) {
  return guarded_value<const char *>(nullptr, [&]() -> const char * {
    const KernelSet *set = available_kernel(index);
    return set == nullptr ? nullptr : set->name;
  });
}

ROTOR_API rotor_status rotor_kernel_force(const char *name) {
  return guarded([&] {
    const rotor_status status = force_kernel_set(name);
    if (status == ROTOR_ERR_INVALID_ARGUMENT) return fail(status, "unknown kernel set name");
    if (status == ROTOR_ERR_UNSUPPORTED) return fail(status, "this CPU or build lacks that kernel set");
    return status;
  });
}

}  // extern "C"
