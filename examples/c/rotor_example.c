/*
 * rotor from plain C, built against the installed package (pkg-config or find_package).
 * Rotates the queries and keys of one prefill step (grouped-query attention: 8 query heads,
 * 2 key heads), checks every value against cos/sin computed here with libm, undoes the
 * rotation, and shows how an error is reported. Exits non-zero on any mismatch.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rotor/rotor.h>

enum { SEQ = 6, Q_HEADS = 8, K_HEADS = 2, HEAD_DIM = 64, ROTARY_DIM = 64, OFFSET = 100 };

static int check(rotor_status s, const char *what) {
  if (s != ROTOR_OK) fprintf(stderr, "%s: %s\n", what, rotor_status_string(s));
  return s == ROTOR_OK;
}

/* Largest error of the rotated tensor against the Llama (rotate_half) formula in double:
   pair (i, i + r/2) at position p turns by p * base^(-2i/r). */
static double max_error(const float *rotated, const float *original, uint32_t heads, double base) {
  double worst = 0.0;
  for (uint32_t s = 0; s < SEQ; ++s) {
    for (uint32_t h = 0; h < heads; ++h) {
      const size_t at = ((size_t)s * heads + h) * HEAD_DIM;
      for (uint32_t i = 0; i < ROTARY_DIM / 2; ++i) {
        const double angle = (double)(OFFSET + s) * pow(base, -2.0 * i / ROTARY_DIM);
        const double a = original[at + i], b = original[at + i + ROTARY_DIM / 2];
        const double want_a = a * cos(angle) - b * sin(angle);
        const double want_b = b * cos(angle) + a * sin(angle);
        worst = fmax(worst, fabs(rotated[at + i] - want_a));
        worst = fmax(worst, fabs(rotated[at + i + ROTARY_DIM / 2] - want_b));
      }
    }
  }
  return worst;
}

static double max_difference(const float *x, const float *y, size_t n) {
  double worst = 0.0;
  /* A plain comparison rather than fmax: Debian's aarch64 gcc 12.2 crashes (ICE) vectorising an
     fmax reduction over doubles at -O3. */
  for (size_t i = 0; i < n; ++i) {
    const double d = fabs((double)x[i] - (double)y[i]);
    if (d > worst) worst = d;
  }
  return worst;
}

int main(void) {
  const uint32_t linked = rotor_version();
  printf("rotor %u.%u.%u (header %d.%d.%d)\n", (unsigned)(linked >> 16), (unsigned)((linked >> 8) & 0xff),
         (unsigned)(linked & 0xff), ROTOR_VERSION_MAJOR, ROTOR_VERSION_MINOR, ROTOR_VERSION_PATCH);
  if ((linked >> 16) != ROTOR_VERSION_MAJOR) {
    fprintf(stderr, "header and library major versions differ\n");
    return 1;
  }

  rotor_config cfg;
  rotor_config_init(&cfg, ROTARY_DIM); /* Llama defaults: rotate_half pairing, base 10000 */
  cfg.max_len = 4096;
  rotor_table *table = NULL;
  if (!check(rotor_table_create(&table, &cfg), "rotor_table_create")) return 1;

  static float q[SEQ * Q_HEADS * HEAD_DIM], k[SEQ * K_HEADS * HEAD_DIM];
  static float q0[sizeof q / sizeof q[0]], k0[sizeof k / sizeof k[0]];
  for (size_t i = 0; i < sizeof q / sizeof q[0]; ++i) q[i] = (float)sin(0.37 * (double)i);
  for (size_t i = 0; i < sizeof k / sizeof k[0]; ++i) k[i] = (float)cos(0.11 * (double)i);
  memcpy(q0, q, sizeof q);
  memcpy(k0, k, sizeof k);

  /* [batch = 1, seq, heads, head_dim] views; positions NULL means OFFSET + s. */
  const rotor_tensor qv = rotor_tensor_bshd(q, ROTOR_DTYPE_F32, 1, SEQ, Q_HEADS, HEAD_DIM);
  const rotor_tensor kv = rotor_tensor_bshd(k, ROTOR_DTYPE_F32, 1, SEQ, K_HEADS, HEAD_DIM);
  int ok = check(rotor_apply_qk(table, &qv, &kv, NULL, OFFSET, ROTOR_FORWARD, NULL), "rotor_apply_qk");

  /* float results of values in [-1, 1]: a few float ulps. */
  const double q_error = max_error(q, q0, Q_HEADS, cfg.base), k_error = max_error(k, k0, K_HEADS, cfg.base);
  printf("forward: max error q %.2e, k %.2e\n", q_error, k_error);
  ok = ok && q_error < 1e-6 && k_error < 1e-6;

  ok = ok && check(rotor_apply_qk(table, &qv, &kv, NULL, OFFSET, ROTOR_INVERSE, NULL), "rotor_apply_qk inverse");
  const double q_back = max_difference(q, q0, sizeof q / sizeof q[0]);
  const double k_back = max_difference(k, k0, sizeof k / sizeof k[0]);
  printf("inverse: max difference to the original q %.2e, k %.2e\n", q_back, k_back);
  ok = ok && q_back < 1e-6 && k_back < 1e-6;

  /* A position past max_len is refused before anything is written. */
  int32_t positions[SEQ] = {0, 1, 2, 3, 4, 5000};
  memcpy(q0, q, sizeof q);
  const rotor_status refused = rotor_apply(table, &qv, positions, 0, ROTOR_FORWARD, NULL);
  printf("position 5000 with max_len 4096: %s\n", rotor_status_string(refused));
  ok = ok && refused == ROTOR_ERR_OUT_OF_RANGE && memcmp(q, q0, sizeof q) == 0;

  rotor_table_destroy(table);
  puts(ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
