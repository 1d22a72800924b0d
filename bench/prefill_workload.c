/* A fixed attention workload for bench/mca-trace.sh: one f32 prefill of 512 tokens, 4 query
 * heads over 1 kv head (the GQA group of rotor_bench_attention's rows), head_dim 128, one
 * thread, pseudo-random inputs from a fixed seed. The public API only, so it links against any
 * release's static library; it prints the kernel set and one output element (the same number
 * for two builds whose kernels give the same bits). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "rotor/rotor.h"

enum { kTokens = 512, kQHeads = 4, kKvHeads = 1, kDim = 128, kMaxLen = 1024 };

static uint32_t next_random(uint32_t *state) {
  *state = *state * 1103515245u + 12345u;
  return *state;
}

/* Uniform in [-0.5, 0.5) from the generator's upper bits. */
static void fill(float *x, size_t count, uint32_t *state) {
  for (size_t i = 0; i < count; ++i) x[i] = (float)((next_random(state) >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void *aligned(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64); }

int main(void) {
  rotor_config cfg;
  rotor_config_init(&cfg, kDim);
  cfg.max_len = kMaxLen;
  rotor_table *table = NULL;
  if (rotor_table_create(&table, &cfg) != ROTOR_OK) return 1;
  const size_t arena_bytes = rotor_kv_cache_arena_size(kKvHeads, kDim, kMaxLen, ROTOR_DTYPE_F32);
  void *arena = aligned(arena_bytes);
  rotor_kv_cache *cache = NULL;
  if (rotor_kv_cache_init(&cache, kKvHeads, kDim, kMaxLen, ROTOR_DTYPE_F32, arena, arena_bytes) != ROTOR_OK) return 1;
  const size_t q_count = (size_t)kTokens * kQHeads * kDim, kv_count = (size_t)kTokens * kKvHeads * kDim;
  float *q = aligned(q_count * sizeof(float)), *k = aligned(kv_count * sizeof(float));
  float *v = aligned(kv_count * sizeof(float)), *out = aligned(q_count * sizeof(float));
  uint32_t state = 1;
  fill(q, q_count, &state);
  fill(k, kv_count, &state);
  fill(v, kv_count, &state);
  rotor_tensor tq = rotor_tensor_bshd(q, ROTOR_DTYPE_F32, 1, kTokens, kQHeads, kDim);
  rotor_tensor tk = rotor_tensor_bshd(k, ROTOR_DTYPE_F32, 1, kTokens, kKvHeads, kDim);
  rotor_tensor tv = rotor_tensor_bshd(v, ROTOR_DTYPE_F32, 1, kTokens, kKvHeads, kDim);
  rotor_tensor to = rotor_tensor_bshd(out, ROTOR_DTYPE_F32, 1, kTokens, kQHeads, kDim);
  const size_t workspace_bytes = rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, kTokens, 1);
  void *workspace = aligned(workspace_bytes);
  /* Any fixed scale serves a comparison of two builds; 4 spreads the weights more than 1/sqrt(128). */
  if (rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 4.0f, workspace, workspace_bytes, NULL) != ROTOR_OK) {
    fprintf(stderr, "prefill_workload: %s\n", rotor_last_error_message());
    return 1;
  }
  printf("%s %.9g\n", rotor_kernel_name(), (double)out[12345]);
  free(workspace);
  free(out);
  free(v);
  free(k);
  free(q);
  free(arena);
  return 0;
}
