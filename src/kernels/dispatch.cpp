// Chooses the kernel set once: the best one this CPU and OS run, unless ROTOR_KERNEL (read at
// that first use) or rotor_kernel_force names another. The scalar reference is always last.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "arch_kernels.hpp"
#include "cpu_features.hpp"
#include "rotate_kernel.hpp"

namespace rotor {
namespace {

constexpr uint32_t kMaxKernels = 6;

struct Registry {
  const KernelSet *sets[kMaxKernels] = {};  // available here, best first, scalar last
  uint32_t count = 0;
  std::atomic<const KernelSet *> active{nullptr};
  const KernelSet *automatic = nullptr;  // the first-use choice (ROTOR_KERNEL honoured)
};

Registry &registry() {
  static Registry r;
  return r;
}

std::once_flag g_once;

const KernelSet *find(const Registry &r, const char *name) {
  for (uint32_t i = 0; i < r.count; ++i)
    if (std::strcmp(r.sets[i]->name, name) == 0) return r.sets[i];
  return nullptr;
}

void initialise() {
  Registry &r = registry();
  const CpuFeatures cpu = detect_cpu_features();
  (void)cpu;  // unused on architectures without SIMD kernels
#if defined(ROTOR_HAVE_AVX512)
  if (cpu.avx512) r.sets[r.count++] = &avx512_kernels();
#endif
#if defined(ROTOR_HAVE_AVX2)
  if (cpu.avx2) r.sets[r.count++] = &avx2_kernels();
#endif
#if defined(ROTOR_HAVE_SSE2)
  if (cpu.sse2) r.sets[r.count++] = &sse2_kernels();
#endif
#if defined(ROTOR_HAVE_NEON64)
  if (cpu.neon64) r.sets[r.count++] = &neon64_kernels();
#endif
#if defined(ROTOR_HAVE_NEON)
  if (cpu.neon) r.sets[r.count++] = &neon_kernels();
#endif
  r.sets[r.count++] = &scalar_kernels();
  r.automatic = r.sets[0];
  // An unknown or unavailable name is ignored: the library never fails (or prints) for it.
  if (const char *env = std::getenv("ROTOR_KERNEL"))
    if (const KernelSet *named = find(r, env)) r.automatic = named;
  r.active.store(r.automatic, std::memory_order_release);
}

Registry &ready_registry() {
  std::call_once(g_once, initialise);
  return registry();
}

bool known_name(const char *name) {
  static const char *const kNames[] = {"scalar", "sse2", "avx2", "avx512", "neon", "neon64"};
  for (const char *known : kNames)
    if (std::strcmp(known, name) == 0) return true;
  return false;
}

}  // namespace

const KernelSet &active_kernels() { return *ready_registry().active.load(std::memory_order_acquire); }

}  // namespace rotor

using namespace rotor;

extern "C" {

ROTOR_API const char *rotor_kernel_name(void) { return active_kernels().name; }

ROTOR_API uint32_t rotor_kernel_count(void) { return ready_registry().count; }

ROTOR_API const char *rotor_kernel_available(uint32_t index) {
  const Registry &r = ready_registry();
  return index < r.count ? r.sets[index]->name : nullptr;
}

ROTOR_API rotor_status rotor_kernel_force(const char *name) {
  Registry &r = ready_registry();
  if (name == nullptr) {
    r.active.store(r.automatic, std::memory_order_release);
    return ROTOR_OK;
  }
  if (!known_name(name)) return ROTOR_ERR_INVALID_ARGUMENT;
  const KernelSet *named = find(r, name);
  if (named == nullptr) return ROTOR_ERR_UNSUPPORTED;
  r.active.store(named, std::memory_order_release);
  return ROTOR_OK;
}

}  // extern "C"
