/* A fixed RoPE workload for instruction counts, which (unlike times) do not depend on what else
   the machine runs: `valgrind --tool=callgrind` counts the same total for the same binary and
   library every time. Three 2048-token Q+K applies and 512 decode steps of Q+K (f32,
   rotate_half, Llama shapes: 32 q / 8 kv heads, 128 dims), through the public API only, so the
   one source builds against any rotor release (docs/performance.md compares two in one run). */
#include <stdio.h>
#include <stdlib.h>
#include "rotor/rotor.h"
int main(void) {
  rotor_config cfg;
  rotor_config_init(&cfg, 128);
  cfg.max_len = 4096;
  cfg.initial_len = 4096;
  rotor_table *t;
  if (rotor_table_create(&t, &cfg) != ROTOR_OK) return 1;
  float *q = malloc((size_t)2048 * 32 * 128 * 4), *k = malloc((size_t)2048 * 8 * 128 * 4);
  if (q == NULL || k == NULL) return 4;
  for (size_t i = 0; i < (size_t)2048 * 32 * 128; ++i) q[i] = (float)(i % 97) / 97.0f;
  for (size_t i = 0; i < (size_t)2048 * 8 * 128; ++i) k[i] = (float)(i % 89) / 89.0f;
  rotor_tensor tq = rotor_tensor_bshd(q, ROTOR_DTYPE_F32, 1, 2048, 32, 128), tk = rotor_tensor_bshd(k, ROTOR_DTYPE_F32, 1, 2048, 8, 128);
  for (int r = 0; r < 3; ++r)
    if (rotor_apply_qk(t, &tq, &tk, NULL, 0, ROTOR_FORWARD, NULL) != ROTOR_OK) return 2;
  rotor_tensor dq = rotor_tensor_bshd(q, ROTOR_DTYPE_F32, 1, 1, 32, 128), dk = rotor_tensor_bshd(k, ROTOR_DTYPE_F32, 1, 1, 8, 128);
  for (int s = 0; s < 512; ++s)
    if (rotor_apply_qk(t, &dq, &dk, NULL, 2048 + s, ROTOR_FORWARD, NULL) != ROTOR_OK) return 3;
  printf("%f\n", q[12345] + k[999]);
  free(q);
  free(k);
  rotor_table_destroy(t);
  return 0;
}
