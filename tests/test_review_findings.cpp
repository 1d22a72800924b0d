// The 1.1 review's findings on the C interface, each as it was reported: LongRoPE factor arrays
// read past their end, presets silently cut down to an older struct, a stats size that cuts a
// field, the tensor's implicit padding, errors without a reason, and presets no one can list.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "rotor/rotor.h"

namespace {

constexpr unsigned char kGuard = 0xA5;

// rotor_tensor's padding is a named field at the offset the compiler used to leave as a hole,
// so the strides stay where 1.0 put them and an FFI can lay the struct out field by field.
// (reserved_0 exists on 64-bit targets only, as in the header.)
#if UINTPTR_MAX > 0xffffffffu
static_assert(offsetof(rotor_tensor, reserved_0) == 28 && offsetof(rotor_tensor, stride_batch) == 32 &&
                  sizeof(rotor_tensor) == 56,
              "rotor_tensor on LP64: explicit padding at 28, strides at 1.0's offsets");
#else
static_assert(offsetof(rotor_tensor, stride_batch) == 24 && sizeof(rotor_tensor) == 48,
              "rotor_tensor on ILP32: no padding");
#endif

// Reported under ASan: global-buffer-overflow of the preset's 48 floats in validate_scaling.
TEST(ReviewFindings, PresetLongRopeFactorsUnderAnotherRotaryDimAreRefused) {
  rotor_config cfg;
  ASSERT_EQ(rotor_config_preset(&cfg, "phi-3-mini-128k"), ROTOR_OK);
  EXPECT_EQ(cfg.factor_count, 48u);
  for (uint32_t rotary_dim : {128u, 98u, 64u}) {
    cfg.rotary_dim = rotary_dim;
    rotor_table *t = nullptr;
    EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT) << rotary_dim;
    EXPECT_EQ(t, nullptr);
    EXPECT_NE(std::string(rotor_last_error_message()).find("factor"), std::string::npos)
        << rotor_last_error_message();
    // A caller whose struct predates factor_count (0) is still refused: the library knows the
    // length of its own arrays.
    cfg.factor_count = 0;
    EXPECT_EQ(rotor_table_arena_size(&cfg), 0u) << rotary_dim;
    cfg.factor_count = 48;
  }
  cfg.rotary_dim = 96;
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  rotor_table_destroy(t);
}

TEST(ReviewFindings, FactorCountMustMatchTheCallersArrays) {
  std::vector<float> long_factors(32, 2.0f), short_factors(32, 1.0f);
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  cfg.scaling = ROTOR_SCALING_LONGROPE;
  cfg.factor = 4.0f;
  cfg.original_max_len = 1024;
  cfg.max_len = 8192;
  cfg.long_factor = long_factors.data();
  cfg.short_factor = short_factors.data();
  cfg.factor_count = 31;
  EXPECT_EQ(rotor_table_arena_size(&cfg), 0u);
  cfg.factor_count = 32;
  EXPECT_GT(rotor_table_arena_size(&cfg), 0u);
  cfg.factor_count = 0;  // not given (source written before 1.2): r/2 assumed, as before
  EXPECT_GT(rotor_table_arena_size(&cfg), 0u);
}

// Reported: a 1.0-size struct got qwen2-vl-7b as plain 1-D RoPE and gemma-4/full without
// rope_pairs, with ROTOR_OK.
TEST(ReviewFindings, PresetsThatNeedFieldsPastTheCallersStructAreRefused) {
  const size_t v1_0 = offsetof(rotor_config, short_factor) + sizeof(void *);
  const size_t v1_1 = offsetof(rotor_config, reserved_2) + sizeof(uint32_t);
  for (const char *name : {"qwen2-vl-7b", "qwen2.5-vl-7b", "qwen3-vl-8b", "qwen2-vl-vision",
                           "pixtral-12b-vision", "gemma-4/full"}) {
    std::vector<unsigned char> bytes(sizeof(rotor_config) + 16, kGuard);
    auto *cfg = reinterpret_cast<rotor_config *>(bytes.data());
    EXPECT_EQ(rotor_config_preset_sized(cfg, v1_0, name), ROTOR_ERR_UNSUPPORTED) << name;
    for (unsigned char b : bytes) ASSERT_EQ(b, kGuard) << name;
    EXPECT_EQ((rotor_config_preset)(cfg, name), ROTOR_ERR_UNSUPPORTED) << name;  // the 1.0 symbol
    EXPECT_EQ(rotor_config_preset_sized(cfg, v1_1, name), ROTOR_OK) << name;
  }
  // Presets whose fields a 1.0 struct holds still fill it, LongRoPE included (its arrays'
  // length is known to the library without factor_count).
  for (const char *name : {"llama-3.1-8b", "phi-3-mini-128k", "gemma-4/sliding", "deepseek-v3"}) {
    std::vector<unsigned char> bytes(sizeof(rotor_config) + 16, kGuard);
    auto *cfg = reinterpret_cast<rotor_config *>(bytes.data());
    EXPECT_EQ(rotor_config_preset_sized(cfg, v1_0, name), ROTOR_OK) << name;
    for (size_t i = v1_0; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard) << name;
  }
}

// Reported: a struct_size inside a uint64_t field was accepted and half the counter written.
TEST(ReviewFindings, StatsSizesThatCutAFieldAreRefusedUntouched) {
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  cfg.max_len = 256;
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  for (uint32_t size : {uint32_t{10}, uint32_t(offsetof(rotor_table_stats, bytes_in_use) + 4),
                        uint32_t(offsetof(rotor_table_stats, epoch) + 2), uint32_t{9}}) {
    std::vector<unsigned char> bytes(sizeof(rotor_table_stats) + 16, kGuard);
    auto *stats = reinterpret_cast<rotor_table_stats *>(bytes.data());
    stats->struct_size = size;
    EXPECT_EQ(rotor_table_stats_get(t, stats), ROTOR_ERR_INVALID_ARGUMENT) << size;
    for (size_t i = 4; i < bytes.size(); ++i) ASSERT_EQ(bytes[i], kGuard) << size;
  }
  for (uint32_t size : {uint32_t{8}, uint32_t{16}, uint32_t(offsetof(rotor_table_stats, epoch)),
                        uint32_t(sizeof(rotor_table_stats))}) {
    rotor_table_stats stats{};
    stats.struct_size = size;
    EXPECT_EQ(rotor_table_stats_get(t, &stats), ROTOR_OK) << size;
  }
  rotor_table_destroy(t);
}

// Reported: every cause was a bare INVALID_ARGUMENT.
TEST(ReviewFindings, ErrorsCarryTheirReason) {
  rotor_config cfg;
  rotor_config_init(&cfg, 63);
  rotor_table *t = nullptr;
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(rotor_last_error_message(), "rotary_dim is odd");
  EXPECT_EQ(rotor_config_preset(&cfg, "no-such-model"), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::string(rotor_last_error_message()).find("unknown preset"), std::string::npos);

  rotor_config_init(&cfg, 64);
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  EXPECT_STREQ(rotor_last_error_message(), "");  // a call that succeeds clears the reason
  std::vector<float> x(32, 1.0f);
  const rotor_tensor narrow = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, 32);
  EXPECT_EQ(rotor_apply(t, &narrow, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(rotor_last_error_message(), "rotary_dim exceeds the tensor's head_dim");
  std::vector<float> head(64, 1.0f);
  const rotor_tensor one = rotor_tensor_bshd(head.data(), ROTOR_DTYPE_F32, 1, 1, 1, 64);
  EXPECT_EQ(rotor_apply(t, &one, nullptr, cfg.max_len, ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_STRNE(rotor_last_error_message(), "");
  // Each thread has its own reason.
  std::string other;
  std::thread([&] { other = rotor_last_error_message(); }).join();
  EXPECT_EQ(other, "");
  rotor_table_destroy(t);
}

// Every entry point gives its reason, the CUDA functions of a build without CUDA included.
TEST(ReviewFindings, AttentionAndCudaCallsCarryTheirReason) {
  alignas(ROTOR_ARENA_ALIGNMENT) static unsigned char arena[1 << 16];
  rotor_kv_cache *cache = nullptr;
  EXPECT_EQ(rotor_kv_cache_init(&cache, 1, 8, 16, ROTOR_DTYPE_F32, arena + 8, sizeof arena - 8),
            ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(rotor_last_error_message(), "the arena is not 64-byte aligned");
  EXPECT_EQ(rotor_kv_cache_arena_size(1, 8, 0, ROTOR_DTYPE_F32), 0u);
  EXPECT_NE(std::string(rotor_last_error_message()).find("max_len"), std::string::npos);
  EXPECT_EQ(rotor_attention_workspace_size(6, 4, 8, 1, 1), 0u);
  EXPECT_NE(std::string(rotor_last_error_message()).find("multiple"), std::string::npos);
  ASSERT_EQ(rotor_kv_cache_init(&cache, 1, 8, 16, ROTOR_DTYPE_F32, arena, sizeof arena), ROTOR_OK);
  EXPECT_STREQ(rotor_last_error_message(), "");
}

// Reported: no API listed the presets, and common names were unknown.
TEST(ReviewFindings, EveryPresetIsListedAndUsable) {
  const uint32_t count = rotor_preset_count();
  ASSERT_GT(count, 20u);
  std::set<std::string> names;
  for (uint32_t i = 0; i < count; ++i) {
    const char *name = nullptr;
    ASSERT_EQ(rotor_preset_name(i, &name), ROTOR_OK) << i;
    ASSERT_NE(name, nullptr);
    EXPECT_TRUE(names.insert(name).second) << "listed twice: " << name;
    uint32_t layers = 99;
    EXPECT_EQ(rotor_preset_layers(name, &layers), ROTOR_OK) << name;
    // A name is a single-table preset or a per-layer model whose tables are presets.
    rotor_config cfg;
    if (layers == 0 || rotor_config_preset(&cfg, name) == ROTOR_OK) {
      ASSERT_EQ(rotor_config_preset(&cfg, name), ROTOR_OK) << name;
      // A valid config (llama-4-scout's 10M positions would not fit a 32-bit size_t: shortened).
      cfg.max_len = cfg.max_len < 4096 ? cfg.max_len : 4096;
      EXPECT_GT(rotor_table_arena_size(&cfg), 0u) << name;
    } else {
      const char *table = nullptr;
      ASSERT_EQ(rotor_preset_table_name(name, 0, &table), ROTOR_OK) << name;
      EXPECT_EQ(rotor_config_preset(&cfg, table), ROTOR_OK) << table;
    }
  }
  const char *untouched = "x";
  EXPECT_EQ(rotor_preset_name(count, &untouched), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(untouched, "x");
  EXPECT_EQ(rotor_preset_name(0, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  for (const char *alias : {"llama-3-8b", "llama-3.2-1b", "qwen2.5-7b", "gemma-3-4b", "gemma-4"})
    EXPECT_EQ(names.count(alias), 1u) << alias;

  rotor_config cfg;
  ASSERT_EQ(rotor_config_preset(&cfg, "llama-3.2-1b"), ROTOR_OK);
  EXPECT_EQ(cfg.rotary_dim, 64u);
  EXPECT_EQ(cfg.scaling, ROTOR_SCALING_LLAMA3);
  EXPECT_EQ(cfg.factor, 32.0f);
  ASSERT_EQ(rotor_config_preset(&cfg, "llama-3-8b"), ROTOR_OK);
  EXPECT_EQ(cfg.base, 500000.0);
  EXPECT_EQ(cfg.scaling, ROTOR_SCALING_NONE);
  EXPECT_EQ(cfg.max_len, 8192u);
  ASSERT_EQ(rotor_config_preset(&cfg, "Qwen2.5-7B"), ROTOR_OK);
  EXPECT_EQ(cfg.base, 1000000.0);
}

}  // namespace
