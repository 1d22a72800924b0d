// The kernel registry: one table of every kernel set, filtered once by what this build has and
// what this CPU runs.
#include "kernels/registry.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

#include "kernels/arch_kernels.hpp"
#include "kernels/cpu_features.hpp"

namespace rotor {
namespace {

struct Candidate {
  const char *name;
  bool (*runs_on)(const CpuFeatures &cpu);
  const RotationKernels *rotation;   // nullptr: not built here
  const AttentionKernels *attention;
  const RotationKernels *base = nullptr;  // the kernels behind this set's nullptr entries, if any
};

// Every set rotor knows, best first; the scalar reference, always built and run, last.
// A new architecture is one line here (and its ROTOR_<ARCH>_KERNELS in arch_kernels.hpp).
// A CPU's own variant of a set comes before the set, under the same name: the first of a name
// that this build has and this CPU runs is the set of that name (ROTOR_KERNEL and
// rotor_kernel_force name it as usual).
const Candidate *candidates(uint32_t *count) {
  static const Candidate kAll[] = {
      {"avx512bf16", [](const CpuFeatures &c) { return c.avx512bf16 && c.amd_zen4; }, ROTOR_AVX512BF16_ZEN4_KERNELS},
      {"avx512bf16", [](const CpuFeatures &c) { return c.avx512bf16; }, ROTOR_AVX512BF16_KERNELS},
      {"avx512", [](const CpuFeatures &c) { return c.avx512 && c.amd_zen4; }, ROTOR_AVX512_ZEN4_KERNELS},
      {"avx512", [](const CpuFeatures &c) { return c.avx512; }, ROTOR_AVX512_KERNELS},
      {"avx2", [](const CpuFeatures &c) { return c.avx2 && c.amd_zen4; }, ROTOR_AVX2_ZEN4_KERNELS},
      {"avx2", [](const CpuFeatures &c) { return c.avx2; }, ROTOR_AVX2_KERNELS},
      {"sse2", [](const CpuFeatures &c) { return c.sse2; }, ROTOR_SSE2_KERNELS},
      {"neon64", [](const CpuFeatures &c) { return c.neon64; }, ROTOR_NEON64_KERNELS},
      {"neon", [](const CpuFeatures &c) { return c.neon; }, ROTOR_NEON_KERNELS},
      {"scalar", [](const CpuFeatures &) { return true; }, &scalar_rotation_kernels(),
       &portable_attention_kernels()},
  };
  *count = sizeof kAll / sizeof kAll[0];
  return kAll;
}

constexpr uint32_t kMaxSets = 7;

struct Registry {
  KernelSet sets[kMaxSets] = {};  // available here, best first, scalar last
  uint32_t count = 0;
  std::atomic<const KernelSet *> active{nullptr};
  const KernelSet *automatic = nullptr;  // the first-use choice (ROTOR_KERNEL honoured)
};

Registry &registry() {
  static Registry r;
  return r;
}

const KernelSet *find(const Registry &r, const char *name) {
  for (uint32_t i = 0; i < r.count; ++i)
    if (std::strcmp(r.sets[i].name, name) == 0) return &r.sets[i];
  return nullptr;
}

void initialise() {
  Registry &r = registry();
  const CpuFeatures cpu = detect_cpu_features();
  uint32_t known = 0;
  const Candidate *all = candidates(&known);
  static_assert(kMaxSets >= 7, "room for every set name (a name is added once)");
  for (uint32_t i = 0; i < known; ++i) {
    const Candidate &c = all[i];
    if (c.rotation == nullptr || !c.runs_on(cpu) || find(r, c.name) != nullptr) continue;
    KernelSet &set = r.sets[r.count++];
    set.name = c.name;
    std::memcpy(set.rotate, c.rotation->rotate, sizeof set.rotate);
    set.combine_rows = c.rotation->combine_rows;
    set.copy_out = c.rotation->copy_out;
    set.stream_fence = c.rotation->stream_fence;
    set.vector_bytes = c.rotation->vector_bytes;
    if (c.base != nullptr) {  // what the set does not define itself comes from its base set
      for (uint32_t dt = 0; dt < 3; ++dt)
        for (uint32_t pairing = 0; pairing < 2; ++pairing)
          if (set.rotate[dt][pairing] == nullptr) set.rotate[dt][pairing] = c.base->rotate[dt][pairing];
      if (set.combine_rows == nullptr) set.combine_rows = c.base->combine_rows;
      if (set.copy_out == nullptr) {
        set.copy_out = c.base->copy_out;
        set.stream_fence = c.base->stream_fence;
        set.vector_bytes = c.base->vector_bytes;
      }
    }
    set.attention = c.attention;
  }
  r.automatic = &r.sets[0];
  // An unknown or unavailable name is ignored: the library never fails (or prints) for it.
  if (const char *env = std::getenv("ROTOR_KERNEL"))
    if (const KernelSet *named = find(r, env)) r.automatic = named;
  r.active.store(r.automatic, std::memory_order_release);
}

Registry &ready_registry() {
  static std::once_flag once;
  std::call_once(once, initialise);
  return registry();
}

}  // namespace

const KernelSet &active_kernels() {
  // `active` is only ever set once initialise has filled the registry (release), and never goes
  // back to null: a non-null load is a ready registry. Checked before std::call_once, which
  // stores two thread-local pointers and calls pthread_once each time (about 100 instructions,
  // half of them __tls_get_addr, of every rotation call; docs/performance.md, issue 25).
  if (const KernelSet *set = registry().active.load(std::memory_order_acquire)) return *set;
  return *ready_registry().active.load(std::memory_order_acquire);
}

uint32_t available_kernel_count() { return ready_registry().count; }

const KernelSet *available_kernel(uint32_t index) {
  const Registry &r = ready_registry();
  return index < r.count ? &r.sets[index] : nullptr;
}

std::vector<const char *> known_kernel_names() {
  uint32_t known = 0;
  const Candidate *all = candidates(&known);
  std::vector<const char *> names;
  for (uint32_t i = 0; i < known; ++i) {
    bool listed = false;  // a CPU's variant shares its set's name
    for (const char *name : names) listed = listed || std::strcmp(name, all[i].name) == 0;
    if (!listed) names.push_back(all[i].name);
  }
  return names;
}

rotor_status force_kernel_set(const char *name) {
  Registry &r = ready_registry();
  if (name == nullptr) {
    r.active.store(r.automatic, std::memory_order_release);
    return ROTOR_OK;
  }
  uint32_t known = 0;
  const Candidate *all = candidates(&known);
  bool is_known = false;
  for (uint32_t i = 0; i < known; ++i) is_known = is_known || std::strcmp(all[i].name, name) == 0;
  if (!is_known) return ROTOR_ERR_INVALID_ARGUMENT;
  const KernelSet *named = find(r, name);
  if (named == nullptr) return ROTOR_ERR_UNSUPPORTED;
  r.active.store(named, std::memory_order_release);
  return ROTOR_OK;
}

}  // namespace rotor
