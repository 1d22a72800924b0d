// Growth strategies, the pre-emptive threshold, clipping to max_len and the events they emit.
#include <gtest/gtest.h>

#include <vector>

#include "table/growth.hpp"
#include "support/reference.hpp"

namespace {

rotor_config growth_config(rotor_growth growth) {
  rotor_config cfg = ref::config(8, ROTOR_PAIRING_HALF, 100000, 64);
  cfg.growth = growth;
  cfg.growth_increment = 50;
  cfg.growth_margin = 0.5f;
  cfg.growth_threshold = 1.0f;  // on-demand only: the seed's expectations
  return cfg;
}

// Rows a table holds after one call that needs position 99 (100 rows) with 64 held.
uint32_t rows_after_needing_100(const rotor_config &cfg) {
  ref::Table table(cfg);
  EXPECT_EQ(table.stats().rows, 64u);
  std::vector<float> x(8, 1.0f);
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, 8);
  const int32_t position = 99;
  EXPECT_EQ(rotor_apply(table, &v, &position, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  return table.stats().rows;
}

TEST(Growth, SeedExpectationsThroughTheApi) {
  EXPECT_EQ(rows_after_needing_100(growth_config(ROTOR_GROWTH_EXPONENTIAL)), 128u);
  EXPECT_EQ(rows_after_needing_100(growth_config(ROTOR_GROWTH_LINEAR)), 100u);
  EXPECT_EQ(rows_after_needing_100(growth_config(ROTOR_GROWTH_EXACT)), 100u);
  EXPECT_EQ(rows_after_needing_100(growth_config(ROTOR_GROWTH_MARGIN)), 150u);
}

TEST(Growth, TargetRules) {
  rotor_config cfg = growth_config(ROTOR_GROWTH_EXPONENTIAL);
  EXPECT_EQ(rotor::growth_target(cfg, 64, 1000), 1024u);
  EXPECT_EQ(rotor::growth_target(cfg, 0, 3), 4u);  // from an empty set: next power of two
  cfg.growth = ROTOR_GROWTH_LINEAR;
  EXPECT_EQ(rotor::growth_target(cfg, 64, 101), 150u);
  EXPECT_EQ(rotor::growth_target(cfg, 64, 150), 150u);
  cfg.growth = ROTOR_GROWTH_MARGIN;
  cfg.growth_margin = 0.1f;  // 0.1f is 0.100000001...: still 110, not 111
  EXPECT_EQ(rotor::growth_target(cfg, 64, 100), 110u);
  cfg.growth_margin = 0.0f;
  EXPECT_EQ(rotor::growth_target(cfg, 64, 100), 100u);
  cfg.growth_margin = 0.25f;
  EXPECT_EQ(rotor::growth_target(cfg, 64, 101), 127u);  // ceil(126.25)
}

TEST(Growth, ClippedToMaxLen) {
  for (rotor_growth g : {ROTOR_GROWTH_EXPONENTIAL, ROTOR_GROWTH_LINEAR, ROTOR_GROWTH_EXACT, ROTOR_GROWTH_MARGIN}) {
    rotor_config cfg = growth_config(g);
    cfg.max_len = 110;
    EXPECT_EQ(rotor::growth_target(cfg, 64, 100), g == ROTOR_GROWTH_EXACT || g == ROTOR_GROWTH_LINEAR ? 100u : 110u)
        << "strategy " << g;
    EXPECT_EQ(rotor::growth_target(cfg, 64, 110), 110u);
  }
}

TEST(Growth, ThresholdGrowsAheadByOneStep) {
  rotor_config cfg = growth_config(ROTOR_GROWTH_EXPONENTIAL);
  cfg.growth_threshold = 0.8f;
  // 100 rows held: needing 80 is not past 0.8 * 100; needing 81 is.
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 80), 100u);
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 81), 200u);
  cfg.growth = ROTOR_GROWTH_LINEAR;
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 81), 150u);
  cfg.growth = ROTOR_GROWTH_MARGIN;
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 81), 152u);  // ceil(101 * 1.5)
  cfg.growth = ROTOR_GROWTH_EXACT;  // exact never grows ahead
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 99), 100u);
  cfg.growth = ROTOR_GROWTH_EXPONENTIAL;
  cfg.growth_threshold = 1.0f;  // off
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 100), 100u);
  cfg.growth_threshold = 0.8f;
  cfg.max_len = 100;  // nothing to grow into
  EXPECT_EQ(rotor::growth_ahead_target(cfg, 100, 99), 100u);
}

struct EventLog {
  std::vector<rotor_table_event> events;
  static void record(void *user, const rotor_table_event *e) {
    static_cast<EventLog *>(user)->events.push_back(*e);
  }
};

TEST(Growth, DecodeLoopGrowsAheadAndReportsEvents) {
  rotor_config cfg = growth_config(ROTOR_GROWTH_EXPONENTIAL);
  cfg.growth_threshold = 0.75f;
  ref::Table table(cfg);
  EventLog log;
  ASSERT_EQ(rotor_table_set_event_callback(table, &EventLog::record, &log), ROTOR_OK);
  std::vector<float> x(8, 1.0f);
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, 8);
  for (int32_t p = 0; p < 64; ++p) ASSERT_EQ(rotor_apply(table, &v, &p, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  // Position 48 needs 49 rows > 0.75 * 64: the table doubled before position 64 was needed.
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0].reason, ROTOR_EVENT_GROW_AHEAD);
  EXPECT_EQ(log.events[0].old_rows, 64u);
  EXPECT_EQ(log.events[0].new_rows, 128u);
  EXPECT_EQ(table.stats().grow_events, 1u);
  const int32_t far = 1000;
  ASSERT_EQ(rotor_apply(table, &v, &far, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[1].reason, ROTOR_EVENT_GROW);
  EXPECT_EQ(log.events[1].new_rows, 1024u);
  ASSERT_EQ(rotor_table_reserve(table, 5000), ROTOR_OK);
  ASSERT_EQ(log.events.size(), 3u);
  EXPECT_EQ(log.events[2].reason, ROTOR_EVENT_RESERVE);
  EXPECT_EQ(log.events[2].new_rows, 5000u);
  EXPECT_EQ(table.stats().rows, 5000u);
  ASSERT_EQ(rotor_table_set_event_callback(table, nullptr, nullptr), ROTOR_OK);
  ASSERT_EQ(rotor_table_reserve(table, 6000), ROTOR_OK);
  EXPECT_EQ(log.events.size(), 3u);
}

TEST(Growth, PastMaxLenChangesNothing) {
  rotor_config cfg = growth_config(ROTOR_GROWTH_EXPONENTIAL);
  cfg.max_len = 100;
  ref::Table table(cfg);
  std::vector<float> x = ref::random_floats(2 * 8, 1);
  const std::vector<float> before = x;
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 2, 1, 8);
  const int32_t positions[2] = {5, 100};
  EXPECT_EQ(rotor_apply(table, &v, positions, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(x, before);
  EXPECT_EQ(table.stats().rows, 64u);
  EXPECT_EQ(table.stats().grow_events, 0u);
  EXPECT_EQ(rotor_apply(table, &v, nullptr, 99, ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_reserve(table, 101), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(x, before);
  EXPECT_EQ(table.stats().rows, 64u);
  EXPECT_EQ(rotor_apply(table, &v, nullptr, 98, ROTOR_FORWARD, nullptr), ROTOR_OK);  // 98, 99: the last rows
  EXPECT_EQ(table.stats().rows, 100u);
}

}  // namespace
