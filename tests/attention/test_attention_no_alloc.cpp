// Proves rotor_attention_forward allocates nothing: every malloc-family call of the process
// (operator new included, which calls malloc) is counted while prefill and decode calls run on
// a pool of worker threads. glibc's own entry points (__libc_malloc, ...) do the allocating.
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

}  // namespace

int main() {
  const uint32_t q_heads = 8, kv_heads = 2, d = 64, prompt = 300, steps = 20, threads = 2;
  rotor_config cfg;
  rotor_config_init(&cfg, d);
  cfg.max_len = 1024;
  cfg.initial_len = 16;  // prefill and decode grow the table inside the counted calls
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  if (rotor_table_create(&table, &cfg) != ROTOR_OK || rotor_pool_create(&pool, threads) != ROTOR_OK)
    return test_support::report_failure("attention_no_alloc", "setup");
  const size_t cache_bytes = rotor_kv_cache_arena_size(kv_heads, d, 1024, ROTOR_DTYPE_F16);
  const size_t ws_bytes = rotor_attention_workspace_size(q_heads, kv_heads, d, prompt, threads);
  const test_support::AlignedBuffer cache_arena = test_support::aligned_buffer(cache_bytes);
  const test_support::AlignedBuffer workspace_buffer = test_support::aligned_buffer(ws_bytes);
  void *workspace = workspace_buffer.get();
  rotor_kv_cache *cache = nullptr;
  if (rotor_kv_cache_init(&cache, kv_heads, d, 1024, ROTOR_DTYPE_F16, cache_arena.get(), cache_bytes) != ROTOR_OK)
    return test_support::report_failure("attention_no_alloc", "cache");
  test_support::AttentionInputs in(prompt, q_heads, kv_heads, d);
  std::vector<float> &q = in.q, &k = in.k, &v = in.v, &out = in.out;
  const rotor_tensor &tq = in.tq, &tk = in.tk, &tv = in.tv, &to = in.to;
  const rotor_tensor &dq = in.dq, &dk = in.dk, &dv = in.dv, &dout = in.dout;
  const float scale = 0.125f;

  // The first use picks the kernels (which may probe the CPU): do it before counting.
  (void)rotor_kernel_name();
  counting = true;
  rotor_status status = rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, scale, workspace, ws_bytes, pool);
  for (uint32_t i = 0; i < steps && status == ROTOR_OK; ++i)
    status = rotor_attention_forward(table, &cache, &dq, &dk, &dv, &dout, scale, workspace, ws_bytes, pool);
  counting = false;
  const long counted = allocations.load();

  if (status != ROTOR_OK) return test_support::report_failure("attention_no_alloc", "forward failed");
  if (rotor_kv_cache_length(cache) != prompt + steps) return test_support::report_failure("attention_no_alloc", "cache length");
  std::printf("attention_no_alloc: %u-token prefill + %u decode steps on %u threads: %ld allocations\n", prompt,
              steps, threads, counted);
  rotor_pool_destroy(pool);
  rotor_table_destroy(table);
  if (counted != 0) return test_support::report_failure("attention_no_alloc", "allocated during forward calls");

  // The counter itself works: an allocation while counting is seen.
  if (!counting_malloc::counter_sees_allocations()) return test_support::report_failure("attention_no_alloc", "the counting malloc was not used");
  return 0;
}
