// The structs that cross the C ABI: layout pinned to rotor 1.0, enums 32 bits wide, and
// rotor_config / rotor_table_stats read and written at the caller's size, never past it.
// (A C program compiled with an older struct is tests/abi/older_caller.c.)
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <vector>

#include "support/reference.hpp"
#include "rotor/rotor.h"

namespace {

// rotor 1.0's layout: programs built against it must find every field where it was.
static_assert(offsetof(rotor_config, rotary_dim) == 4 && offsetof(rotor_config, pairing) == 8, "1.0 layout");
static_assert(offsetof(rotor_config, base) == 16 && offsetof(rotor_config, initial_len) == 24, "1.0 layout");
static_assert(offsetof(rotor_config, attention_factor) == 80 && offsetof(rotor_config, high_freq_factor) == 88,
              "1.0 layout");
static_assert(sizeof(void *) != 8 || (offsetof(rotor_config, long_factor) == 96 &&
                                      offsetof(rotor_config, short_factor) == 104 && sizeof(rotor_config) >= 112),
              "1.0 layout (LP64)");
static_assert(sizeof(void *) != 4 || (offsetof(rotor_config, long_factor) == 92 &&
                                      offsetof(rotor_config, short_factor) == 96),
              "1.0 layout (ILP32)");
static_assert(offsetof(rotor_table_stats, bytes_in_use) == 16 && offsetof(rotor_table_stats, epoch) == 48,
              "1.0 layout of the stats");
static_assert(sizeof(rotor_pairing) == 4 && sizeof(rotor_growth) == 4 && sizeof(rotor_scaling) == 4 &&
                  sizeof(rotor_dtype) == 4 && sizeof(rotor_status) == 4 && sizeof(rotor_direction) == 4 &&
                  sizeof(rotor_event_reason) == 4 && sizeof(rotor_rescale_policy) == 4,
              "enums are 32 bits wide");

constexpr unsigned char kGuard = 0xA5;

// The sizes a caller's struct may have: where each field ends.
std::vector<size_t> field_ends() {
  return {offsetof(rotor_config, rotary_dim) + 4, offsetof(rotor_config, pairing) + 4,
          offsetof(rotor_config, reserved_0) + 4, offsetof(rotor_config, base) + 8,
          offsetof(rotor_config, growth_threshold) + 4, offsetof(rotor_config, scaling) + 4,
          offsetof(rotor_config, ntk_dynamic) + 4, offsetof(rotor_config, reserved_1) + 4,
          offsetof(rotor_config, long_factor) + sizeof(void *), sizeof(rotor_config)};
}

TEST(StructAbi, ConfigInitWritesExactlyTheCallersSize) {
  rotor_config full;
  rotor_config_init(&full, 64);
  for (size_t size : field_ends()) {
    std::vector<unsigned char> bytes(sizeof(rotor_config) + 64, kGuard);
    auto *cfg = reinterpret_cast<rotor_config *>(bytes.data());
    ASSERT_EQ(rotor_config_init_sized(cfg, size, 64), ROTOR_OK) << size;
    EXPECT_EQ(cfg->struct_size, size);
    // The defaults it has room for, byte for byte those of a full struct (struct_size aside).
    EXPECT_EQ(std::memcmp(bytes.data() + 4, reinterpret_cast<const unsigned char *>(&full) + 4, size - 4), 0) << size;
    for (size_t i = size; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard) << "byte " << i << " of a " << size << "-byte struct";
  }
}

TEST(StructAbi, SizesThatCutAFieldOrExceedTheLibraryAreRefusedUntouched) {
  // Half a pointer exists on 64-bit targets only (on 32-bit ones long_factor + 4 is its end).
  const size_t half_pointer = sizeof(void *) == 8 ? offsetof(rotor_config, long_factor) + 4 : size_t{20};
  for (size_t size : {size_t{0}, size_t{4}, size_t{20}, half_pointer,
                      sizeof(rotor_config) + 8, sizeof(rotor_config) + 1}) {
    std::vector<unsigned char> bytes(sizeof(rotor_config) + 64, kGuard);
    auto *cfg = reinterpret_cast<rotor_config *>(bytes.data());
    EXPECT_EQ(rotor_config_init_sized(cfg, size, 64), ROTOR_ERR_INVALID_ARGUMENT) << size;
    EXPECT_EQ(rotor_config_preset_sized(cfg, size, "llama-2-7b"), ROTOR_ERR_INVALID_ARGUMENT) << size;
    for (unsigned char b : bytes) ASSERT_EQ(b, kGuard) << size;
  }
}

TEST(StructAbi, OlderConfigGetsDefaultsForTheFieldsItLacks) {
  // A struct ending before the scaling fields, with garbage where a newer struct would have them:
  // the library must not read past struct_size.
  const size_t older = offsetof(rotor_config, growth_threshold) + 4;
  rotor_config cfg;
  std::memset(&cfg, 0xFF, sizeof cfg);
  ASSERT_EQ(rotor_config_init_sized(&cfg, older, 32), ROTOR_OK);
  cfg.max_len = 1000;
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  rotor_table_stats stats;
  stats.struct_size = sizeof stats;
  ASSERT_EQ(rotor_table_stats_get(t, &stats), ROTOR_OK);
  EXPECT_EQ(stats.max_len, 1000u);
  EXPECT_EQ(stats.factor, 1.0f);  // scaling NONE, factor 1: the defaults, not the 0xFF bytes
  EXPECT_EQ(stats.reserved_0, 0u);
  rotor_table_destroy(t);
}

TEST(StructAbi, TheOneZeroSymbolsFillTheOneZeroStruct) {
  const size_t v1 = offsetof(rotor_config, short_factor) + sizeof(void *);
  std::vector<unsigned char> bytes(sizeof(rotor_config) + 64, kGuard);
  auto *cfg = reinterpret_cast<rotor_config *>(bytes.data());
  (rotor_config_init)(cfg, 64);
  EXPECT_EQ(cfg->struct_size, v1);
  for (size_t i = v1; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard);
  std::fill(bytes.begin(), bytes.end(), kGuard);
  EXPECT_EQ((rotor_config_preset)(cfg, "qwen2-7b"), ROTOR_OK);
  EXPECT_EQ(cfg->struct_size, v1);
  EXPECT_EQ(cfg->base, 1000000.0);
  for (size_t i = v1; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard);
}

TEST(StructAbi, StatsAtTheCallersSizeLargerRefused) {
  ref::Table table(ref::config(64));
  std::vector<unsigned char> bytes(sizeof(rotor_table_stats) + 32, kGuard);
  auto *stats = reinterpret_cast<rotor_table_stats *>(bytes.data());
  stats->struct_size = sizeof(rotor_table_stats) + 8;  // newer than the library
  EXPECT_EQ(rotor_table_stats_get(table, stats), ROTOR_ERR_INVALID_ARGUMENT);
  for (size_t i = 4; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard);
  stats->struct_size = offsetof(rotor_table_stats, epoch);  // before the appended fields
  EXPECT_EQ(rotor_table_stats_get(table, stats), ROTOR_OK);
  for (size_t i = offsetof(rotor_table_stats, epoch); i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard);
}

TEST(StructAbi, GettersReturnAStatus) {
  alignas(ROTOR_ARENA_ALIGNMENT) static unsigned char arena[1 << 16];
  rotor_kv_cache *cache = nullptr;
  ASSERT_EQ(rotor_kv_cache_init(&cache, 1, 8, 16, ROTOR_DTYPE_F32, arena, sizeof arena), ROTOR_OK);
  uint32_t length = 99;
  EXPECT_EQ(rotor_kv_cache_get_length(cache, &length), ROTOR_OK);
  EXPECT_EQ(length, 0u);
  EXPECT_EQ(rotor_kv_cache_get_length(nullptr, &length), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_get_length(cache, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(length, 0u);
  EXPECT_EQ(rotor_kv_cache_length(cache), 0u);  // the 1.0 form
}

}  // namespace
