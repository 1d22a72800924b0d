// rotor_config_preset: every named model's RoPE fields (values from the models' config.json,
// written here a second time from the model cards), names are case-insensitive, bad input
// leaves the config as it was, and every preset makes a valid table.
#include <gtest/gtest.h>

#include <cstring>

#include "rotor/rotor.h"

namespace {

struct Expected {
  const char *name;
  uint32_t rotary_dim;
  rotor_pairing pairing;
  double base;
  uint32_t max_len;
  rotor_scaling scaling;
  float factor;
  uint32_t original_max_len;
};

const Expected kModels[] = {
    {"llama-2-7b", 128, ROTOR_PAIRING_HALF, 10000.0, 4096, ROTOR_SCALING_NONE, 1.0f, 0},
    {"llama-3.1-8b", 128, ROTOR_PAIRING_HALF, 500000.0, 131072, ROTOR_SCALING_LLAMA3, 8.0f, 8192},
    {"mistral-7b", 128, ROTOR_PAIRING_HALF, 10000.0, 32768, ROTOR_SCALING_NONE, 1.0f, 0},
    {"mistral-7b-v0.3", 128, ROTOR_PAIRING_HALF, 1e6, 32768, ROTOR_SCALING_NONE, 1.0f, 0},
    {"qwen2-7b", 128, ROTOR_PAIRING_HALF, 1e6, 32768, ROTOR_SCALING_NONE, 1.0f, 0},
    {"phi-3-mini-128k", 96, ROTOR_PAIRING_HALF, 10000.0, 131072, ROTOR_SCALING_LONGROPE, 32.0f, 4096},
    {"deepseek-v3", 64, ROTOR_PAIRING_INTERLEAVED, 10000.0, 163840, ROTOR_SCALING_YARN, 40.0f, 4096},
    {"gpt-j-6b", 64, ROTOR_PAIRING_INTERLEAVED, 10000.0, 2048, ROTOR_SCALING_NONE, 1.0f, 0},
    {"gpt-neox-20b", 24, ROTOR_PAIRING_HALF, 10000.0, 2048, ROTOR_SCALING_NONE, 1.0f, 0},
};

TEST(ScalingPresets, EveryModel) {
  for (const Expected &m : kModels) {
    rotor_config cfg;
    std::memset(&cfg, 0xab, sizeof cfg);  // the preset must fill every field itself
    ASSERT_EQ(rotor_config_preset(&cfg, m.name), ROTOR_OK) << m.name;
    EXPECT_EQ(cfg.struct_size, sizeof(rotor_config)) << m.name;
    EXPECT_EQ(cfg.rotary_dim, m.rotary_dim) << m.name;
    EXPECT_EQ(cfg.pairing, m.pairing) << m.name;
    EXPECT_EQ(cfg.base, m.base) << m.name;
    EXPECT_EQ(cfg.max_len, m.max_len) << m.name;
    EXPECT_EQ(cfg.scaling, m.scaling) << m.name;
    EXPECT_EQ(cfg.factor, m.factor) << m.name;
    EXPECT_EQ(cfg.original_max_len, m.original_max_len) << m.name;
    EXPECT_GT(rotor_table_arena_size(&cfg), 0u) << m.name << " must be a valid config";
  }
}

TEST(ScalingPresets, ScalingDetails) {
  rotor_config cfg;
  ASSERT_EQ(rotor_config_preset(&cfg, "llama-3.1-8b"), ROTOR_OK);
  EXPECT_EQ(cfg.low_freq_factor, 1.0f);
  EXPECT_EQ(cfg.high_freq_factor, 4.0f);

  ASSERT_EQ(rotor_config_preset(&cfg, "deepseek-v3"), ROTOR_OK);
  EXPECT_EQ(cfg.beta_fast, 32.0f);
  EXPECT_EQ(cfg.beta_slow, 1.0f);
  EXPECT_EQ(cfg.mscale, 1.0f);
  EXPECT_EQ(cfg.mscale_all_dim, 1.0f);
  EXPECT_EQ(cfg.attention_factor, 0.0f);

  ASSERT_EQ(rotor_config_preset(&cfg, "phi-3-mini-128k"), ROTOR_OK);
  ASSERT_NE(cfg.long_factor, nullptr);
  ASSERT_NE(cfg.short_factor, nullptr);
  // First, last and a middle value of each list of the checkpoint's config.json.
  EXPECT_EQ(cfg.long_factor[0], 1.0800000429153442f);
  EXPECT_EQ(cfg.long_factor[23], 44.96000289916992f);
  EXPECT_EQ(cfg.long_factor[47], 64.83999633789062f);
  EXPECT_EQ(cfg.short_factor[0], 1.0f);
  EXPECT_EQ(cfg.short_factor[24], 1.9899996519088745f);
  EXPECT_EQ(cfg.short_factor[47], 2.8399994373321533f);
  for (uint32_t i = 1; i < 48; ++i) {  // both lists are non-decreasing in the checkpoint
    EXPECT_LE(cfg.long_factor[i - 1], cfg.long_factor[i]) << i;
    EXPECT_LE(cfg.short_factor[i - 1], cfg.short_factor[i]) << i;
  }
}

TEST(ScalingPresets, NamesAreCaseInsensitive) {
  rotor_config a, b;
  ASSERT_EQ(rotor_config_preset(&a, "Llama-3.1-8B"), ROTOR_OK);
  ASSERT_EQ(rotor_config_preset(&b, "llama-3.1-8b"), ROTOR_OK);
  EXPECT_EQ(a.rotary_dim, b.rotary_dim);
  EXPECT_EQ(a.base, b.base);
  EXPECT_EQ(a.scaling, b.scaling);
  EXPECT_EQ(a.factor, b.factor);
  EXPECT_EQ(a.original_max_len, b.original_max_len);
  EXPECT_EQ(a.max_len, b.max_len);
}

TEST(ScalingPresets, BadInputLeavesConfigAlone) {
  rotor_config cfg, before;
  rotor_config_init(&cfg, 32);
  cfg.base = 1234.0;
  std::memcpy(&before, &cfg, sizeof cfg);  // padding included: the comparison is bytewise
  EXPECT_EQ(rotor_config_preset(&cfg, "llama-4-unknown"), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_preset(&cfg, ""), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_preset(&cfg, "llama-2-7b-extra"), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_preset(&cfg, "llama-2"), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_preset(&cfg, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(std::memcmp(&cfg, &before, sizeof cfg), 0);
  EXPECT_EQ(rotor_config_preset_sized(nullptr, sizeof(rotor_config), "llama-2-7b"), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ((rotor_config_preset)(nullptr, "llama-2-7b"), ROTOR_ERR_INVALID_ARGUMENT);
}

TEST(ScalingPresets, GptNeoXRotatesAQuarterOfItsHead) {
  // 24 of 96 dims: a [1, 1, 1, 96] head keeps dims 24..95 exactly.
  rotor_config cfg;
  ASSERT_EQ(rotor_config_preset(&cfg, "gpt-neox-20b"), ROTOR_OK);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  float x[96];
  for (int i = 0; i < 96; ++i) x[i] = float(i + 1);
  rotor_tensor v = rotor_tensor_bshd(x, ROTOR_DTYPE_F32, 1, 1, 1, 96);
  ASSERT_EQ(rotor_apply(t, &v, nullptr, 1000, ROTOR_FORWARD, nullptr), ROTOR_OK);
  int changed = 0;
  for (int i = 0; i < 24; ++i) changed += x[i] != float(i + 1);
  EXPECT_GT(changed, 12);
  for (int i = 24; i < 96; ++i) EXPECT_EQ(x[i], float(i + 1)) << i;
  rotor_table_destroy(t);
}

}  // namespace
