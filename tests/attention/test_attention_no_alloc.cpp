// Proves rotor_attention_forward allocates nothing: every malloc-family call of the process
// (operator new included, which calls malloc) is counted while prefill and decode calls run on
// a pool of worker threads. glibc's own entry points (__libc_malloc, ...) do the allocating.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "support/counting_malloc.hpp"
#include "rotor/rotor.h"

using counting_malloc::allocations;
using counting_malloc::counting;

namespace {

int fail(const char *what) {
  std::fprintf(stderr, "attention_no_alloc: %s\n", what);
  return 1;
}

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
    return fail("setup");
  const size_t cache_bytes = rotor_kv_cache_arena_size(kv_heads, d, 1024, ROTOR_DTYPE_F16);
  const size_t ws_bytes = rotor_attention_workspace_size(q_heads, kv_heads, d, prompt, threads);
  void *cache_arena = std::aligned_alloc(ROTOR_ARENA_ALIGNMENT, (cache_bytes + 63) / 64 * 64);
  void *workspace = std::aligned_alloc(ROTOR_ARENA_ALIGNMENT, (ws_bytes + 63) / 64 * 64);
  rotor_kv_cache *cache = nullptr;
  if (rotor_kv_cache_init(&cache, kv_heads, d, 1024, ROTOR_DTYPE_F16, cache_arena, cache_bytes) != ROTOR_OK)
    return fail("cache");
  std::vector<float> q(size_t{prompt} * q_heads * d), k(size_t{prompt} * kv_heads * d), v(k.size()), out(q.size());
  for (size_t i = 0; i < q.size(); ++i) q[i] = float((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (size_t i = 0; i < k.size(); ++i) k[i] = v[i] = float((i * 104729) % 1000) / 1000.0f - 0.5f;

  const rotor_tensor tq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, prompt, q_heads, d);
  const rotor_tensor tk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, prompt, kv_heads, d);
  const rotor_tensor tv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, prompt, kv_heads, d);
  const rotor_tensor to = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, prompt, q_heads, d);
  const rotor_tensor dq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, 1, q_heads, d);
  const rotor_tensor dk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, 1, kv_heads, d);
  const rotor_tensor dv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, 1, kv_heads, d);
  const rotor_tensor dout = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, 1, q_heads, d);
  const float scale = 0.125f;

  // The first use picks the kernels (which may probe the CPU): do it before counting.
  (void)rotor_kernel_name();
  counting = true;
  rotor_status status = rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, scale, workspace, ws_bytes, pool);
  for (uint32_t i = 0; i < steps && status == ROTOR_OK; ++i)
    status = rotor_attention_forward(table, &cache, &dq, &dk, &dv, &dout, scale, workspace, ws_bytes, pool);
  counting = false;
  const long counted = allocations.load();

  if (status != ROTOR_OK) return fail("forward failed");
  if (rotor_kv_cache_length(cache) != prompt + steps) return fail("cache length");
  std::printf("attention_no_alloc: %u-token prefill + %u decode steps on %u threads: %ld allocations\n", prompt,
              steps, threads, counted);
  rotor_pool_destroy(pool);
  rotor_table_destroy(table);
  std::free(cache_arena);
  std::free(workspace);
  if (counted != 0) return fail("allocated during forward calls");

  // The counter itself works: an allocation while counting is seen.
  counting = true;
  void *volatile probe = std::malloc(32);  // volatile: the pair must not be optimised away
  counting = false;
  std::free(probe);
  if (allocations.load() != 1) return fail("the counting malloc was not used");
  return 0;
}
