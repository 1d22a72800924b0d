/* A caller compiled against an older, smaller rotor_config works with this library.
 *
 * `older_config` below is what a header from before some fields existed would have declared:
 * the same fields as rotor_config, in the same order, ending at growth_threshold (as if the
 * scaling fields had been appended in a later version). The program hands the library its own
 * sizeof, as rotor_config_init's macro does, and checks that
 *   - rotor_config_init_sized writes its defaults up to that size and not one byte further,
 *   - a table made from it equals (bit for bit, through cos/sin) a table made from today's
 *     struct with the same fields and defaults for the rest,
 *   - the presets fill an older struct too, without writing past it,
 *   - a struct larger than the library's own is refused, and nothing is written then.
 * C99, -Wall -Wextra -Wpedantic -Werror, linked against the shared library. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rotor/rotor.h"

typedef struct older_config {
  uint32_t struct_size;
  uint32_t rotary_dim;
  rotor_pairing pairing;
  uint32_t reserved_0;
  double base;
  uint32_t initial_len;
  uint32_t max_len;
  rotor_growth growth;
  uint32_t growth_increment;
  float growth_margin;
  float growth_threshold;
} older_config;

/* The older struct, then guard bytes the library must never touch. */
typedef struct guarded_config {
  older_config config;
  unsigned char guard[256];
} guarded_config;

static int failures = 0;
static void check(int ok, const char *what) {
  if (!ok) {
    printf("FAILED: %s\n", what);
    ++failures;
  }
}

static int guard_intact(const guarded_config *g) {
  for (size_t i = 0; i < sizeof g->guard; ++i)
    if (g->guard[i] != 0xA5) return 0;
  return 1;
}

int main(void) {
  guarded_config old;
  memset(&old, 0xA5, sizeof old);
  check(rotor_config_init_sized((rotor_config *)&old.config, sizeof old.config, 64) == ROTOR_OK,
        "init of an older struct");
  check(guard_intact(&old), "init wrote nothing past the older struct");
  check(old.config.struct_size == sizeof old.config, "struct_size is the caller's size");
  check(old.config.rotary_dim == 64 && old.config.base == 10000.0 && old.config.max_len == 32768,
        "defaults in the older struct");
  old.config.max_len = 4096;
  old.config.initial_len = 16;
  old.config.base = 500000.0;

  rotor_config today;
  rotor_config_init(&today, 64);
  today.max_len = 4096;
  today.initial_len = 16;
  today.base = 500000.0;

  rotor_table *from_old = NULL, *from_today = NULL;
  check(rotor_table_create(&from_old, (const rotor_config *)&old.config) == ROTOR_OK, "table from an older struct");
  check(rotor_table_create(&from_today, &today) == ROTOR_OK, "table from today's struct");
  check(rotor_table_arena_size((const rotor_config *)&old.config) == rotor_table_arena_size(&today),
        "same arena size");
  static float cos_old[100 * 32], sin_old[100 * 32], cos_today[100 * 32], sin_today[100 * 32];
  if (from_old != NULL && from_today != NULL) {
    check(rotor_table_cos_sin(from_old, 3000, 100, ROTOR_DTYPE_F32, 0, cos_old, sin_old) == ROTOR_OK, "rows");
    check(rotor_table_cos_sin(from_today, 3000, 100, ROTOR_DTYPE_F32, 0, cos_today, sin_today) == ROTOR_OK, "rows");
    check(memcmp(cos_old, cos_today, sizeof cos_old) == 0 && memcmp(sin_old, sin_today, sizeof sin_old) == 0,
          "the older struct's table has the same rows, bit for bit");
  }
  rotor_table_destroy(from_old);
  rotor_table_destroy(from_today);

  memset(&old, 0xA5, sizeof old);
  check(rotor_config_preset_sized((rotor_config *)&old.config, sizeof old.config, "llama-3.1-8b") == ROTOR_OK,
        "a preset into an older struct");
  check(guard_intact(&old), "the preset wrote nothing past the older struct");
  check(old.config.base == 500000.0 && old.config.rotary_dim == 128, "the preset's fields that fit");

  /* A struct larger than this library knows (a newer header): refused, nothing written. */
  {
    unsigned char bigger[sizeof(rotor_config) + 64];
    memset(bigger, 0x5A, sizeof bigger);
    check(rotor_config_init_sized((rotor_config *)(void *)bigger, sizeof bigger, 64) == ROTOR_ERR_INVALID_ARGUMENT,
          "init of a larger struct is refused");
    for (size_t i = 0; i < sizeof bigger; ++i)
      if (bigger[i] != 0x5A) {
        check(0, "nothing written on refusal");
        break;
      }
  }
  today.struct_size = (uint32_t)sizeof(rotor_config) + 8;
  {
    rotor_table *refused = NULL;
    check(rotor_table_create(&refused, &today) == ROTOR_ERR_INVALID_ARGUMENT && refused == NULL,
          "a table from a larger struct is refused");
  }

  printf("%s: older and larger rotor_config structs\n", failures == 0 ? "passed" : "FAILED");
  return failures == 0 ? 0 : 1;
}
