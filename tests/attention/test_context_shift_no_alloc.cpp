// Proves rotor_kv_cache_evict allocates nothing: every malloc-family call of the process
// (operator new included) is counted while context shifts run on a pool (large ones that fork,
// a one-token one whose source and destination overlap, one that drops the tail) on f32 and f16
// caches after a LongRoPE rescale, and while decode steps follow them (which re-rotate the kept
// keys when the shorter sequence takes the short factors back).
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "support/aligned_buffer.hpp"
#include "support/attention_inputs.hpp"
#include "support/counting_malloc.hpp"
#include "rotor/rotor.h"

using counting_malloc::allocations;
using counting_malloc::counting;

namespace {

// Returns the allocations counted, or -1 when a call failed or did not do what it should.
long run(rotor_dtype cache_dtype) {
  const uint32_t q_heads = 8, kv_heads = 4, d = 64, r = 32, prompt = 256, threads = 3, max_len = 512;
  // The prompt takes the long factors; 100 tokens later, the short ones.
  const rotor_config cfg = test_support::adaptive_config(r, ROTOR_SCALING_LONGROPE, max_len, 128);
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  if (rotor_table_create(&table, &cfg) != ROTOR_OK || rotor_pool_create(&pool, threads) != ROTOR_OK) return -1;
  const size_t cache_bytes = rotor_kv_cache_arena_size(kv_heads, d, max_len, cache_dtype);
  const size_t ws_bytes = rotor_attention_workspace_size(q_heads, kv_heads, d, prompt, threads);
  const test_support::AlignedBuffer cache_arena = test_support::aligned_buffer(cache_bytes);
  const test_support::AlignedBuffer workspace_buffer = test_support::aligned_buffer(ws_bytes);
  void *const workspace = workspace_buffer.get();
  rotor_kv_cache *cache = nullptr;
  if (rotor_kv_cache_init(&cache, kv_heads, d, max_len, cache_dtype, cache_arena.get(), cache_bytes) != ROTOR_OK)
    return -1;
  test_support::AttentionInputs in(prompt, q_heads, kv_heads, d);
  std::vector<float> &q = in.q, &k = in.k, &v = in.v, &out = in.out;
  const rotor_tensor &tq = in.tq, &tk = in.tk, &tv = in.tv, &to = in.to;
  const rotor_tensor &dq = in.dq, &dk = in.dk, &dv = in.dv, &dout = in.dout;
  rotor_status status = rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 0.125f, workspace, ws_bytes, pool);
  (void)rotor_kernel_name();
  uint32_t length = 0;
  uint64_t rerotations = 0;
  counting = true;
  const long before = allocations.load();
  if (status == ROTOR_OK) status = rotor_kv_cache_evict(table, cache, 4, 100, pool);  // 156 keys per head move
  if (status == ROTOR_OK) status = rotor_kv_cache_evict(table, cache, 50, 1, pool);   // overlapping move
  if (status == ROTOR_OK) status = rotor_kv_cache_evict(table, cache, 120, 35, pool); // the tail: nothing moves
  for (uint32_t i = 0; i < 3 && status == ROTOR_OK; ++i)  // 121 tokens: the short factors again
    status = rotor_attention_forward(table, &cache, &dq, &dk, &dv, &dout, 0.125f, workspace, ws_bytes, pool);
  if (status == ROTOR_OK) status = rotor_kv_cache_get_length(cache, &length);
  if (status == ROTOR_OK) status = rotor_kv_cache_rerotations(cache, &rerotations);
  const long counted = allocations.load() - before;
  counting = false;
  rotor_pool_destroy(pool);
  rotor_table_destroy(table);
  if (status != ROTOR_OK || length != prompt - 136 + 3 || rerotations != 1) return -1;
  return counted;
}

}  // namespace

int main() {
  for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16}) {
    const long counted = run(dtype);
    if (counted < 0) return test_support::report_failure("context_shift_no_alloc", "a call failed, or the cache did not end as expected");
    std::printf("context_shift_no_alloc: dtype %d: 3 shifts and 3 decode steps (1 re-rotation): %ld allocations\n",
                int(dtype), counted);
    if (counted != 0) return test_support::report_failure("context_shift_no_alloc", "allocated while shifting");
  }
  if (!counting_malloc::counter_sees_allocations())
    return test_support::report_failure("context_shift_no_alloc", "the counting malloc was not used");
  return 0;
}
