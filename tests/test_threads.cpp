// Applies on several threads while another thread grows the table give exactly the
// single-threaded results.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <thread>

#include "support/reference.hpp"

namespace {

TEST(Threads, AppliesRaceWithGrowthAndMatchSingleThreaded) {
  const uint32_t d = 64, max_len = 20000, tokens = 16;
  rotor_config cfg = ref::config(d, ROTOR_PAIRING_INTERLEAVED, max_len, 1);
  cfg.growth = ROTOR_GROWTH_EXACT;  // many small growths: the most chances to race
  // The expected result of each (thread, round) from a table computed at once.
  rotor_config full = cfg;
  full.initial_len = max_len;
  ref::Table oracle(full);
  ref::Table table(cfg);
  const int threads = 4;
  const int rounds = std::getenv("ROTOR_STRESS_ITERATIONS") ? std::atoi(std::getenv("ROTOR_STRESS_ITERATIONS")) : 60;
  std::atomic<int> mismatches{0};
  std::atomic<bool> stop{false};
  std::thread grower([&] {
    for (uint32_t n = 2; n <= max_len && !stop.load(); n += 97) rotor_table_reserve(table, n);
  });
  std::vector<std::thread> appliers;
  for (int id = 0; id < threads; ++id)
    appliers.emplace_back([&, id] {
      for (int round = 0; round < rounds; ++round) {
        std::vector<int32_t> positions(tokens);
        for (uint32_t i = 0; i < tokens; ++i)
          positions[i] = int32_t((uint32_t(id) * 7919u + uint32_t(round) * 104729u + i * 31u) % max_len);
        std::vector<float> got = ref::random_floats(size_t{tokens} * 2 * d, uint32_t(id * 1000 + round));
        std::vector<float> want = got;
        rotor_tensor g = rotor_tensor_bshd(got.data(), ROTOR_DTYPE_F32, 1, tokens, 2, d);
        rotor_tensor w = rotor_tensor_bshd(want.data(), ROTOR_DTYPE_F32, 1, tokens, 2, d);
        if (rotor_apply(table, &g, positions.data(), 0, ROTOR_FORWARD, nullptr) != ROTOR_OK) ++mismatches;
        if (rotor_apply(oracle, &w, positions.data(), 0, ROTOR_FORWARD, nullptr) != ROTOR_OK) ++mismatches;
        if (got != want) ++mismatches;
      }
    });
  for (std::thread &t : appliers) t.join();
  stop = true;
  grower.join();
  EXPECT_EQ(mismatches.load(), 0);
}

// Three threads apply through one pool at once (and without it, for comparison): each call
// succeeds, the pooled result is the unpooled one, and both are the rotation (a double-precision
// reference), so that failed calls, which leave both buffers as they were, cannot pass for equal
// results.
TEST(Threads, ConcurrentCallersShareOnePool) {
  constexpr uint32_t d = 128, tokens = 64, heads = 8;
  rotor_pool *pool = nullptr;
  ASSERT_EQ(rotor_pool_create(&pool, 2), ROTOR_OK);
  ref::Table table(ref::config(d, ROTOR_PAIRING_HALF, 4096, 4096));
  ASSERT_NE(table.t, nullptr);
  const std::vector<double> freqs = ref::plain_freqs(10000.0, d);  // the config's default base
  std::atomic<int> failed_calls{0}, mismatches{0}, not_rotated{0};
  std::vector<std::thread> callers;
  for (int id = 0; id < 3; ++id)
    callers.emplace_back([&, id] {
      for (int round = 0; round < 20; ++round) {
        const uint32_t offset = uint32_t(round * 10);
        const std::vector<float> input = ref::random_floats(size_t{tokens} * heads * d, uint32_t(id * 100 + round));
        std::vector<float> a = input, b = input;
        rotor_tensor va = rotor_tensor_bshd(a.data(), ROTOR_DTYPE_F32, 1, tokens, heads, d);
        rotor_tensor vb = rotor_tensor_bshd(b.data(), ROTOR_DTYPE_F32, 1, tokens, heads, d);
        if (rotor_apply(table, &va, nullptr, offset, ROTOR_FORWARD, pool) != ROTOR_OK) ++failed_calls;
        if (rotor_apply(table, &vb, nullptr, offset, ROTOR_FORWARD, nullptr) != ROTOR_OK) ++failed_calls;
        if (a != b) ++mismatches;
        // Float rows against double: a few 1e-7 for inputs in [-2, 2]; an unrotated head or one
        // at another position is off by far more.
        for (uint32_t t = 0; t < tokens; ++t)
          for (uint32_t h = 0; h < heads; ++h) {
            const size_t at = (size_t{t} * heads + h) * d;
            std::vector<double> want(input.begin() + at, input.begin() + at + d);
            ref::rotate_head(want, d, ROTOR_PAIRING_HALF, freqs, double(offset + t), false);
            for (uint32_t x = 0; x < d; ++x)
              if (!(std::fabs(double(a[at + x]) - want[x]) <= 1e-5)) {
                ++not_rotated;
                break;
              }
          }
      }
    });
  for (std::thread &t : callers) t.join();
  rotor_pool_destroy(pool);
  EXPECT_EQ(failed_calls.load(), 0);
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(not_rotated.load(), 0);
}

}  // namespace
