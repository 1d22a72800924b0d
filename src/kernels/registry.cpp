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
  bool (*runs_on)(const CpuFeatures &cpu);  // the instructions it needs
  const RotationKernels *rotation;   // nullptr: not built here
  const AttentionKernels *attention;
  const RotationKernels *base = nullptr;  // the kernels behind this set's nullptr entries, if any
};

// A set's variant tuned for some CPUs (tuned_for): its own kernels, given to those CPUs under
// the set's name; it runs where the set runs (the set's runs_on).
struct Variant {
  const char *set;
  bool (*tuned_for)(const CpuFeatures &cpu);
  const RotationKernels *rotation;  // nullptr: not built here
  const AttentionKernels *attention;
  const RotationKernels *base = nullptr;
};

bool zen(const CpuFeatures &c) { return c.amd_zen; }

// Every set rotor knows, best first; the scalar reference, always built and run, last.
// A new architecture is one line here (and its ROTOR_<ARCH>_KERNELS in arch_kernels.hpp).
const Candidate *candidates(uint32_t *count) {
  static const Candidate kAll[] = {
      {"avx512bf16", [](const CpuFeatures &c) { return c.avx512bf16; }, ROTOR_AVX512BF16_KERNELS},
      {"avx512", [](const CpuFeatures &c) { return c.avx512; }, ROTOR_AVX512_KERNELS},
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

// CPU-tuned variants: a set's variant replaces the set on the CPUs it is tuned for, under the
// set's name (ROTOR_KERNEL and rotor_kernel_force name it as usual).
const Variant *variants(uint32_t *count) {
  static const Variant kAll[] = {
      {"avx512bf16", zen, ROTOR_AVX512BF16_ZEN_KERNELS},
      {"avx512", zen, ROTOR_AVX512_ZEN_KERNELS},
      {"avx2", zen, ROTOR_AVX2_ZEN_KERNELS},
  };
  *count = sizeof kAll / sizeof kAll[0];
  return kAll;
}

constexpr uint32_t kMaxSets = 7;
constexpr uint32_t kMaxVariants = 3;

struct Registry {
  KernelSet sets[kMaxSets] = {};  // available here, best first, scalar last
  KernelSet untuned[kMaxSets] = {};  // sets[i] as the set itself, where a variant replaced it
  uint32_t count = 0;
  KernelSet variants[kMaxVariants] = {};  // every variant this build has and this CPU can run
  uint32_t variant_count = 0;
  std::atomic<const KernelSet *> active{nullptr};
  const KernelSet *automatic = nullptr;  // the first-use choice (ROTOR_KERNEL honoured)
};

Registry &registry() {
  static Registry r;
  return r;
}

const KernelSet *find_in(const KernelSet *sets, uint32_t count, const char *name) {
  for (uint32_t i = 0; i < count; ++i)
    if (std::strcmp(sets[i].name, name) == 0) return &sets[i];
  return nullptr;
}

// The registry's entry for a candidate: its own kernels, the base set's where it has none.
KernelSet make_set(const Candidate &c) {
  KernelSet set{};
  set.name = c.name;
  std::memcpy(set.rotate, c.rotation->rotate, sizeof set.rotate);
  std::memcpy(set.rotate_large, c.rotation->rotate_large, sizeof set.rotate_large);
  set.combine_rows = c.rotation->combine_rows;
  set.copy_out = c.rotation->copy_out;
  set.stream_fence = c.rotation->stream_fence;
  set.vector_bytes = c.rotation->vector_bytes;
  set.copy_cached_outputs = c.rotation->copy_cached_outputs;
  if (c.base != nullptr) {  // what the set does not define itself comes from its base set
    for (uint32_t dt = 0; dt < 3; ++dt)
      for (uint32_t pairing = 0; pairing < 2; ++pairing)
        if (set.rotate[dt][pairing] == nullptr) {
          set.rotate[dt][pairing] = c.base->rotate[dt][pairing];
          set.rotate_large[dt][pairing] = c.base->rotate_large[dt][pairing];
        }
    if (set.combine_rows == nullptr) set.combine_rows = c.base->combine_rows;
    if (set.copy_out == nullptr) {
      set.copy_out = c.base->copy_out;
      set.stream_fence = c.base->stream_fence;
      set.vector_bytes = c.base->vector_bytes;
      set.copy_cached_outputs = c.base->copy_cached_outputs;
    }
  }
  for (uint32_t dt = 0; dt < 3; ++dt)
    for (uint32_t pairing = 0; pairing < 2; ++pairing)
      if (set.rotate_large[dt][pairing] == nullptr) set.rotate_large[dt][pairing] = set.rotate[dt][pairing];
  set.attention = c.attention;
  return set;
}

void initialise() {
  Registry &r = registry();
  const CpuFeatures cpu = detect_cpu_features();
  uint32_t known = 0, known_variants = 0;
  const Candidate *all = candidates(&known);
  const Variant *tuned = variants(&known_variants);
  static_assert(kMaxSets >= 7 && kMaxVariants >= 3, "room for every set and variant");
  for (uint32_t i = 0; i < known; ++i) {
    const Candidate &c = all[i];
    if (c.rotation == nullptr || !c.runs_on(cpu)) continue;
    r.sets[r.count] = make_set(c);
    r.untuned[r.count] = r.sets[r.count];
    // Its variant (kept for force_tuned_variant wherever it runs) replaces it where tuned for.
    for (uint32_t v = 0; v < known_variants; ++v) {
      const Variant &t = tuned[v];
      if (std::strcmp(t.set, c.name) != 0 || t.rotation == nullptr) continue;
      r.variants[r.variant_count] = make_set(Candidate{c.name, c.runs_on, t.rotation, t.attention, t.base});
      if (t.tuned_for(cpu)) r.sets[r.count] = r.variants[r.variant_count];
      ++r.variant_count;
    }
    ++r.count;
  }
  r.automatic = &r.sets[0];
  // An unknown or unavailable name is ignored: the library never fails (or prints) for it.
  if (const char *env = std::getenv("ROTOR_KERNEL"))
    if (const KernelSet *named = find_in(r.sets, r.count, env)) r.automatic = named;
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
  for (uint32_t i = 0; i < known; ++i) names.push_back(all[i].name);
  return names;
}

namespace {

bool is_known_name(const char *name) {
  uint32_t known = 0;
  const Candidate *all = candidates(&known);
  for (uint32_t i = 0; i < known; ++i)
    if (std::strcmp(all[i].name, name) == 0) return true;
  return false;
}

// The set named `name` among `sets` made the active one (force_kernel_set, force_untuned_set,
// force_tuned_variant): INVALID_ARGUMENT for a name the registry does not know, UNSUPPORTED for
// one not among them.
rotor_status force_one_of(const KernelSet *sets, uint32_t count, const char *name) {
  if (name == nullptr || !is_known_name(name)) return ROTOR_ERR_INVALID_ARGUMENT;
  const KernelSet *set = find_in(sets, count, name);
  if (set == nullptr) return ROTOR_ERR_UNSUPPORTED;
  registry().active.store(set, std::memory_order_release);
  return ROTOR_OK;
}

}  // namespace

rotor_status force_kernel_set(const char *name) {
  Registry &r = ready_registry();
  if (name == nullptr) {
    r.active.store(r.automatic, std::memory_order_release);
    return ROTOR_OK;
  }
  return force_one_of(r.sets, r.count, name);
}

rotor_status force_untuned_set(const char *name) {
  const Registry &r = ready_registry();
  return force_one_of(r.untuned, r.count, name);
}

rotor_status force_tuned_variant(const char *name) {
  const Registry &r = ready_registry();
  return force_one_of(r.variants, r.variant_count, name);
}

}  // namespace rotor
