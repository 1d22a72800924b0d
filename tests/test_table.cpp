// Tables: rows against a long-double reference, growth in steps bit-identical to one computation,
// caller arenas, lazy memory, stats and the cos/sin export.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/half.hpp"
#include "support/reference.hpp"

namespace {

// All rows [0, rows) of a table as floats, through the public export.
std::vector<float> all_rows(rotor_table *t, uint32_t rows, uint32_t half) {
  std::vector<float> cos(size_t{rows} * half), sin(size_t{rows} * half);
  EXPECT_EQ(rotor_table_cos_sin(t, 0, rows, ROTOR_DTYPE_F32, 0, cos.data(), sin.data()), ROTOR_OK);
  cos.insert(cos.end(), sin.begin(), sin.end());
  return cos;
}

TEST(Table, RowsWithinOneUlpOfLongDouble) {
  rotor_config cfg = ref::config(128, ROTOR_PAIRING_HALF, 1 << 20, 0);
  ref::Table table(cfg);
  const uint32_t half = 64;
  std::vector<float> cos(half), sin(half);
  for (uint32_t p : {0u, 1u, 2u, 17u, 1000u, 4095u, 65537u, 500000u, (1u << 20) - 1}) {
    ASSERT_EQ(rotor_table_cos_sin(table, p, 1, ROTOR_DTYPE_F32, 0, cos.data(), sin.data()), ROTOR_OK);
    for (uint32_t i = 0; i < half; ++i) {
      const long double angle = (long double)p * std::pow(10000.0L, -2.0L * i / 128.0L);
      const float want_c = static_cast<float>(std::cos(angle)), want_s = static_cast<float>(std::sin(angle));
      // Within 1 ulp, or 2^-26 absolute near zeros of cos/sin (the contract's bound).
      EXPECT_TRUE(ref::ulp_distance(cos[i], want_c) <= 1 || std::fabs(cos[i] - want_c) <= 0x1p-26f)
          << "cos p=" << p << " i=" << i;
      EXPECT_TRUE(ref::ulp_distance(sin[i], want_s) <= 1 || std::fabs(sin[i] - want_s) <= 0x1p-26f)
          << "sin p=" << p << " i=" << i;
    }
  }
}

// Tables grown one row at a time, or by any strategy, equal the table computed at once.
TEST(Table, GrowthInStepsIsBitIdentical) {
  struct Case {
    uint32_t rotary_dim;
    double base;
    rotor_scaling scaling;
  };
  const Case cases[] = {{128, 10000.0, ROTOR_SCALING_NONE}, {64, 500000.0, ROTOR_SCALING_NONE},
                        {24, 10000.0, ROTOR_SCALING_LINEAR}, {96, 1e6, ROTOR_SCALING_NONE}};
  const uint32_t rows = 3000;
  for (const Case &c : cases) {
    rotor_config cfg = ref::config(c.rotary_dim, ROTOR_PAIRING_HALF, rows, rows);
    cfg.base = c.base;
    cfg.scaling = c.scaling;
    cfg.factor = 4.0f;
    ref::Table at_once(cfg);
    const std::vector<float> expected = all_rows(at_once, rows, c.rotary_dim / 2);

    cfg.initial_len = 0;
    ref::Table one_by_one(cfg);
    for (uint32_t n = 1; n <= rows; ++n) ASSERT_EQ(rotor_table_reserve(one_by_one, n), ROTOR_OK);
    EXPECT_EQ(all_rows(one_by_one, rows, c.rotary_dim / 2), expected) << "dim " << c.rotary_dim;

    for (rotor_growth g : {ROTOR_GROWTH_EXPONENTIAL, ROTOR_GROWTH_LINEAR, ROTOR_GROWTH_EXACT, ROTOR_GROWTH_MARGIN}) {
      cfg.growth = g;
      cfg.growth_increment = 37;
      cfg.initial_len = 5;
      ref::Table grown(cfg);
      std::vector<float> x(c.rotary_dim, 1.0f);
      rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, c.rotary_dim);
      for (int32_t p = 0; p < int32_t(rows); p += 7) ASSERT_EQ(rotor_apply(grown, &v, &p, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
      EXPECT_EQ(all_rows(grown, rows, c.rotary_dim / 2), expected) << "dim " << c.rotary_dim << " growth " << g;
    }
  }
}

TEST(Table, LivesInCallerArenaAndRejectsSmallOrMisalignedOnes) {
  rotor_config cfg = ref::config(64, ROTOR_PAIRING_HALF, 1000, 100);
  const size_t bytes = rotor_table_arena_size(&cfg);
  ASSERT_GT(bytes, 1000u * 64 * sizeof(float));
  EXPECT_EQ(bytes % ROTOR_ARENA_ALIGNMENT, 0u);
  void *arena = std::aligned_alloc(ROTOR_ARENA_ALIGNMENT, bytes + ROTOR_ARENA_ALIGNMENT);
  ASSERT_NE(arena, nullptr);
  rotor_table *t = reinterpret_cast<rotor_table *>(0x1);  // must be left alone on error
  EXPECT_EQ(rotor_table_init(&t, &cfg, arena, bytes - 1), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(rotor_table_init(&t, &cfg, static_cast<char *>(arena) + 8, bytes), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(t, reinterpret_cast<rotor_table *>(0x1));
  ASSERT_EQ(rotor_table_init(&t, &cfg, arena, bytes), ROTOR_OK);
  ASSERT_GE(reinterpret_cast<uintptr_t>(t), reinterpret_cast<uintptr_t>(arena));
  ASSERT_LT(reinterpret_cast<uintptr_t>(t), reinterpret_cast<uintptr_t>(arena) + bytes);
  rotor_table_stats s{};
  s.struct_size = sizeof s;
  ASSERT_EQ(rotor_table_stats_get(t, &s), ROTOR_OK);
  EXPECT_EQ(s.rows, 100u);
  EXPECT_EQ(s.max_len, 1000u);
  EXPECT_EQ(s.arena_bytes, bytes);
  EXPECT_GE(s.bytes_in_use, 100u * 64 * sizeof(float));
  EXPECT_LT(s.bytes_in_use, 101u * 64 * sizeof(float) + 4096);
  EXPECT_EQ(s.factor, 1.0f);
  EXPECT_EQ(s.attention_factor, 1.0f);
  ASSERT_EQ(rotor_table_reserve(t, 1000), ROTOR_OK);
  ASSERT_EQ(rotor_table_stats_get(t, &s), ROTOR_OK);
  EXPECT_EQ(s.rows, 1000u);
  EXPECT_LE(s.bytes_in_use, s.arena_bytes);
  rotor_table_destroy(t);  // harmless: the arena stays ours
  std::free(arena);
}

TEST(Table, StatsFillOnlyTheCallersStructSize) {
  ref::Table table(ref::config(16));
  unsigned char buffer[sizeof(rotor_table_stats) + 8];
  std::memset(buffer, 0xAB, sizeof buffer);
  rotor_table_stats *s = reinterpret_cast<rotor_table_stats *>(buffer);
  s->struct_size = 8;  // an older, shorter struct: struct_size and rows only
  ASSERT_EQ(rotor_table_stats_get(table, s), ROTOR_OK);
  EXPECT_EQ(s->rows, 16u);
  for (size_t i = 8; i < sizeof buffer; ++i) ASSERT_EQ(buffer[i], 0xAB) << i;
  s->struct_size = 4;
  EXPECT_EQ(rotor_table_stats_get(table, s), ROTOR_ERR_INVALID_ARGUMENT);
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// A table of max_len 1,048,576 (r = 128: 512 MiB of rows) with 4,096 rows in use costs about
// 2 MiB of resident memory: rows past those in use are never written.
TEST(Table, UntouchedRowsCostNoResidentMemory) {
  const long before = resident_kib();
  if (before < 0) GTEST_SKIP() << "no /proc/self/status on this system";
  rotor_config cfg = ref::config(128, ROTOR_PAIRING_HALF, 1 << 20, 0);
  ref::Table table(cfg);
  ASSERT_NE(table.t, nullptr);
  ASSERT_EQ(rotor_table_reserve(table, 4096), ROTOR_OK);
  const long after = resident_kib();
  const rotor_table_stats s = table.stats();
  EXPECT_GE(s.arena_bytes, uint64_t{1} << 29);
  EXPECT_EQ(s.rows, 4096u);
  // 4096 rows x 512 bytes = 2 MiB; allow page rounding and the test's own noise.
  EXPECT_LT(after - before, 8 * 1024) << "resident grew by " << (after - before) << " KiB";
  std::printf("[ resident ] arena %llu MiB, resident growth %ld KiB for 4096 rows\n",
              (unsigned long long)(s.arena_bytes >> 20), after - before);
}

TEST(Table, CosSinLayoutsAndDtypes) {
  rotor_config cfg = ref::config(8, ROTOR_PAIRING_HALF, 512, 4);
  ref::Table table(cfg);
  const uint32_t start = 100, count = 3, half = 4;
  std::vector<float> cos_h(count * half), sin_h(count * half), cos_d(count * 2 * half), sin_d(count * 2 * half);
  ASSERT_EQ(rotor_table_cos_sin(table, start, count, ROTOR_DTYPE_F32, 0, cos_h.data(), sin_h.data()), ROTOR_OK);
  ASSERT_EQ(rotor_table_cos_sin(table, start, count, ROTOR_DTYPE_F32, 1, cos_d.data(), sin_d.data()), ROTOR_OK);
  EXPECT_GE(table.stats().rows, start + count);  // grew as needed
  for (uint32_t r = 0; r < count; ++r)
    for (uint32_t i = 0; i < half; ++i) {
      const double angle = double(start + r) * ref::inv_freq(10000.0, 8, i);
      EXPECT_NEAR(cos_h[r * half + i], std::cos(angle), 1e-7);
      EXPECT_NEAR(sin_h[r * half + i], std::sin(angle), 1e-7);
      // Hugging Face's cat(freqs, freqs): the half row twice.
      EXPECT_EQ(cos_d[r * 2 * half + i], cos_h[r * half + i]);
      EXPECT_EQ(cos_d[r * 2 * half + half + i], cos_h[r * half + i]);
      EXPECT_EQ(sin_d[r * 2 * half + i], sin_h[r * half + i]);
      EXPECT_EQ(sin_d[r * 2 * half + half + i], sin_h[r * half + i]);
    }
  for (rotor_dtype dt : {ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    std::vector<uint16_t> c(count * half), s(count * half);
    ASSERT_EQ(rotor_table_cos_sin(table, start, count, dt, 0, c.data(), s.data()), ROTOR_OK);
    for (size_t k = 0; k < c.size(); ++k) {
      const double cv = dt == ROTOR_DTYPE_F16 ? ref::f16_value(c[k]) : ref::bf16_value(c[k]);
      const double sv = dt == ROTOR_DTYPE_F16 ? ref::f16_value(s[k]) : ref::bf16_value(s[k]);
      const double tol = dt == ROTOR_DTYPE_F16 ? 0x1p-11 : 0x1p-8;  // half an ulp at magnitude <= 1
      EXPECT_NEAR(cv, cos_h[k], tol);
      EXPECT_NEAR(sv, sin_h[k], tol);
    }
  }
  std::vector<float> c(4), s(4);
  EXPECT_EQ(rotor_table_cos_sin(table, 510, 3, ROTOR_DTYPE_F32, 0, c.data(), s.data()), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_cos_sin(table, 0, 0, ROTOR_DTYPE_F32, 0, c.data(), s.data()), ROTOR_ERR_INVALID_ARGUMENT);
}

}  // namespace
