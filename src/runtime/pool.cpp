#include "runtime/pool.hpp"

#include <new>

#include "rotor/rotor.h"

namespace rotor {
namespace {
// Spin iterations before a worker sleeps: long enough to catch the next call of a decode loop,
// short enough not to burn a core when the engine is idle.
constexpr int kSpinRounds = 20000;
// Shares per thread: small enough that a descheduled worker holds little, large enough that a
// share is far more work than its one compare-and-swap.
constexpr uint32_t kSharesPerThread = 8;
// Low bits of next_share_ count shares (at most 256 threads x 8); the generation takes the
// other 40 (a wrap needs 10^12 calls and would also need a worker asleep through all of them).
constexpr unsigned kShareBits = 24;
constexpr uint64_t kShareMask = (uint64_t{1} << kShareBits) - 1;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace

Pool::Pool(uint32_t threads) : thread_count_(threads) {
  workers_.reserve(threads - 1);
  try {
    for (uint32_t w = 1; w < threads; ++w) workers_.emplace_back(&Pool::worker_main, this);
  } catch (...) {
    // A thread could not start (std::system_error, e.g. RLIMIT_NPROC on a small board): stop
    // the ones that did, then report. The members are destroyed once, by the unwinding.
    stop_workers();
    throw;
  }
}

Pool::~Pool() { stop_workers(); }

void Pool::stop_workers() {
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    stopping_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (std::thread &t : workers_) t.join();
  workers_.clear();
}

void Pool::run_share(uint32_t share_index) {
  uint64_t begin = 0, end = 0;
  slot_range(job_items_, share_index, job_shares_.load(std::memory_order_relaxed), &begin, &end);
  if (begin < end) job_fn_(job_context_, begin, end);
}

bool Pool::claim(uint64_t generation, uint32_t *share_index) {
  uint64_t state = next_share_.load(std::memory_order_acquire);
  for (;;) {
    // The generation is checked first: only then are the job's fields this call's.
    if ((state >> kShareBits) != (generation & (~uint64_t{0} >> kShareBits))) return false;
    const uint32_t index = static_cast<uint32_t>(state & kShareMask);
    // Acquire: a count this call's run() stored is only seen once its closing store to
    // next_share_ (below) is, so the compare-and-swap then fails for an older generation.
    if (index >= job_shares_.load(std::memory_order_acquire)) return false;
    if (next_share_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *share_index = index;
      return true;
    }
  }
}

void Pool::run(uint64_t items, RangeFn fn, void *context) {
  if (items == 0) return;
  if (thread_count_ == 1 || items == 1) {
    fn(context, 0, items);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  const uint64_t most = uint64_t{thread_count_} * kSharesPerThread;
  const uint32_t shares = static_cast<uint32_t>(items < most ? items : most);
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  // Close the last call's claims before this call's share count is stored: a worker still in
  // claim() for the last call may have read next_share_ (its generation, every share taken)
  // and then read the new, larger count, and its compare-and-swap would succeed on the
  // unchanged word: it ran a share of this call under the last call's generation, twice and
  // uncounted (seen here: 1 call in about 3 million, alternating 2 and 48 shares on a 6-thread
  // pool). With the word moved to this generation first (index at its largest, so nothing can
  // be claimed yet), that compare-and-swap fails.
  next_share_.store((generation << kShareBits) | kShareMask, std::memory_order_relaxed);
  job_fn_ = fn;
  job_context_ = context;
  job_items_ = items;
  done_by_workers_.store(0, std::memory_order_relaxed);
  job_shares_.store(shares, std::memory_order_release);
  next_share_.store(generation << kShareBits, std::memory_order_release);
  {
    // The lock orders the bump against a worker that is about to sleep, so no wake is lost.
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    generation_.store(generation, std::memory_order_release);
  }
  wake_.notify_all();
  uint32_t mine = 0, index = 0;
  while (claim(generation, &index)) {
    run_share(index);
    ++mine;
  }
  const uint32_t by_workers = shares - mine;
  for (int spin = 0; done_by_workers_.load(std::memory_order_acquire) != by_workers; ++spin) {
    if (spin < kSpinRounds) {
      cpu_relax();
      continue;
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    done_cv_.wait(lock, [&] { return done_by_workers_.load(std::memory_order_acquire) == by_workers; });
  }
}

void Pool::worker_main() {
  uint64_t seen = 0;
  for (;;) {
    uint64_t now = generation_.load(std::memory_order_acquire);
    for (int spin = 0; now == seen && spin < kSpinRounds; ++spin) {
      cpu_relax();
      now = generation_.load(std::memory_order_acquire);
    }
    if (now == seen) {
      std::unique_lock<std::mutex> lock(sleep_mutex_);
      wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
      now = generation_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stopping_.load(std::memory_order_acquire)) return;
    // Claims fail once every share is taken, or when a later call has already started.
    uint32_t index = 0;
    bool worked = false;
    while (claim(now, &index)) {
      run_share(index);
      done_by_workers_.fetch_add(1, std::memory_order_acq_rel);
      worked = true;
    }
    if (worked) {
      std::lock_guard<std::mutex> lock(sleep_mutex_);
      done_cv_.notify_one();
    }
  }
}

namespace {

struct SlotCall {
  SlotFn fn;
  void *context;
  uint32_t slots;
};

void run_slot_items(void *context, uint64_t begin, uint64_t end) {
  const SlotCall &call = *static_cast<const SlotCall *>(context);
  // Any split of the items is correct: item i is slot i, whichever thread runs it.
  for (uint64_t slot = begin; slot < end; ++slot) call.fn(call.context, uint32_t(slot), call.slots);
}

}  // namespace

uint32_t run_slots(Pool *pool, uint64_t wanted, SlotFn fn, void *context) {
  const uint32_t threads = pool == nullptr ? 1 : pool->threads();
  const uint32_t slots = wanted == 0 ? 1 : uint32_t(wanted < threads ? wanted : threads);
  if (slots == 1) {
    fn(context, 0, 1);
    return 1;
  }
  SlotCall call{fn, context, slots};
  pool->run(slots, run_slot_items, &call);
  return slots;
}

}  // namespace rotor
