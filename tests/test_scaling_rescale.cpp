// The rules that change a table's frequencies: NTK outliers (es boundaries, odd and fractional
// starting k, several outliers in a row, with and without ntk_dynamic), Hugging Face's dynamic
// NTK growth and reset, and LongRoPE's short/long switch. Each call's rows are checked against
// the reference for the state the rule says, and the table's stats and events are checked too.
#include <gtest/gtest.h>

#include <vector>

#include "support/scaling_reference.hpp"

namespace {

using sref::LD;

constexpr uint32_t kRotary = 16;
constexpr uint32_t kOriginal = 1024;

struct Events {
  std::vector<rotor_table_event> seen;
  static void record(void *user, const rotor_table_event *e) {
    static_cast<Events *>(user)->seen.push_back(*e);
  }
  uint32_t rescales() const {
    uint32_t n = 0;
    for (const rotor_table_event &e : seen) n += e.reason == ROTOR_EVENT_RESCALE;
    return n;
  }
  const rotor_table_event *last_rescale() const {
    for (auto it = seen.rbegin(); it != seen.rend(); ++it)
      if (it->reason == ROTOR_EVENT_RESCALE) return &*it;
    return nullptr;
  }
};

rotor_table_stats stats_of(rotor_table *t) {
  rotor_table_stats s{};
  s.struct_size = sizeof s;
  EXPECT_EQ(rotor_table_stats_get(t, &s), ROTOR_OK);
  return s;
}

// Rows [first, seq_len) of one call whose sequence length is seq_len (cos then sin, half each).
struct Rows {
  std::vector<float> cos, sin;
};
Rows read_call(rotor_table *t, uint32_t first, uint32_t seq_len) {
  const uint32_t count = seq_len - first, half = kRotary / 2;
  Rows r{std::vector<float>(size_t{count} * half), std::vector<float>(size_t{count} * half)};
  EXPECT_EQ(rotor_table_cos_sin(t, first, count, ROTOR_DTYPE_F32, 0, r.cos.data(), r.sin.data()), ROTOR_OK);
  return r;
}

// Whether rows read from `first` match the reference for `state` (every entry within the
// contract), checked at a few rows spread over the call.
bool rows_match(const rotor_config &cfg, const sref::State &state, const Rows &rows, uint32_t first) {
  const uint32_t half = kRotary / 2, count = uint32_t(rows.cos.size() / half);
  const std::vector<LD> theta = sref::inv_freq(cfg, state);
  const LD af = sref::attention_factor(cfg);
  for (uint32_t row : {0u, 1u, count / 3, count / 2, count - 2, count - 1}) {
    if (row >= count) continue;
    for (uint32_t i = 0; i < half; ++i) {
      const uint32_t p = first + row;
      if (!sref::within_contract(rows.cos[size_t{row} * half + i], sref::entry(theta[i], p, af, false)) ||
          !sref::within_contract(rows.sin[size_t{row} * half + i], sref::entry(theta[i], p, af, true)))
        return false;
    }
  }
  return true;
}

sref::State ntk_state(LD k) {
  sref::State s;
  s.ntk_k = k;
  return s;
}

rotor_config ntk_config(float k, int dynamic) {
  rotor_config cfg = sref::base_config(kRotary, ROTOR_SCALING_NTK, 64 * kOriginal, kOriginal, k);
  cfg.ntk_dynamic = dynamic;
  return cfg;
}

TEST(ScalingNtk, EsBoundaryAndOutlierK) {
  // k = 2: es = 2048. Sequence length 2048 is served by k; 2049 needs k' = 4 (3 is odd).
  for (int dynamic : {0, 1}) {
    rotor_config cfg = ntk_config(2.0f, dynamic);
    rotor_table *t = nullptr;
    ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
    const Rows at_es = read_call(t, 2000, 2048);
    EXPECT_TRUE(rows_match(cfg, ntk_state(2), at_es, 2000)) << dynamic;
    EXPECT_FALSE(rows_match(cfg, ntk_state(4), at_es, 2000)) << "the check must tell k apart";
    EXPECT_EQ(stats_of(t).rescale_events, 0u);
    const Rows past_es = read_call(t, 2000, 2049);
    EXPECT_TRUE(rows_match(cfg, ntk_state(4), past_es, 2000)) << dynamic;
    // The whole outlier call uses k': its low rows too, not only the rows past es.
    const Rows whole = read_call(t, 0, 2049);
    EXPECT_TRUE(rows_match(cfg, ntk_state(4), whole, 0)) << dynamic;
    rotor_table_destroy(t);
  }
}

TEST(ScalingNtk, OddAndFractionalStartingK) {
  struct Case {
    float k;
    uint32_t seq_len;
    LD want_k;
  };
  // k = 3: es = 3072 is still k; 3073 -> ceil 4 (even) -> 4; 4097 -> 5 -> 6.
  // k = 2.5: es = 2560; 2561 -> 3 -> 4. k = 1: es = 1024; 1025 -> 2.
  const Case cases[] = {{3.0f, 3072, 3}, {3.0f, 3073, 4}, {3.0f, 4097, 6}, {2.5f, 2560, 2.5L},
                        {2.5f, 2561, 4}, {1.0f, 1024, 1}, {1.0f, 1025, 2}, {5.0f, 5121, 6}};
  for (const Case &c : cases) {
    rotor_config cfg = ntk_config(c.k, 0);
    rotor_table *t = nullptr;
    ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
    const Rows rows = read_call(t, c.seq_len - 40, c.seq_len);
    EXPECT_TRUE(rows_match(cfg, ntk_state(c.want_k), rows, c.seq_len - 40))
        << "k " << c.k << " seq_len " << c.seq_len << " want k' " << double(c.want_k);
    rotor_table_destroy(t);
  }
}

TEST(ScalingNtk, StaticTableKeepsKAfterOutliers) {
  rotor_config cfg = ntk_config(2.0f, 0);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  Events events;
  ASSERT_EQ(rotor_table_set_event_callback(t, Events::record, &events), ROTOR_OK);
  const Rows before = read_call(t, 0, 2048);
  // Several outliers in a row, each with its own k', none adopted.
  const struct {
    uint32_t seq_len;
    LD k;
  } outliers[] = {{2049, 4}, {5000, 6}, {4096, 4}, {9000, 10}, {3000, 4}};
  for (const auto &o : outliers) {
    const Rows rows = read_call(t, o.seq_len - 64, o.seq_len);
    EXPECT_TRUE(rows_match(cfg, ntk_state(o.k), rows, o.seq_len - 64)) << o.seq_len;
    const rotor_table_stats st = stats_of(t);
    EXPECT_EQ(st.factor, 2.0f) << "a static table reports its own k";
    EXPECT_EQ(st.rescale_events, 0u);
    // The next ordinary call is bit for bit what it was before any outlier.
    const Rows after = read_call(t, 0, 2048);
    EXPECT_EQ(before.cos, after.cos) << o.seq_len;
    EXPECT_EQ(before.sin, after.sin) << o.seq_len;
  }
  EXPECT_EQ(events.rescales(), 0u);
  rotor_table_destroy(t);
}

TEST(ScalingNtk, DynamicTableAdoptsEachOutlier) {
  rotor_config cfg = ntk_config(2.0f, 1);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  Events events;
  ASSERT_EQ(rotor_table_set_event_callback(t, Events::record, &events), ROTOR_OK);
  EXPECT_EQ(stats_of(t).factor, 2.0f);
  const struct {
    uint32_t seq_len;
    LD k_after;         // the table's k once the call is done
    uint32_t rescales;  // total so far
  } steps[] = {{2048, 2, 0}, {2049, 4, 1}, {4096, 4, 1}, {4097, 6, 2},
               {9000, 10, 3}, {100, 10, 3}, {10240, 10, 3}, {10241, 12, 4}};
  for (const auto &s : steps) {
    const uint32_t first = s.seq_len > 50 ? s.seq_len - 50 : 0;
    const Rows rows = read_call(t, first, s.seq_len);
    EXPECT_TRUE(rows_match(cfg, ntk_state(s.k_after), rows, first)) << s.seq_len;
    const rotor_table_stats st = stats_of(t);
    EXPECT_EQ(st.factor, float(s.k_after)) << s.seq_len;
    EXPECT_EQ(st.rescale_events, s.rescales) << s.seq_len;
    EXPECT_EQ(events.rescales(), s.rescales) << s.seq_len;
  }
  const rotor_table_event *last = events.last_rescale();
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->old_factor, 10.0f);
  EXPECT_EQ(last->new_factor, 12.0f);
  EXPECT_EQ(last->struct_size, sizeof(rotor_table_event));
  rotor_table_destroy(t);
}

TEST(ScalingNtk, ArenaHoldsTheOutlierRows) {
  // The outlier path never allocates: its rows are counted in the arena, and a table built in
  // exactly that many caller bytes serves an outlier at max_len.
  rotor_config plain = ntk_config(2.0f, 0);
  plain.scaling = ROTOR_SCALING_NONE;
  rotor_config cfg = ntk_config(2.0f, 0);
  cfg.max_len = 8192;
  plain.max_len = 8192;
  const size_t row_bytes = size_t{8192} * kRotary * sizeof(float);
  const size_t with_outliers = rotor_table_arena_size(&cfg);
  ASSERT_GT(with_outliers, 0u);
  EXPECT_GE(with_outliers, rotor_table_arena_size(&plain) + row_bytes);
  std::vector<unsigned char> storage(with_outliers + ROTOR_ARENA_ALIGNMENT);
  void *arena = storage.data() + (ROTOR_ARENA_ALIGNMENT -
                                  reinterpret_cast<uintptr_t>(storage.data()) % ROTOR_ARENA_ALIGNMENT);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_init(&t, &cfg, arena, with_outliers), ROTOR_OK);
  const Rows rows = read_call(t, 8100, 8192);
  EXPECT_TRUE(rows_match(cfg, ntk_state(8), rows, 8100));
  rotor_table_destroy(t);
}

TEST(ScalingDynamicNtk, BaseGrowsAndResets) {
  rotor_config cfg = sref::base_config(kRotary, ROTOR_SCALING_DYNAMIC_NTK, 8 * kOriginal, kOriginal, 2.0f);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  Events events;
  ASSERT_EQ(rotor_table_set_event_callback(t, Events::record, &events), ROTOR_OK);
  auto len_state = [](uint32_t len) {
    sref::State s;
    s.dynamic_len = len;
    return s;
  };
  const struct {
    uint32_t seq_len;
    uint32_t base_len;  // the length the base is computed for during and after the call
    uint32_t rescales;
  } steps[] = {
      {512, kOriginal, 0},         // within the original context: the original base
      {kOriginal, kOriginal, 0},   // exactly the original context: bracket 1, unchanged
      {3000, 3000, 1},             // grows with the sequence
      {2000, 3000, 1},             // shorter but not below the original: kept (HF)
      {4000, 4000, 2},             // grows again
      {kOriginal, 4000, 2},        // equal to the original is not "shorter": kept
      {kOriginal - 1, kOriginal, 3},  // shorter than the original: back to the original base
      {1500, 1500, 4},
  };
  for (const auto &s : steps) {
    const uint32_t first = s.seq_len - 40;
    const Rows rows = read_call(t, first, s.seq_len);
    EXPECT_TRUE(rows_match(cfg, len_state(s.base_len), rows, first)) << s.seq_len;
    const rotor_table_stats st = stats_of(t);
    EXPECT_EQ(st.rescale_events, s.rescales) << s.seq_len;
    EXPECT_EQ(st.factor, 2.0f);
    EXPECT_EQ(st.attention_factor, 1.0f);
  }
  EXPECT_EQ(events.rescales(), 4u);
  // The check tells the bases apart: 3000's rows are not 4000's.
  const Rows rows = read_call(t, 1400, 1500);
  EXPECT_FALSE(rows_match(cfg, len_state(4000), rows, 1400));
  rotor_table_destroy(t);
}

TEST(ScalingLongRope, SwitchesPastOriginalMaxLen) {
  sref::LongRopeFactors lr(kRotary / 2);
  rotor_config cfg = sref::base_config(kRotary, ROTOR_SCALING_LONGROPE, 4 * kOriginal, kOriginal, 4.0f);
  cfg.long_factor = lr.long_f.data();
  cfg.short_factor = lr.short_f.data();
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  Events events;
  ASSERT_EQ(rotor_table_set_event_callback(t, Events::record, &events), ROTOR_OK);
  sref::State short_set, long_set;
  long_set.long_set = true;
  const struct {
    uint32_t seq_len;
    bool long_factors;
    uint32_t rescales;
  } steps[] = {{100, false, 0},           {kOriginal, false, 0},     // original_max_len itself is short
               {kOriginal + 1, true, 1},  {kOriginal + 1, true, 1},  // first long call
               {4 * kOriginal, true, 1},  {kOriginal, false, 2},     // back to short
               {kOriginal + 1, true, 3},  {5, false, 4}};
  for (const auto &s : steps) {
    const uint32_t first = s.seq_len > 60 ? s.seq_len - 60 : 1;
    const Rows rows = read_call(t, first, s.seq_len);
    EXPECT_TRUE(rows_match(cfg, s.long_factors ? long_set : short_set, rows, first)) << s.seq_len;
    EXPECT_FALSE(rows_match(cfg, s.long_factors ? short_set : long_set, rows, first)) << s.seq_len;
    const rotor_table_stats st = stats_of(t);
    EXPECT_EQ(st.rescale_events, s.rescales) << s.seq_len;
    EXPECT_FLOAT_EQ(st.attention_factor, float(sref::attention_factor(cfg)));
  }
  EXPECT_EQ(events.rescales(), 4u);
  rotor_table_destroy(t);
}

TEST(ScalingValidation, RejectsBadScalingFields) {
  sref::LongRopeFactors lr(kRotary / 2);
  auto rejected = [](const rotor_config &c) {
    rotor_table *t = nullptr;
    const bool bad = rotor_table_create(&t, &c) == ROTOR_ERR_INVALID_ARGUMENT && t == nullptr &&
                     rotor_table_arena_size(&c) == 0;
    rotor_table_destroy(t);
    return bad;
  };
  rotor_config c = sref::base_config(kRotary, ROTOR_SCALING_NTK, 4096, kOriginal, 0.5f);
  EXPECT_TRUE(rejected(c)) << "NTK k < 1";
  c.factor = NAN;
  EXPECT_TRUE(rejected(c)) << "NTK k NaN";
  c.factor = 2.0f;
  c.ntk_dynamic = 2;
  EXPECT_TRUE(rejected(c)) << "ntk_dynamic not 0/1";
  c.ntk_dynamic = 0;
  c.original_max_len = 0;
  EXPECT_TRUE(rejected(c)) << "NTK without original_max_len";
  c = sref::base_config(2, ROTOR_SCALING_NTK, 4096, kOriginal, 2.0f);
  EXPECT_TRUE(rejected(c)) << "r = 2 divides by r - 2";
  c = sref::base_config(kRotary, ROTOR_SCALING_LINEAR, 4096, 0, 0.0f);
  EXPECT_TRUE(rejected(c)) << "linear factor 0";
  c = sref::base_config(kRotary, ROTOR_SCALING_YARN, 4096, kOriginal, 4.0f);
  c.beta_fast = 1.0f;
  c.beta_slow = 32.0f;
  EXPECT_TRUE(rejected(c)) << "YaRN ramp turned around";
  c.beta_fast = 0.0f;
  c.beta_slow = 0.0f;
  c.mscale = -1.0f;
  EXPECT_TRUE(rejected(c)) << "negative mscale";
  c.mscale = 0.0f;
  c.base = 1.0;
  EXPECT_TRUE(rejected(c)) << "YaRN base 1";
  c = sref::base_config(kRotary, ROTOR_SCALING_LLAMA3, 4096, kOriginal, 8.0f);
  c.low_freq_factor = 4.0f;
  c.high_freq_factor = 1.0f;
  EXPECT_TRUE(rejected(c)) << "Llama 3 band turned around";
  c = sref::base_config(kRotary, ROTOR_SCALING_LONGROPE, 4096, kOriginal, 4.0f);
  c.long_factor = lr.long_f.data();
  EXPECT_TRUE(rejected(c)) << "LongRoPE without short factors";
  std::vector<float> bad_short = lr.short_f;
  bad_short[3] = 0.0f;
  c.short_factor = bad_short.data();
  EXPECT_TRUE(rejected(c)) << "LongRoPE factor 0";
  c.short_factor = lr.short_f.data();
  c.scaling = rotor_scaling(8);  // one past the last type (PROPORTIONAL, 7)
  EXPECT_TRUE(rejected(c)) << "unknown scaling";
  // And the well-formed neighbours are accepted.
  c.scaling = ROTOR_SCALING_LONGROPE;
  rotor_table *t = nullptr;
  EXPECT_EQ(rotor_table_create(&t, &c), ROTOR_OK);
  rotor_table_destroy(t);
}

}  // namespace
