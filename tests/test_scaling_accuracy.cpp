// Accuracy of scaled tables up to max_len = 1,048,576: at a few thousand positions spread over
// the range (the top included), every cos and sin entry is within 1 ulp of the correctly
// rounded float of the exact value, or within 2^-26 absolute near zeros (the contract's bound:
// the double angle itself is only exact to ~1e-16 relative). The exact value comes from the
// long-double reference. Small rotary dims keep the million rows this needs cheap; the
// frequencies still span base^0 .. base^(-(r-2)/r), and pair 0 (theta = 1, or 1/s) is the one
// whose angle reaches 2^20 radians.
#include <gtest/gtest.h>

#include <cfloat>
#include <limits>
#include <random>
#include <string>

#include "support/scaling_reference.hpp"

namespace {

using sref::LD;

constexpr uint32_t kMaxLen = 1u << 20;
constexpr uint32_t kOriginal = 8192;

// Positions to check: the top rows, both sides of original_max_len, and random ones.
std::vector<uint32_t> sample_positions(uint32_t seed) {
  std::vector<uint32_t> pos = {0, 1, kOriginal - 1, kOriginal, kOriginal + 1, kMaxLen - 2, kMaxLen - 1};
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> pick(0, kMaxLen - 1);
  while (pos.size() < 3000) pos.push_back(pick(rng));
  return pos;
}

// Checks the rows of one call whose largest position is max_len - 1 (so adaptive types are in
// their state for seq_len = max_len) at the sampled positions. The rows are read through
// rotor_apply on unit vectors: pair (a, b) = (1, 0) becomes (1*cos - 0*sin, 0*cos + 1*sin),
// which is exactly (cos, sin) in float, and one call with every sampled position reads them
// all in the same state (a rotor_table_cos_sin call per position would be a call with its own
// sequence length, which switches LongRoPE and dynamic NTK back to their short state).
void check_table(const rotor_config &cfg, const std::string &what) {
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK) << what;
  const uint32_t r = cfg.rotary_dim, half = r / 2;
  const std::vector<uint32_t> sampled = sample_positions(r * 31 + uint32_t(cfg.scaling));
  std::vector<int32_t> positions(sampled.begin(), sampled.end());
  std::vector<float> x(positions.size() * r, 0.0f);
  for (size_t token = 0; token < positions.size(); ++token)
    for (uint32_t i = 0; i < half; ++i) x[token * r + i] = 1.0f;  // HALF pairing: a = dim i
  rotor_tensor view = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, uint32_t(positions.size()), 1, r);
  ASSERT_EQ(rotor_apply(t, &view, positions.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK) << what;

  const sref::State st = sref::call_state(cfg, sref::initial_state(cfg), kMaxLen);
  const std::vector<LD> theta = sref::inv_freq(cfg, st);
  const LD af = sref::attention_factor(cfg);
  int bad = 0;
  for (size_t token = 0; token < sampled.size(); ++token) {
    const uint32_t p = sampled[token];
    for (uint32_t i = 0; i < half; ++i) {
      const float got_c = x[token * r + i], got_s = x[token * r + half + i];
      const LD want_c = sref::entry(theta[i], p, af, false), want_s = sref::entry(theta[i], p, af, true);
      if (!sref::within_contract(got_c, want_c) || !sref::within_contract(got_s, want_s)) {
        if (++bad <= 5)
          ADD_FAILURE() << what << ": position " << p << " pair " << i << " cos " << got_c << " (want "
                        << double(want_c) << ") sin " << got_s << " (want " << double(want_s) << ")";
      }
    }
  }
  EXPECT_EQ(bad, 0) << what;
  // The same rows through rotor_table_cos_sin, where a one-row call is in the same state (the
  // types whose state a sequence length of max_len and of p + 1 agree on).
  std::vector<float> c(half), s(half);
  const sref::State table_state = sref::after_call(cfg, sref::initial_state(cfg), kMaxLen);
  for (size_t token = 0; token < sampled.size(); token += 97) {
    const uint32_t p = sampled[token];
    const sref::State one = sref::call_state(cfg, table_state, p + 1);
    if (one.long_set != st.long_set || one.dynamic_len != st.dynamic_len || one.ntk_k != st.ntk_k) continue;
    ASSERT_EQ(rotor_table_cos_sin(t, p, 1, ROTOR_DTYPE_F32, 0, c.data(), s.data()), ROTOR_OK);
    for (uint32_t i = 0; i < half; ++i) {
      EXPECT_EQ(c[i], x[token * r + i]) << what << " " << p;
      EXPECT_EQ(s[i], x[token * r + half + i]) << what << " " << p;
    }
  }
  rotor_table_destroy(t);
}

rotor_config accuracy_config(uint32_t rotary_dim, rotor_scaling scaling, float factor) {
  rotor_config cfg = sref::base_config(rotary_dim, scaling, kMaxLen, kOriginal, factor);
  cfg.growth = ROTOR_GROWTH_EXACT;  // one growth to the top, no margin past it
  return cfg;
}

class ScalingAccuracy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::numeric_limits<LD>::digits <= DBL_MANT_DIG)
      std::printf("note: long double is double here; the reference is only as exact as double\n");
  }
};

TEST_F(ScalingAccuracy, Unscaled) { check_table(accuracy_config(16, ROTOR_SCALING_NONE, 1.0f), "none"); }

TEST_F(ScalingAccuracy, Linear) { check_table(accuracy_config(8, ROTOR_SCALING_LINEAR, 3.0f), "linear"); }

TEST_F(ScalingAccuracy, NtkAtTheTop) {
  // k = 4: es = 32768, so a call at the top runs with k' = 128 (static) or adopts it.
  check_table(accuracy_config(8, ROTOR_SCALING_NTK, 4.0f), "ntk static");
  rotor_config dyn = accuracy_config(8, ROTOR_SCALING_NTK, 4.0f);
  dyn.ntk_dynamic = 1;
  check_table(dyn, "ntk dynamic");
}

TEST_F(ScalingAccuracy, DynamicNtk) {
  check_table(accuracy_config(8, ROTOR_SCALING_DYNAMIC_NTK, 2.0f), "dynamic ntk");
}

TEST_F(ScalingAccuracy, Yarn) {
  rotor_config cfg = accuracy_config(8, ROTOR_SCALING_YARN, 32.0f);
  check_table(cfg, "yarn");
  cfg.mscale = 0.707f;
  cfg.mscale_all_dim = 1.0f;
  check_table(cfg, "yarn deepseek");
}

TEST_F(ScalingAccuracy, Llama3) {
  rotor_config cfg = accuracy_config(8, ROTOR_SCALING_LLAMA3, 8.0f);
  cfg.base = 500000.0;
  cfg.low_freq_factor = 1.0f;
  cfg.high_freq_factor = 4.0f;
  check_table(cfg, "llama3");
}

TEST_F(ScalingAccuracy, LongRope) {
  sref::LongRopeFactors lr(4);
  rotor_config cfg = accuracy_config(8, ROTOR_SCALING_LONGROPE, 128.0f);
  cfg.long_factor = lr.long_f.data();
  cfg.short_factor = lr.short_f.data();
  check_table(cfg, "longrope");
}

}  // namespace
