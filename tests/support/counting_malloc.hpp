// The one malloc that counts, for every no-allocation test program: counting_malloc.cpp
// replaces the malloc family for the whole program
// (operator new included, which calls malloc) and counts calls while `counting` is set; glibc's
// own entry points (__libc_malloc, ...) do the allocating. Only for programs of their own:
// it must never be linked into the shared test binary or a sanitizer build.
#pragma once
#include <atomic>
#include <cstdlib>

namespace counting_malloc {
extern std::atomic<bool> counting;
extern std::atomic<long> allocations;

// Counts the allocations made (by any thread) while it lives.
class AllocationCounter {
 public:
  AllocationCounter() {
    allocations.store(0);
    counting.store(true);
  }
  ~AllocationCounter() { counting.store(false); }
  AllocationCounter(const AllocationCounter &) = delete;
  AllocationCounter &operator=(const AllocationCounter &) = delete;
  long count() const { return allocations.load(); }
};

// Whether an allocation made while counting is counted: the proof that this malloc, not libc's,
// is the one linked in, without which a count of 0 would prove nothing.
inline bool counter_sees_allocations() {
  const long before = allocations.load();
  counting = true;
  void *volatile probe = std::malloc(32);  // volatile: the pair must not be optimised away
  counting = false;
  std::free(probe);
  return allocations.load() == before + 1;
}

}  // namespace counting_malloc
