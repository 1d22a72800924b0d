// Every scaling type against the long-double reference of its published formula: rotations
// through rotor_apply (both pairings, partial rotary dims, positions across the whole table
// including past original_max_len) and rows through rotor_table_cos_sin.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>

#include "support/scaling_reference.hpp"

namespace {

using sref::LD;

constexpr uint32_t kRotary = 32;
constexpr uint32_t kHeadDim = 40;  // partial: 8 dims past the rotary ones must stay as they are
constexpr uint32_t kMaxLen = 1024;
constexpr uint32_t kOriginal = 256;

struct TypeCase {
  std::string name;
  rotor_config cfg;
};

// One config per scaling type (and the variants whose behaviour differs).
std::vector<TypeCase> type_cases(const sref::LongRopeFactors &lr) {
  std::vector<TypeCase> cases;
  auto make = [](rotor_scaling s, float factor) {
    return sref::base_config(kRotary, s, kMaxLen, kOriginal, factor);
  };
  cases.push_back({"none", make(ROTOR_SCALING_NONE, 1.0f)});
  cases.push_back({"linear", make(ROTOR_SCALING_LINEAR, 4.0f)});
  rotor_config ntk = make(ROTOR_SCALING_NTK, 2.0f);
  cases.push_back({"ntk_static", ntk});
  ntk.ntk_dynamic = 1;
  cases.push_back({"ntk_dynamic", ntk});
  cases.push_back({"dynamic_ntk", make(ROTOR_SCALING_DYNAMIC_NTK, 2.0f)});
  cases.push_back({"yarn", make(ROTOR_SCALING_YARN, 8.0f)});
  rotor_config deepseek = make(ROTOR_SCALING_YARN, 40.0f);
  deepseek.mscale = 0.707f;
  deepseek.mscale_all_dim = 1.0f;
  deepseek.beta_fast = 32.0f;
  deepseek.beta_slow = 1.0f;
  cases.push_back({"yarn_deepseek", deepseek});
  rotor_config llama3 = make(ROTOR_SCALING_LLAMA3, 8.0f);
  llama3.base = 500000.0;
  llama3.low_freq_factor = 1.0f;
  llama3.high_freq_factor = 4.0f;
  cases.push_back({"llama3", llama3});
  rotor_config longrope = make(ROTOR_SCALING_LONGROPE, 4.0f);
  longrope.long_factor = lr.long_f.data();
  longrope.short_factor = lr.short_f.data();
  cases.push_back({"longrope", longrope});
  return cases;
}

// Positions of one call: `count` values in [0, top], with top itself, and (when top is past
// it) original_max_len - 1, original_max_len and original_max_len + 1 among them.
std::vector<int32_t> call_positions(uint32_t count, uint32_t top, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<uint32_t> pick(0, top);
  std::vector<int32_t> pos(count);
  for (int32_t &p : pos) p = int32_t(pick(rng));
  pos[0] = int32_t(top);
  if (top > kOriginal + 1) {
    pos[1] = kOriginal - 1;
    pos[2] = kOriginal;
    pos[3] = kOriginal + 1;
  }
  return pos;
}

// Applies one call and checks it against the reference; returns the state after it.
sref::State check_apply(rotor_table *t, const rotor_config &cfg, const sref::State &table_state,
                        const std::vector<int32_t> &pos, const std::string &what) {
  const uint32_t heads = 2, seq = uint32_t(pos.size());
  std::mt19937 rng(uint32_t(pos.size() * 7919 + pos[0]));
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> x(size_t{seq} * heads * kHeadDim);
  for (float &v : x) v = dist(rng);
  const std::vector<float> input = x;
  rotor_tensor view = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, seq, heads, kHeadDim);
  EXPECT_EQ(rotor_apply(t, &view, pos.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK) << what;

  const uint32_t seq_len = uint32_t(*std::max_element(pos.begin(), pos.end())) + 1;
  const sref::State used = sref::call_state(cfg, table_state, seq_len);
  const std::vector<LD> theta = sref::inv_freq(cfg, used);
  const LD af = sref::attention_factor(cfg);
  const uint32_t half = kRotary / 2;
  int bad = 0;
  for (uint32_t s = 0; s < seq; ++s) {
    for (uint32_t h = 0; h < heads; ++h) {
      const size_t at = (size_t{s} * heads + h) * kHeadDim;
      for (uint32_t i = 0; i < half; ++i) {
        const uint32_t ia = cfg.pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
        const uint32_t ib = cfg.pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
        const LD c = sref::entry(theta[i], uint32_t(pos[s]), af, false);
        const LD sn = sref::entry(theta[i], uint32_t(pos[s]), af, true);
        const LD a = input[at + ia], b = input[at + ib];
        const LD want_a = a * c - b * sn, want_b = b * c + a * sn;
        if (std::fabs(LD(x[at + ia]) - want_a) > 3e-6L || std::fabs(LD(x[at + ib]) - want_b) > 3e-6L) {
          if (++bad <= 3)
            ADD_FAILURE() << what << ": position " << pos[s] << " pair " << i << " got (" << x[at + ia]
                          << ", " << x[at + ib] << ") want (" << double(want_a) << ", "
                          << double(want_b) << ")";
        }
      }
      for (uint32_t d = kRotary; d < kHeadDim; ++d)
        if (x[at + d] != input[at + d] && ++bad <= 3) ADD_FAILURE() << what << ": dim " << d << " changed";
    }
  }
  EXPECT_EQ(bad, 0) << what;
  return sref::after_call(cfg, table_state, seq_len);
}

// Reads rows [start, start + count) through rotor_table_cos_sin (both layouts) and checks
// every entry against the contract; returns the state after the call.
sref::State check_rows(rotor_table *t, const rotor_config &cfg, const sref::State &table_state,
                       uint32_t start, uint32_t count, int duplicated, const std::string &what) {
  const uint32_t half = cfg.rotary_dim / 2, width = duplicated ? 2 * half : half;
  std::vector<float> c(size_t{count} * width), s(size_t{count} * width);
  EXPECT_EQ(rotor_table_cos_sin(t, start, count, ROTOR_DTYPE_F32, duplicated, c.data(), s.data()), ROTOR_OK);
  const uint32_t seq_len = start + count;
  const sref::State used = sref::call_state(cfg, table_state, seq_len);
  const std::vector<LD> theta = sref::inv_freq(cfg, used);
  const LD af = sref::attention_factor(cfg);
  int bad = 0;
  for (uint32_t row = 0; row < count; ++row) {
    for (uint32_t j = 0; j < width; ++j) {
      const uint32_t i = j % half;
      const uint32_t p = start + row;
      const size_t at = size_t{row} * width + j;
      if (!sref::within_contract(c[at], sref::entry(theta[i], p, af, false)) ||
          !sref::within_contract(s[at], sref::entry(theta[i], p, af, true))) {
        if (++bad <= 3)
          ADD_FAILURE() << what << ": row " << p << " entry " << j << " cos " << c[at] << " want "
                        << double(sref::entry(theta[i], p, af, false));
      }
    }
  }
  EXPECT_EQ(bad, 0) << what;
  return sref::after_call(cfg, table_state, seq_len);
}

TEST(ScalingTypes, ApplyMatchesReferenceAcrossRangeBothPairings) {
  sref::LongRopeFactors lr(kRotary / 2);
  for (const TypeCase &tc : type_cases(lr)) {
    for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
      rotor_config cfg = tc.cfg;
      cfg.pairing = pairing;
      rotor_table *t = nullptr;
      ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK) << tc.name;
      const std::string what = tc.name + (pairing == ROTOR_PAIRING_HALF ? " half" : " interleaved");
      sref::State st = sref::initial_state(cfg);
      // Short, then the whole range (past original_max_len), back to short, then a middle
      // length: every adaptive type changes state at least twice on the way.
      st = check_apply(t, cfg, st, call_positions(24, 200, 1), what + " short");
      st = check_apply(t, cfg, st, call_positions(40, kMaxLen - 1, 2), what + " full");
      st = check_apply(t, cfg, st, call_positions(24, 100, 3), what + " short again");
      st = check_apply(t, cfg, st, call_positions(40, 600, 4), what + " middle");
      st = check_apply(t, cfg, st, call_positions(8, kOriginal - 1, 5), what + " at original");
      rotor_table_destroy(t);
    }
  }
}

TEST(ScalingTypes, RowsMatchReferenceInBothLayouts) {
  sref::LongRopeFactors lr(kRotary / 2);
  for (const TypeCase &tc : type_cases(lr)) {
    rotor_table *t = nullptr;
    ASSERT_EQ(rotor_table_create(&t, &tc.cfg), ROTOR_OK) << tc.name;
    sref::State st = sref::initial_state(tc.cfg);
    st = check_rows(t, tc.cfg, st, 0, 64, 0, tc.name + " [0,64)");
    st = check_rows(t, tc.cfg, st, kOriginal - 8, 9, 1, tc.name + " to original");
    st = check_rows(t, tc.cfg, st, kOriginal - 8, 10, 0, tc.name + " past original");
    st = check_rows(t, tc.cfg, st, kMaxLen - 32, 32, 1, tc.name + " top");
    st = check_rows(t, tc.cfg, st, 5, 20, 0, tc.name + " short again");
    rotor_table_destroy(t);
  }
}

TEST(ScalingTypes, LinearIsPositionInterpolation) {
  // Position p with factor s rotates exactly as position p / s unscaled: p = 4q with s = 4
  // gives the unscaled row of q (both computed in double from the same theta / 4 = theta * 0.25).
  rotor_config scaled = sref::base_config(kRotary, ROTOR_SCALING_LINEAR, kMaxLen, 0, 4.0f);
  rotor_config plain = sref::base_config(kRotary, ROTOR_SCALING_NONE, kMaxLen, 0, 1.0f);
  rotor_table *ts = nullptr, *tp = nullptr;
  ASSERT_EQ(rotor_table_create(&ts, &scaled), ROTOR_OK);
  ASSERT_EQ(rotor_table_create(&tp, &plain), ROTOR_OK);
  const uint32_t half = kRotary / 2;
  std::vector<float> cs(half), ss(half), cp(half), sp(half);
  for (uint32_t q : {1u, 7u, 100u, 255u}) {
    ASSERT_EQ(rotor_table_cos_sin(ts, 4 * q, 1, ROTOR_DTYPE_F32, 0, cs.data(), ss.data()), ROTOR_OK);
    ASSERT_EQ(rotor_table_cos_sin(tp, q, 1, ROTOR_DTYPE_F32, 0, cp.data(), sp.data()), ROTOR_OK);
    for (uint32_t i = 0; i < half; ++i) {
      EXPECT_EQ(cs[i], cp[i]) << q << " " << i;
      EXPECT_EQ(ss[i], sp[i]) << q << " " << i;
    }
  }
  rotor_table_destroy(ts);
  rotor_table_destroy(tp);
}

}  // namespace
