// Attention factors: folded into the rows (row 0 is cos 0 = 1 and sin 0 = 0, so it holds the
// factor itself) and reported in the stats, for YaRN (plain, DeepSeek's mscale ratio, given
// explicitly) and LongRoPE (from the factor, given explicitly; the same in both factor sets).
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "support/scaling_reference.hpp"

namespace {

constexpr uint32_t kRotary = 16;

// Checks stats and row 0 of a call with sequence length seq_len against `want`.
void expect_factor(const rotor_config &cfg, double want, const std::string &what,
                   uint32_t seq_len = 1) {
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK) << what;
  const uint32_t half = cfg.rotary_dim / 2;
  std::vector<float> c(size_t{seq_len} * half), s(size_t{seq_len} * half);
  ASSERT_EQ(rotor_table_cos_sin(t, 0, seq_len, ROTOR_DTYPE_F32, 0, c.data(), s.data()), ROTOR_OK);
  for (uint32_t i = 0; i < half; ++i) {
    EXPECT_EQ(c[i], static_cast<float>(want)) << what << " pair " << i;
    EXPECT_EQ(s[i], 0.0f) << what;
  }
  rotor_table_stats st{};
  st.struct_size = sizeof st;
  ASSERT_EQ(rotor_table_stats_get(t, &st), ROTOR_OK);
  EXPECT_EQ(st.attention_factor, static_cast<float>(want)) << what;
  rotor_table_destroy(t);
}

rotor_config yarn(float factor) {
  return sref::base_config(kRotary, ROTOR_SCALING_YARN, 8192, 1024, factor);
}

TEST(ScalingAttention, YarnPlain) {
  // Hugging Face get_mscale(4) = 0.1 ln 4 + 1 = 1.13862943611198906...
  expect_factor(yarn(4.0f), 1.1386294361119891, "yarn factor 4");
  expect_factor(yarn(40.0f), 0.1 * std::log(40.0) + 1.0, "yarn factor 40");
  expect_factor(yarn(1.0f), 1.0, "yarn factor 1: no correction");
  rotor_config only_mscale = yarn(4.0f);
  only_mscale.mscale = 0.707f;  // without mscale_all_dim Hugging Face ignores mscale
  expect_factor(only_mscale, 1.1386294361119891, "yarn mscale alone");
}

TEST(ScalingAttention, YarnDeepSeekForm) {
  rotor_config v3;
  ASSERT_EQ(rotor_config_preset(&v3, "deepseek-v3"), ROTOR_OK);
  v3.max_len = 8192;  // the factor does not depend on it; keeps the test small
  expect_factor(v3, 1.0, "DeepSeek-V3: mscale == mscale_all_dim");
  rotor_config ratio = yarn(40.0f);
  ratio.mscale = 0.707f;
  ratio.mscale_all_dim = 1.0f;
  const double l40 = std::log(40.0);
  expect_factor(ratio, (0.1 * double(0.707f) * l40 + 1.0) / (0.1 * l40 + 1.0), "mscale ratio");
  rotor_config given = ratio;
  given.attention_factor = 1.5f;  // an explicit factor wins over both mscales
  expect_factor(given, 1.5, "explicit attention_factor");
}

TEST(ScalingAttention, LongRopeBothSets) {
  rotor_config phi3;
  ASSERT_EQ(rotor_config_preset(&phi3, "phi-3-mini-128k"), ROTOR_OK);
  phi3.max_len = 8192;
  // sqrt(1 + ln 32 / ln 4096) = sqrt(17 / 12).
  const double want = std::sqrt(17.0 / 12.0);
  expect_factor(phi3, want, "phi-3 short set", 4096);
  expect_factor(phi3, want, "phi-3 long set", 4097);
  rotor_config given = phi3;
  given.attention_factor = 1.25f;
  expect_factor(given, 1.25, "longrope explicit", 4097);
  rotor_config unscaled = phi3;
  unscaled.factor = 1.0f;
  expect_factor(unscaled, 1.0, "longrope factor 1");
}

TEST(ScalingAttention, OtherTypesCarryNone) {
  for (rotor_scaling s : {ROTOR_SCALING_NONE, ROTOR_SCALING_LINEAR, ROTOR_SCALING_NTK,
                          ROTOR_SCALING_DYNAMIC_NTK, ROTOR_SCALING_LLAMA3}) {
    rotor_config cfg = sref::base_config(kRotary, s, 8192, 1024, 4.0f);
    expect_factor(cfg, 1.0, "type " + std::to_string(int(s)), 5000);
  }
}

}  // namespace
