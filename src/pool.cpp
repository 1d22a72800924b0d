#include "pool.hpp"

#include <new>

#include "rotor/rotor.h"

namespace rotor {
namespace {
// Spin iterations before a worker sleeps: long enough to catch the next call of a decode loop,
// short enough not to burn a core when the engine is idle.
constexpr int kSpinRounds = 20000;
constexpr uint64_t kClaimed = uint64_t{1} << 63;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
  __asm__ __volatile__("yield");
#endif
}
}  // namespace

Pool::Pool(uint32_t threads) : thread_count_(threads), share_state_(new std::atomic<uint64_t>[threads]) {
  for (uint32_t i = 0; i < threads; ++i) share_state_[i].store(0, std::memory_order_relaxed);
  workers_.reserve(threads - 1);
  try {
    for (uint32_t w = 1; w < threads; ++w) workers_.emplace_back(&Pool::worker_main, this, w);
  } catch (...) {
    // A thread could not start: stop the ones that did before reporting the failure.
    thread_count_ = static_cast<uint32_t>(workers_.size()) + 1;
    this->~Pool();
    throw;
  }
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    stopping_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  wake_.notify_all();
  for (std::thread &t : workers_) t.join();
}

void Pool::run_share(uint32_t share_index) {
  const uint64_t begin = job_items_ * share_index / job_shares_;
  const uint64_t end = job_items_ * (share_index + 1) / job_shares_;
  if (begin < end) job_fn_(job_context_, begin, end);
}

bool Pool::claim(uint32_t share_index, uint64_t generation) {
  uint64_t expected = generation;
  return share_state_[share_index].compare_exchange_strong(expected, generation | kClaimed,
                                                           std::memory_order_acq_rel);
}

void Pool::run(uint64_t items, RangeFn fn, void *context) {
  if (items == 0) return;
  if (thread_count_ == 1 || items == 1) {
    fn(context, 0, items);
    return;
  }
  std::lock_guard<std::mutex> call_lock(call_mutex_);
  const uint32_t shares = static_cast<uint32_t>(items < thread_count_ ? items : thread_count_);
  const uint64_t generation = generation_.load(std::memory_order_relaxed) + 1;
  job_fn_ = fn;
  job_context_ = context;
  job_items_ = items;
  job_shares_ = shares;
  done_by_workers_.store(0, std::memory_order_relaxed);
  for (uint32_t i = 1; i < shares; ++i) share_state_[i].store(generation, std::memory_order_release);
  {
    // The lock orders the bump against a worker that is about to sleep, so no wake is lost.
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    generation_.store(generation, std::memory_order_release);
  }
  wake_.notify_all();
  run_share(0);
  // Shares no worker has started yet are the caller's.
  uint32_t by_workers = 0;
  for (uint32_t i = 1; i < shares; ++i) {
    if (claim(i, generation))
      run_share(i);
    else
      ++by_workers;
  }
  for (int spin = 0; done_by_workers_.load(std::memory_order_acquire) != by_workers; ++spin) {
    if (spin < kSpinRounds) {
      cpu_relax();
      continue;
    }
    std::unique_lock<std::mutex> lock(sleep_mutex_);
    done_cv_.wait(lock, [&] { return done_by_workers_.load(std::memory_order_acquire) == by_workers; });
  }
}

void Pool::worker_main(uint32_t worker_index) {
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
    // Fails when the caller took this share, when this call has fewer shares, or when a later
    // call has already started (its slot then holds its own generation).
    if (!claim(worker_index, now)) continue;
    run_share(worker_index);
    done_by_workers_.fetch_add(1, std::memory_order_acq_rel);
    std::lock_guard<std::mutex> lock(sleep_mutex_);
    done_cv_.notify_one();
  }
}

}  // namespace rotor

extern "C" {

ROTOR_API rotor_status rotor_pool_create(rotor_pool **out, uint32_t threads) {
  if (out == nullptr || threads == 0 || threads > 256) return ROTOR_ERR_INVALID_ARGUMENT;
  rotor::Pool *pool = nullptr;
  try {
    pool = new rotor::Pool(threads);
  } catch (...) {
    return ROTOR_ERR_OUT_OF_MEMORY;
  }
  *out = reinterpret_cast<rotor_pool *>(pool);
  return ROTOR_OK;
}

ROTOR_API void rotor_pool_destroy(rotor_pool *p) { delete as_pool(p); }

}  // extern "C"
