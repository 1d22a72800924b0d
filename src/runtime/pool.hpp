// Persistent worker threads: one fork and one join per call, no allocation after creation.
//
// run() splits [0, items) into a few contiguous shares per thread and publishes the call with a
// generation counter. Shares are handed out by one atomic word holding (generation, next
// share): claiming one is a compare-and-swap that fails for a worker still looking at an older
// call, so nothing of a finished call is ever touched again. The caller claims shares like the
// workers do and then waits only for the shares workers took, so a worker the OS has not
// scheduled (a loaded machine, a slow core) costs at most the one share it holds. Workers spin
// briefly on the generation (a decode loop's next call then costs no sleep/wake) and otherwise
// sleep on a condition variable.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "rotor/rotor.h"

namespace rotor {

class Pool {
 public:
  using RangeFn = void (*)(void *context, uint64_t begin, uint64_t end);

  explicit Pool(uint32_t threads);  // threads in all, the caller's included
  ~Pool();
  Pool(const Pool &) = delete;
  Pool &operator=(const Pool &) = delete;

  uint32_t threads() const { return thread_count_; }
  // Runs fn over [0, items) split across up to `threads()` threads; returns when all are done.
  // Concurrent callers are serialised.
  void run(uint64_t items, RangeFn fn, void *context);

 private:
  void worker_main();
  void stop_workers();  // joins every started worker; the destructor's and a failed start's
  void run_share(uint32_t share_index);
  bool claim(uint64_t generation, uint32_t *share_index);

  uint32_t thread_count_;
  std::vector<std::thread> workers_;
  std::mutex call_mutex_;   // one call at a time

  // The current job, written by run() before the generation is bumped.
  RangeFn job_fn_ = nullptr;
  void *job_context_ = nullptr;
  uint64_t job_items_ = 0;
  // Atomic: a worker still looking at a finished call may read it (and then claims nothing:
  // run() moves next_share_ to the new generation before it stores the count; see run()).
  std::atomic<uint32_t> job_shares_{0};

  std::atomic<uint64_t> generation_{0};
  // (generation << kShareBits) | index of the next share to hand out.
  std::atomic<uint64_t> next_share_{0};
  std::atomic<uint32_t> done_by_workers_{0};
  std::atomic<bool> stopping_{false};
  std::mutex sleep_mutex_;
  std::condition_variable wake_;
  std::condition_variable done_cv_;
};

// Work that needs per-thread scratch ("slots", e.g. areas of a workspace) is run per slot:
// fn(context, slot, slots) for every slot in [0, slots), slots = min(wanted, threads) (1 when
// pool is NULL), each slot on one thread at a time, so a slot's scratch has one user. Returns
// slots. Each fn splits its own work, typically with slot_range.
using SlotFn = void (*)(void *context, uint32_t slot, uint32_t slots);
uint32_t run_slots(Pool *pool, uint64_t wanted, SlotFn fn, void *context);

// The part [*first, *last) of `items` that slot `slot` of `slots` takes: even, contiguous.
inline void slot_range(uint64_t items, uint32_t slot, uint32_t slots, uint64_t *first, uint64_t *last) {
  *first = items * slot / slots;
  *last = items * (uint64_t{slot} + 1) / slots;
}

}  // namespace rotor

inline rotor::Pool *as_pool(rotor_pool *p) { return reinterpret_cast<rotor::Pool *>(p); }
