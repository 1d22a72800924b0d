/* rotor demo: a Llama-style table that grows while it rotates a prompt, then decode steps.
   Prints the table's growth events and stats, and checks every rotated value against a
   double-precision computation done here. Exit status 0 only if the check passes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "rotor/rotor.h"

enum { Q_HEADS = 32, KV_HEADS = 8, HEAD_DIM = 128, PROMPT = 1500, DECODE_STEPS = 300 };

static const char *reason_name(rotor_event_reason r) {
  switch (r) {
    case ROTOR_EVENT_GROW: return "grow";
    case ROTOR_EVENT_GROW_AHEAD: return "grow ahead";
    case ROTOR_EVENT_RESERVE: return "reserve";
    case ROTOR_EVENT_RESCALE: return "rescale";
  }
  return "?";
}

/* The library never prints: growth reaches us through this callback. */
static void on_table_event(void *user, const rotor_table_event *e) {
  (void)user;
  printf("  table event: %-10s rows %6u -> %6u\n", reason_name(e->reason), e->old_rows, e->new_rows);
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void fill_random(float *x, size_t n, unsigned seed) {
  size_t i;
  for (i = 0; i < n; ++i) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

/* Largest |rotated - expected| over the heads of token t at position p, expected computed in
   double from the original values (rotate_half pairing, theta_i = base^(-2i/d)). */
static double check_token(const float *rotated, const float *original, int heads, int32_t p, double base) {
  double worst = 0.0;
  int h, i;
  for (h = 0; h < heads; ++h) {
    const float *y = rotated + (size_t)h * HEAD_DIM, *x = original + (size_t)h * HEAD_DIM;
    for (i = 0; i < HEAD_DIM / 2; ++i) {
      double angle = (double)p * pow(base, -2.0 * i / HEAD_DIM);
      double a = x[i], b = x[i + HEAD_DIM / 2];
      double ea = a * cos(angle) - b * sin(angle), eb = b * cos(angle) + a * sin(angle);
      double da = fabs(y[i] - ea), db = fabs(y[i + HEAD_DIM / 2] - eb);
      if (da > worst) worst = da;
      if (db > worst) worst = db;
    }
  }
  return worst;
}

int main(void) {
  rotor_config cfg;
  rotor_table *table = NULL;
  rotor_pool *pool = NULL;
  rotor_table_stats stats;
  rotor_status status;
  size_t q_size = (size_t)PROMPT * Q_HEADS * HEAD_DIM, k_size = (size_t)PROMPT * KV_HEADS * HEAD_DIM;
  float *q = malloc(q_size * sizeof *q), *k = malloc(k_size * sizeof *k);
  float *q0 = malloc(q_size * sizeof *q0), *k0 = malloc(k_size * sizeof *k0);
  double worst = 0.0, t0, prefill_s, decode_s;
  int32_t t;

  if (!q || !k || !q0 || !k0) return 1;
  printf("rotor %u.%u.%u demo: Llama-style RoPE (rotate_half, head_dim %d, theta 500000), %d q / %d kv heads\n",
         rotor_version() >> 16, (rotor_version() >> 8) & 0xff, rotor_version() & 0xff, HEAD_DIM, Q_HEADS, KV_HEADS);

  rotor_config_init(&cfg, HEAD_DIM);
  cfg.base = 500000.0;
  cfg.initial_len = 256;   /* small on purpose: watch it grow */
  cfg.max_len = 8192;      /* the hard maximum: never more memory than this */
  cfg.growth = ROTOR_GROWTH_MARGIN;
  cfg.growth_margin = 0.25f;
  status = rotor_table_create(&table, &cfg);
  if (status != ROTOR_OK) {
    fprintf(stderr, "rotor_table_create: %s\n", rotor_status_string(status));
    return 1;
  }
  rotor_table_set_event_callback(table, on_table_event, NULL);
  rotor_pool_create(&pool, 2);

  /* Prefill: Q and K of the whole prompt in one fused, parallel call. */
  fill_random(q, q_size, 1);
  fill_random(k, k_size, 2);
  memcpy(q0, q, q_size * sizeof *q);
  memcpy(k0, k, k_size * sizeof *k);
  {
    rotor_tensor qv = rotor_tensor_bshd(q, ROTOR_DTYPE_F32, 1, PROMPT, Q_HEADS, HEAD_DIM);
    rotor_tensor kv = rotor_tensor_bshd(k, ROTOR_DTYPE_F32, 1, PROMPT, KV_HEADS, HEAD_DIM);
    printf("prefill: %d tokens\n", PROMPT);
    t0 = now_seconds();
    status = rotor_apply_qk(table, &qv, &kv, NULL, 0, ROTOR_FORWARD, pool);
    prefill_s = now_seconds() - t0;
    if (status != ROTOR_OK) {
      fprintf(stderr, "prefill: %s\n", rotor_status_string(status));
      return 1;
    }
  }
  for (t = 0; t < PROMPT; t += 97) {
    double e = check_token(q + (size_t)t * Q_HEADS * HEAD_DIM, q0 + (size_t)t * Q_HEADS * HEAD_DIM, Q_HEADS, t, cfg.base);
    double f = check_token(k + (size_t)t * KV_HEADS * HEAD_DIM, k0 + (size_t)t * KV_HEADS * HEAD_DIM, KV_HEADS, t, cfg.base);
    if (e > worst) worst = e;
    if (f > worst) worst = f;
  }

  /* Decode: one token at a time, positions PROMPT, PROMPT + 1, ... (on the calling thread). */
  printf("decode: %d steps from position %d\n", DECODE_STEPS, PROMPT);
  decode_s = 0.0;
  for (t = PROMPT; t < PROMPT + DECODE_STEPS; ++t) {
    float qt[Q_HEADS * HEAD_DIM], kt[KV_HEADS * HEAD_DIM], qt0[Q_HEADS * HEAD_DIM];
    rotor_tensor qv = rotor_tensor_bshd(qt, ROTOR_DTYPE_F32, 1, 1, Q_HEADS, HEAD_DIM);
    rotor_tensor kv = rotor_tensor_bshd(kt, ROTOR_DTYPE_F32, 1, 1, KV_HEADS, HEAD_DIM);
    double e;
    fill_random(qt, Q_HEADS * HEAD_DIM, (unsigned)t);
    fill_random(kt, KV_HEADS * HEAD_DIM, (unsigned)t + 7u);
    memcpy(qt0, qt, sizeof qt);
    t0 = now_seconds();
    status = rotor_apply_qk(table, &qv, &kv, &t, 0, ROTOR_FORWARD, pool);
    decode_s += now_seconds() - t0;
    if (status != ROTOR_OK) {
      fprintf(stderr, "decode at %d: %s\n", t, rotor_status_string(status));
      return 1;
    }
    e = check_token(qt, qt0, Q_HEADS, t, cfg.base);
    if (e > worst) worst = e;
  }

  /* A position past the hard maximum is refused, and changes nothing. */
  {
    int32_t beyond = (int32_t)cfg.max_len;
    float one[HEAD_DIM] = {0};
    rotor_tensor v = rotor_tensor_bshd(one, ROTOR_DTYPE_F32, 1, 1, 1, HEAD_DIM);
    status = rotor_apply(table, &v, &beyond, 0, ROTOR_FORWARD, NULL);
    printf("position %d (max_len %u): %s\n", beyond, cfg.max_len, rotor_status_string(status));
  }

  stats.struct_size = sizeof stats;
  rotor_table_stats_get(table, &stats);
  printf("table: %u rows of %u, %llu KiB in use of a %llu KiB arena, %u grow events\n", stats.rows, stats.max_len,
         (unsigned long long)(stats.bytes_in_use >> 10), (unsigned long long)(stats.arena_bytes >> 10), stats.grow_events);
  printf("kernel: %s; prefill %.3f ms (%.2f us/token); decode %.2f us/token\n", rotor_kernel_name(), prefill_s * 1e3,
         prefill_s * 1e6 / PROMPT, decode_s * 1e6 / DECODE_STEPS);
  printf("check against double precision: max |error| = %.3g -> %s\n", worst, worst < 1e-5 ? "PASS" : "FAIL");

  rotor_pool_destroy(pool);
  rotor_table_destroy(table);
  free(q);
  free(k);
  free(q0);
  free(k0);
  return worst < 1e-5 ? 0 : 1;
}
