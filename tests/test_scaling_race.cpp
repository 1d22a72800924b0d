// Rescales racing with applies: threads alternate calls that force LongRoPE's short and long
// factor sets (and dynamic NTK's original and grown base), so the table rescales on nearly
// every call while other threads read. Each call's output must equal, bit for bit, the result
// of the same call made alone (which is itself checked against the reference): one
// consistent set of rows per call, never a mix. Bounded in time so it can run under
// ThreadSanitizer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>

#include "support/scaling_reference.hpp"

namespace {

using sref::LD;

constexpr uint32_t kRotary = 16;
constexpr uint32_t kHeads = 4;
constexpr uint32_t kOriginal = 64;
constexpr uint32_t kShortSeq = 48;   // seq_len <= original: short set / original base
constexpr uint32_t kLongSeq = 256;   // past it: long set / grown base

struct Kind {
  std::vector<int32_t> positions;
  std::vector<float> input, expected;
};

Kind make_kind(uint32_t seq, uint32_t seed) {
  Kind k;
  for (uint32_t s = 0; s < seq; ++s) k.positions.push_back(int32_t(s));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  k.input.resize(size_t{seq} * kHeads * kRotary);
  for (float &v : k.input) v = dist(rng);
  return k;
}

std::vector<float> apply_once(rotor_table *t, const Kind &k) {
  std::vector<float> x = k.input;
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, uint32_t(k.positions.size()), kHeads, kRotary);
  EXPECT_EQ(rotor_apply(t, &v, k.positions.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  return x;
}

// The single-threaded result must be the reference's for the state the call implies.
void check_against_reference(const rotor_config &cfg, const Kind &k, const sref::State &state) {
  const std::vector<LD> theta = sref::inv_freq(cfg, state);
  const LD af = sref::attention_factor(cfg);
  const uint32_t half = kRotary / 2;
  for (size_t s = 0; s < k.positions.size(); ++s)
    for (uint32_t h = 0; h < kHeads; ++h)
      for (uint32_t i = 0; i < half; ++i) {
        const size_t at = (s * kHeads + h) * kRotary;
        const LD c = sref::entry(theta[i], uint32_t(k.positions[s]), af, false);
        const LD sn = sref::entry(theta[i], uint32_t(k.positions[s]), af, true);
        const LD a = k.input[at + i], b = k.input[at + i + half];
        ASSERT_NEAR(double(k.expected[at + i]), double(a * c - b * sn), 3e-6);
        ASSERT_NEAR(double(k.expected[at + i + half]), double(b * c + a * sn), 3e-6);
      }
}

void race(const rotor_config &cfg, const std::string &what) {
  Kind short_kind = make_kind(kShortSeq, 1), long_kind = make_kind(kLongSeq, 2);
  {
    rotor_table *t = nullptr;
    ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
    short_kind.expected = apply_once(t, short_kind);
    long_kind.expected = apply_once(t, long_kind);
    rotor_table_destroy(t);
  }
  const sref::State start = sref::initial_state(cfg);
  check_against_reference(cfg, short_kind, sref::call_state(cfg, start, kShortSeq));
  check_against_reference(cfg, long_kind, sref::call_state(cfg, start, kLongSeq));
  ASSERT_NE(short_kind.expected, long_kind.expected);

  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  std::atomic<uint32_t> mismatches{0}, calls{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(800);
  auto worker = [&](uint32_t id) {
    // At least 20 calls each, however slow the machine (sanitizers, emulators); then until
    // the deadline.
    for (uint32_t iter = 0; iter < 20 || (iter < 2000 && std::chrono::steady_clock::now() < deadline);
         ++iter) {
      const Kind &k = (iter + id) % 2 == 0 ? short_kind : long_kind;
      if (apply_once(t, k) != k.expected) mismatches.fetch_add(1);
      calls.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (uint32_t id = 0; id < 4; ++id) threads.emplace_back(worker, id);
  for (std::thread &th : threads) th.join();
  rotor_table_stats st{};
  st.struct_size = sizeof st;
  ASSERT_EQ(rotor_table_stats_get(t, &st), ROTOR_OK);
  rotor_table_destroy(t);
  EXPECT_EQ(mismatches.load(), 0u) << what << ": a call saw rows of both states";
  // The race must really have rescaled under readers, many times.
  EXPECT_GE(st.rescale_events, 10u) << what << " (" << calls.load() << " calls)";
  std::printf("%s: %u calls, %u rescales\n", what.c_str(), calls.load(), st.rescale_events);
}

TEST(ScalingRace, LongRopeSetSwitchesUnderApplies) {
  sref::LongRopeFactors lr(kRotary / 2);
  rotor_config cfg = sref::base_config(kRotary, ROTOR_SCALING_LONGROPE, 1024, kOriginal, 16.0f);
  cfg.long_factor = lr.long_f.data();
  cfg.short_factor = lr.short_f.data();
  race(cfg, "longrope");
}

TEST(ScalingRace, DynamicNtkGrowAndResetUnderApplies) {
  rotor_config cfg = sref::base_config(kRotary, ROTOR_SCALING_DYNAMIC_NTK, 1024, kOriginal, 4.0f);
  race(cfg, "dynamic ntk");
}

}  // namespace
