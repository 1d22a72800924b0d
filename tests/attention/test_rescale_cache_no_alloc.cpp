// Proves re-rotation after a rescale allocates nothing: every malloc-family call of the process
// (operator new included) is counted while forward calls on a pool re-rotate a KV cache after
// LongRoPE switches to its long factors and dynamic NTK grows its base, and while
// rotor_rerotate_keys re-rotates a caller's keys. The counters show a re-rotation happened.
// glibc's own entry points (__libc_malloc, ...) do the allocating.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "support/aligned_buffer.hpp"
#include "support/attention_inputs.hpp"
#include "support/counting_malloc.hpp"
#include "rotor/rotor.h"

using counting_malloc::allocations;
using counting_malloc::counting;

namespace {

// One table of the given scaling: prefill `prompt` tokens, then (counted) `steps` decode steps
// that cross the rescale, then a rotor_rerotate_keys call. Returns the allocations counted, or
// -1 on a failure, and the cache's re-rotation count.
long run(rotor_scaling scaling, uint64_t *cache_rerotations) {
  const uint32_t q_heads = 8, kv_heads = 2, d = 64, r = 32, prompt = 64, steps = 4, threads = 3;
  // The first decode step is original_max_len + 1.
  const rotor_config cfg = test_support::adaptive_config(r, scaling, 512, prompt);
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  if (rotor_table_create(&table, &cfg) != ROTOR_OK || rotor_pool_create(&pool, threads) != ROTOR_OK) return -1;
  const size_t cache_bytes = rotor_kv_cache_arena_size(kv_heads, d, 512, ROTOR_DTYPE_F32);
  const size_t ws_bytes = rotor_attention_workspace_size(q_heads, kv_heads, d, prompt, threads);
  const size_t rerotate_bytes = rotor_rerotate_workspace_size(d, threads);
  const test_support::AlignedBuffer cache_arena = test_support::aligned_buffer(cache_bytes);
  const test_support::AlignedBuffer workspace_buffer = test_support::aligned_buffer(ws_bytes);
  const test_support::AlignedBuffer rerotate_buffer = test_support::aligned_buffer(rerotate_bytes);
  void *const workspace = workspace_buffer.get(), *const rerotate_ws = rerotate_buffer.get();
  rotor_kv_cache *cache = nullptr;
  if (rotor_kv_cache_init(&cache, kv_heads, d, 512, ROTOR_DTYPE_F32, cache_arena.get(), cache_bytes) != ROTOR_OK)
    return -1;
  test_support::AttentionInputs in(prompt, q_heads, kv_heads, d);
  std::vector<float> &q = in.q, &k = in.k, &v = in.v, &out = in.out;
  const rotor_tensor &tq = in.tq, &tk = in.tk, &tv = in.tv, &to = in.to;
  const rotor_tensor &dq = in.dq, &dk = in.dk, &dv = in.dv, &dout = in.dout;
  std::vector<float> own_keys(k);  // a caller's cache of `prompt` keys
  const rotor_tensor own = rotor_tensor_bshd(own_keys.data(), ROTOR_DTYPE_F32, 1, prompt, kv_heads, d);
  rotor_status status = rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 0.125f, workspace, ws_bytes, pool);
  if (status == ROTOR_OK) status = rotor_apply(table, &own, nullptr, 0, ROTOR_FORWARD, pool);  // epoch 0
  (void)rotor_kernel_name();
  counting = true;
  const long before = allocations.load();
  for (uint32_t i = 0; i < steps && status == ROTOR_OK; ++i)
    status = rotor_attention_forward(table, &cache, &dq, &dk, &dv, &dout, 0.125f, workspace, ws_bytes, pool);
  uint64_t to_epoch = 0;
  if (status == ROTOR_OK)
    status = rotor_rerotate_keys(table, &own, nullptr, 0, 0, &to_epoch, rerotate_ws, rerotate_bytes, pool);
  const long counted = allocations.load() - before;
  counting = false;
  rotor_table_stats stats{};
  stats.struct_size = sizeof stats;
  if (status == ROTOR_OK) status = rotor_table_stats_get(table, &stats);
  if (status == ROTOR_OK) status = rotor_kv_cache_rerotations(cache, cache_rerotations);
  rotor_pool_destroy(pool);
  rotor_table_destroy(table);
  if (status != ROTOR_OK || to_epoch == 0 || stats.key_rerotations != *cache_rerotations + 1) return -1;
  return counted;
}

}  // namespace

int main() {
  for (rotor_scaling scaling : {ROTOR_SCALING_LONGROPE, ROTOR_SCALING_DYNAMIC_NTK}) {
    uint64_t rerotations = 0;
    const long counted = run(scaling, &rerotations);
    if (counted < 0) return test_support::report_failure("rescale_cache_no_alloc", "a call failed or no re-rotation was counted");
    std::printf("rescale_cache_no_alloc: scaling %d: %llu cache re-rotations + 1 of a caller's keys: %ld allocations\n",
                int(scaling), static_cast<unsigned long long>(rerotations), counted);
    if (rerotations == 0) return test_support::report_failure("rescale_cache_no_alloc", "the forward calls did not re-rotate");
    if (counted != 0) return test_support::report_failure("rescale_cache_no_alloc", "allocated while re-rotating");
  }
  if (!counting_malloc::counter_sees_allocations())
    return test_support::report_failure("rescale_cache_no_alloc", "the counting malloc was not used");
  return 0;
}
