/* The public header compiled as strict C99 (-std=c99 -Wall -Wextra -Wpedantic -Werror), used
   end to end from C: create a table, rotate one head, compare with cos/sin computed here;
   Qwen-VL position ids with the header's enums. */
#include <math.h>
#include <stdio.h>

#include "rotor/rotor.h"

static int fail(const char *what) {
  fprintf(stderr, "c99 test failed: %s\n", what);
  return 1;
}

int main(void) {
  rotor_config cfg;
  rotor_table *table = NULL;
  float head[8] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};
  float original[8];
  rotor_tensor x;
  rotor_table_stats stats;
  const int32_t position = 7;
  int i;

  if (rotor_version() != ((ROTOR_VERSION_MAJOR << 16) | (ROTOR_VERSION_MINOR << 8) | ROTOR_VERSION_PATCH))
    return fail("version");
  rotor_config_init(&cfg, 8);
  cfg.initial_len = 4;
  cfg.max_len = 64;
  if (rotor_table_create(&table, &cfg) != ROTOR_OK) return fail("create");
  for (i = 0; i < 8; ++i) original[i] = head[i];
  x = rotor_tensor_bshd(head, ROTOR_DTYPE_F32, 1, 1, 1, 8);
  if (rotor_apply(table, &x, &position, 0, ROTOR_FORWARD, NULL) != ROTOR_OK) return fail("apply");
  for (i = 0; i < 4; ++i) {
    /* half pairing: dims (i, i + 4), theta_i = 10000^(-2i/8) */
    double theta = 7.0 * pow(10000.0, -2.0 * i / 8.0);
    double a = original[i], b = original[i + 4];
    double want_a = a * cos(theta) - b * sin(theta);
    double want_b = b * cos(theta) + a * sin(theta);
    if (fabs(head[i] - want_a) > 1e-5 || fabs(head[i + 4] - want_b) > 1e-5) return fail("value");
  }
  stats.struct_size = sizeof stats;
  if (rotor_table_stats_get(table, &stats) != ROTOR_OK || stats.rows < 8) return fail("stats");
  if (rotor_apply(table, &x, NULL, 64, ROTOR_FORWARD, NULL) != ROTOR_ERR_OUT_OF_RANGE) return fail("range");
  rotor_table_destroy(table);
  {
    /* Qwen-VL ids from C99: text, a 1 x 4 x 4 image (2 x 2 merged tokens), text. */
    const uint8_t kinds[6] = {ROTOR_VL_KIND_TEXT, ROTOR_VL_KIND_IMAGE, ROTOR_VL_KIND_IMAGE, ROTOR_VL_KIND_IMAGE,
                              ROTOR_VL_KIND_IMAGE, ROTOR_VL_KIND_TEXT};
    const uint32_t grid[3] = {1, 4, 4};
    int32_t ids[18], next = -1;
    if (rotor_vl_position_ids(ROTOR_VL_QWEN2_VL, ROTOR_VL_RULE_TRANSFORMERS_5, kinds, 6, grid, 1, NULL, 0, NULL, 0, 2,
                              ids, 6, &next) != ROTOR_OK || next != 4 || ids[5] != 3 || ids[6 + 3] != 2)
      return fail("vl_position_ids");
  }
  printf("c99 header test passed (%s)\n", rotor_status_string(ROTOR_OK));
  return 0;
}
