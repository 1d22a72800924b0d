// Every error status of the core API, and that on each error the caller's buffers (and the
// table) are byte-for-byte unchanged.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/reference.hpp"

namespace {

TEST(Errors, StatusStringsAndVersion) {
  for (int s = ROTOR_OK; s <= ROTOR_ERR_DEVICE; ++s) EXPECT_STRNE(rotor_status_string(rotor_status(s)), "unknown rotor status");
  EXPECT_STREQ(rotor_status_string(rotor_status(99)), "unknown rotor status");
  EXPECT_EQ(rotor_version(), (ROTOR_VERSION_MAJOR << 16) | (ROTOR_VERSION_MINOR << 8) | ROTOR_VERSION_PATCH);
}

TEST(Errors, InvalidConfigs) {
  auto rejected = [](void (*mutate)(rotor_config &)) {
    rotor_config cfg = ref::config(64);
    mutate(cfg);
    rotor_table *t = nullptr;
    const bool create_rejects = rotor_table_create(&t, &cfg) == ROTOR_ERR_INVALID_ARGUMENT && t == nullptr;
    return create_rejects && rotor_table_arena_size(&cfg) == 0;
  };
  EXPECT_TRUE(rejected([](rotor_config &c) { c.rotary_dim = 0; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.rotary_dim = 63; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.struct_size = 4; }));  // not even rotary_dim
  EXPECT_TRUE(rejected([](rotor_config &c) { c.struct_size = 20; }));  // cuts base in two
  EXPECT_TRUE(rejected([](rotor_config &c) { c.struct_size = sizeof(rotor_config) + 8; }));  // newer than the library
  EXPECT_TRUE(rejected([](rotor_config &c) { c.reserved_0 = 1; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.reserved_1 = 1; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.pairing = rotor_pairing(2); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.growth = rotor_growth(7); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.scaling = rotor_scaling(-1); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.base = std::nan(""); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.base = -10000.0; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.base = 0.0; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.base = 1e-310; }));  // subnormal: frequencies overflow
  EXPECT_TRUE(rejected([](rotor_config &c) { c.base = 0.5; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.scaling = ROTOR_SCALING_LINEAR; c.factor = 1e-38f; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.scaling = ROTOR_SCALING_LINEAR; c.factor = 3e38f; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.base = std::numeric_limits<double>::infinity(); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.max_len = 0; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.max_len = 0x80000000u; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.growth = ROTOR_GROWTH_LINEAR; c.growth_increment = 0; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.growth_margin = -0.5f; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.growth_margin = std::nanf(""); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.growth_threshold = 0.0f; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.growth_threshold = 1.5f; }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.scaling = ROTOR_SCALING_LINEAR; c.factor = std::nanf(""); }));
  EXPECT_TRUE(rejected([](rotor_config &c) { c.scaling = ROTOR_SCALING_LONGROPE; c.original_max_len = 4096; }));
  EXPECT_EQ(rotor_table_arena_size(nullptr), 0u);
  rotor_table *t = nullptr;
  EXPECT_EQ(rotor_table_create(&t, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_config ok = ref::config(64);
  EXPECT_EQ(rotor_table_create(nullptr, &ok), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_init(&t, &ok, nullptr, 1 << 20), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_init_sized(nullptr, sizeof(rotor_config), 64), ROTOR_ERR_INVALID_ARGUMENT);
  (rotor_config_init)(nullptr, 64);  // the 1.0 symbol: harmless
  rotor_table_destroy(nullptr);    // harmless
  rotor_pool_destroy(nullptr);     // harmless
}

struct Fixture : ::testing::Test {
  ref::Table table{ref::config(8, ROTOR_PAIRING_HALF, 100, 10)};
  std::vector<float> data = ref::random_floats(2 * 3 * 2 * 16, 9);
  std::vector<float> other = ref::random_floats(2 * 3 * 2 * 16, 10);
  rotor_tensor x = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_F32, 2, 3, 2, 16);
  rotor_tensor y = rotor_tensor_bshd(other.data(), ROTOR_DTYPE_F32, 2, 3, 2, 16);
  std::vector<float> data_before = data, other_before = other;
  rotor_table_stats stats_before = table.stats();

  // The call failed with `want` and nothing changed.
  void expect_untouched(rotor_status got, rotor_status want, const char *what) {
    EXPECT_EQ(got, want) << what;
    EXPECT_EQ(data, data_before) << what;
    EXPECT_EQ(other, other_before) << what;
    const rotor_table_stats now = table.stats();
    EXPECT_EQ(now.rows, stats_before.rows) << what;
    EXPECT_EQ(now.grow_events, stats_before.grow_events) << what;
  }
};

TEST_F(Fixture, ApplyRejectsBadArgumentsAndWritesNothing) {
  const rotor_status E = ROTOR_ERR_INVALID_ARGUMENT;
  expect_untouched(rotor_apply(nullptr, &x, nullptr, 0, ROTOR_FORWARD, nullptr), E, "null table");
  expect_untouched(rotor_apply(table, nullptr, nullptr, 0, ROTOR_FORWARD, nullptr), E, "null tensor");
  expect_untouched(rotor_apply(table, &x, nullptr, 0, rotor_direction(2), nullptr), E, "bad direction");
  auto with = [&](void (*mutate)(rotor_tensor &), const char *what) {
    rotor_tensor bad = x;
    mutate(bad);
    expect_untouched(rotor_apply(table, &bad, nullptr, 0, ROTOR_FORWARD, nullptr), E, what);
  };
  with([](rotor_tensor &t) { t.data = nullptr; }, "null data");
  with([](rotor_tensor &t) { t.dtype = rotor_dtype(3); }, "bad dtype");
  with([](rotor_tensor &t) { t.batch = 0; }, "zero batch");
  with([](rotor_tensor &t) { t.seq = 0; }, "zero seq");
  with([](rotor_tensor &t) { t.heads = 0; }, "zero heads");
  with([](rotor_tensor &t) { t.head_dim = 6; }, "head_dim < rotary_dim");
  with([](rotor_tensor &t) { t.stride_head = -16; }, "negative stride");
  with([](rotor_tensor &t) { t.stride_head = 8; }, "heads overlap");
  with([](rotor_tensor &t) { t.stride_seq = 0; }, "tokens alias");
  with([](rotor_tensor &t) { t.stride_batch = 40; }, "batches overlap tokens");
  with([](rotor_tensor &t) { t.data = static_cast<char *>(t.data) + 1; }, "misaligned data");
  with([](rotor_tensor &t) { t.batch = 0xffffffffu; t.seq = 0xffffffffu; t.stride_batch = INT64_MAX; }, "byte size overflows");
  with([](rotor_tensor &t) { t.stride_batch = INT64_MAX / 2; }, "span overflows bytes");
}

TEST_F(Fixture, PositionsOutOfRangeWriteNothing) {
  const rotor_status R = ROTOR_ERR_OUT_OF_RANGE;
  std::vector<int32_t> positions = {0, 1, 2, 3, 4, 5};
  positions[5] = -1;
  expect_untouched(rotor_apply(table, &x, positions.data(), 0, ROTOR_FORWARD, nullptr), R, "negative position");
  positions[5] = 100;
  expect_untouched(rotor_apply(table, &x, positions.data(), 0, ROTOR_FORWARD, nullptr), R, "position == max_len");
  positions[5] = INT32_MAX;
  expect_untouched(rotor_apply(table, &x, positions.data(), 0, ROTOR_FORWARD, nullptr), R, "huge position");
  expect_untouched(rotor_apply(table, &x, nullptr, 98, ROTOR_FORWARD, nullptr), R, "offset + seq past max_len");
  expect_untouched(rotor_apply(table, &x, nullptr, 0xfffffffeu, ROTOR_FORWARD, nullptr), R, "offset wraps");
  expect_untouched(rotor_apply_qk(table, &x, &y, nullptr, 98, ROTOR_FORWARD, nullptr), R, "qk out of range");
  expect_untouched(rotor_apply_to(table, &x, &y, nullptr, 98, ROTOR_FORWARD, nullptr), R, "apply_to out of range");
  EXPECT_EQ(rotor_apply(table, &x, nullptr, 97, ROTOR_FORWARD, nullptr), ROTOR_OK);  // 97..99: the last rows
}

TEST_F(Fixture, QkAndOutOfPlaceShapeRules) {
  const rotor_status E = ROTOR_ERR_INVALID_ARGUMENT;
  rotor_tensor y_seq = y;
  y_seq.seq = 2;
  expect_untouched(rotor_apply_qk(table, &x, &y_seq, nullptr, 0, ROTOR_FORWARD, nullptr), E, "qk seq differs");
  expect_untouched(rotor_apply_qk(table, &x, &x, nullptr, 0, ROTOR_FORWARD, nullptr), E, "q is k");
  expect_untouched(rotor_apply_qk(table, &x, nullptr, nullptr, 0, ROTOR_FORWARD, nullptr), E, "null k");
  expect_untouched(rotor_apply_to(table, &x, &y_seq, nullptr, 0, ROTOR_FORWARD, nullptr), E, "out shape differs");
  rotor_tensor y_f16 = y;
  y_f16.dtype = ROTOR_DTYPE_F16;
  expect_untouched(rotor_apply_to(table, &x, &y_f16, nullptr, 0, ROTOR_FORWARD, nullptr), E, "out dtype differs");
  rotor_tensor shifted = x;
  shifted.data = data.data() + 4;  // overlaps in, but is not in
  expect_untouched(rotor_apply_to(table, &x, &shifted, nullptr, 0, ROTOR_FORWARD, nullptr), E, "partial overlap");
  expect_untouched(rotor_apply_to(table, &x, nullptr, nullptr, 0, ROTOR_FORWARD, nullptr), E, "null out");
}

TEST(QkOverlap, FusedQkvHeadsAreDisjointButSharedElementsAreNot) {
  // [batch 2, seq 3, (4 q + 2 k + 2 v) heads x 8]
  const uint32_t hq = 4, hk = 2, d = 8, row = (hq + 2 * hk) * d;
  std::vector<float> qkv = ref::random_floats(size_t{2} * 3 * row, 3);
  ref::Table table(ref::config(8, ROTOR_PAIRING_HALF, 64, 64));
  auto view = [&](size_t first, uint32_t heads) {
    rotor_tensor t = rotor_tensor_bshd(qkv.data() + first, ROTOR_DTYPE_F32, 2, 3, heads, d);
    t.stride_seq = row;
    t.stride_batch = int64_t{3} * row;
    return t;
  };
  rotor_tensor q = view(0, hq), k = view(size_t{hq} * d, hk);
  EXPECT_EQ(rotor_apply_qk(table, &q, &k, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  EXPECT_EQ(rotor_apply_qk(table, &k, &q, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  const std::vector<float> before = qkv;
  rotor_tensor k_shifted = view(size_t{hq} * d - 1, hk);  // its first element is Q's last
  EXPECT_EQ(rotor_apply_qk(table, &q, &k_shifted, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_tensor k_wide = view(size_t{hq} * d, hk + 3);  // reaches the next token's Q
  EXPECT_EQ(rotor_apply_qk(table, &q, &k_wide, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_tensor k_inside = view(d, 1);  // one of Q's own heads
  EXPECT_EQ(rotor_apply_qk(table, &q, &k_inside, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(qkv, before);
  // Out of place into the V part of the same buffer: disjoint, accepted.
  rotor_tensor v = view(size_t{hq + hk} * d, hk);
  EXPECT_EQ(rotor_apply_to(table, &k, &v, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
}

TEST_F(Fixture, CallerCosSinArgumentRules) {
  const rotor_status E = ROTOR_ERR_INVALID_ARGUMENT;
  std::vector<float> cos(10 * 4, 1.0f), sin(10 * 4, 0.0f);
  auto call = [&](const float *c, const float *s, uint32_t rows, uint32_t r, int pairing) {
    return rotor_apply_cos_sin(c, s, rows, r, rotor_pairing(pairing), &x, &x, nullptr, 0, ROTOR_FORWARD, nullptr);
  };
  expect_untouched(call(nullptr, sin.data(), 10, 8, 0), E, "null cos");
  expect_untouched(call(cos.data(), nullptr, 10, 8, 0), E, "null sin");
  expect_untouched(call(cos.data(), sin.data(), 0, 8, 0), E, "zero rows");
  expect_untouched(call(cos.data(), sin.data(), 10, 7, 0), E, "odd rotary_dim");
  expect_untouched(call(cos.data(), sin.data(), 10, 18, 0), E, "rotary_dim > head_dim");
  expect_untouched(call(cos.data(), sin.data(), 10, 8, 5), E, "bad pairing");
  expect_untouched(call(cos.data(), sin.data(), 2, 8, 0), ROTOR_ERR_OUT_OF_RANGE, "rows too few");
}

TEST_F(Fixture, TableCallsRejectBadArguments) {
  std::vector<float> c(8), s(8);
  EXPECT_EQ(rotor_table_reserve(nullptr, 5), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_reserve(table, 101), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_cos_sin(nullptr, 0, 1, ROTOR_DTYPE_F32, 0, c.data(), s.data()), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_cos_sin(table, 0, 1, rotor_dtype(9), 0, c.data(), s.data()), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_cos_sin(table, 0, 1, ROTOR_DTYPE_F32, 0, nullptr, s.data()), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_cos_sin(table, 0xffffffffu, 2, ROTOR_DTYPE_F32, 0, c.data(), s.data()), ROTOR_ERR_OUT_OF_RANGE);
  rotor_table_stats st{};
  st.struct_size = sizeof st;
  EXPECT_EQ(rotor_table_stats_get(nullptr, &st), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_stats_get(table, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_set_event_callback(nullptr, nullptr, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_pool *pool = nullptr;
  EXPECT_EQ(rotor_pool_create(&pool, 0), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_pool_create(&pool, 257), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_pool_create(nullptr, 2), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(pool, nullptr);
  expect_untouched(ROTOR_OK, ROTOR_OK, "after table calls");
}

}  // namespace
