// Rescales and the KV cache: after each kind of rescale (NTK with ntk_dynamic adopting a new k,
// Hugging Face dynamic NTK growing its base and resetting it, LongRoPE switching to the long
// factors at original_max_len + 1) attention over a cache filled before the rescale equals a
// fresh prefill of the whole sequence with the new rows, and a plain double-precision reference
// written here; with the keys left as they were (policy PIN) the same comparison fails, which
// shows the test sees the bug. Also: once per rescale, PIN, REFUSE, rotor_rerotate_keys and the
// softmax-scale function.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "rotor/rotor.h"
#include "support/aligned_buffer.hpp"
#include "support/compare.hpp"
#include "support/kv_model.hpp"

namespace {

using test_support::AlignedBuffer;
using test_support::aligned_buffer;

constexpr uint32_t kOriginal = 16;  // L0 of every adaptive config here
constexpr uint32_t kRotary = 16;    // rotary_dim r
constexpr uint32_t kHeadDim = 20;   // d: the last 4 dims are not rotated

// LongRoPE factors, r/2 each (short close to 1, long up to ~6: far apart so a mix shows).
const float kShort[kRotary / 2] = {1.0f, 1.02f, 1.05f, 1.1f, 1.2f, 1.3f, 1.5f, 1.7f};
const float kLong[kRotary / 2] = {1.0f, 1.1f, 1.4f, 2.0f, 2.8f, 3.7f, 4.8f, 6.0f};

rotor_config make_config(rotor_scaling scaling, rotor_pairing pairing) {
  rotor_config cfg;
  rotor_config_init(&cfg, kRotary);
  cfg.pairing = pairing;
  cfg.base = 100.0;  // a small base: large angles within a few dozen positions
  cfg.max_len = 256;
  cfg.initial_len = 4;
  cfg.scaling = scaling;
  cfg.original_max_len = kOriginal;
  if (scaling == ROTOR_SCALING_NTK) {
    cfg.factor = 1.0f;
    cfg.ntk_dynamic = 1;
  } else if (scaling == ROTOR_SCALING_DYNAMIC_NTK) {
    cfg.factor = 4.0f;
  } else if (scaling == ROTOR_SCALING_LONGROPE) {
    cfg.factor = 8.0f;
    cfg.short_factor = kShort;
    cfg.long_factor = kLong;
  }
  return cfg;
}

// ---- the double-precision reference: frequencies written from the formulas ------------------

struct Rope {
  std::vector<double> inv_freq;
  double factor = 1.0;  // attention factor folded into cos and sin
};

// The rows a table of cfg uses for a sequence of `seq_len` tokens after having seen
// `longest_past_l0` (dynamic NTK: the longest sequence length beyond L0 seen, 0 for none).
Rope reference_rope(const rotor_config &cfg, uint32_t seq_len, uint32_t dynamic_len = 0) {
  const uint32_t half = cfg.rotary_dim / 2;
  const double r = cfg.rotary_dim;
  Rope rope;
  rope.inv_freq.resize(half);
  double base = cfg.base;
  if (cfg.scaling == ROTOR_SCALING_NTK) {
    double k = cfg.factor;
    if (seq_len > cfg.original_max_len * k) {
      k = std::ceil(double(seq_len) / cfg.original_max_len);
      if (std::fmod(k, 2.0) != 0) k += 1;
    }
    base *= std::pow(k, r / (r - 2));
  } else if (cfg.scaling == ROTOR_SCALING_DYNAMIC_NTK) {
    const double len = std::max<double>(dynamic_len, cfg.original_max_len);
    base *= std::pow(cfg.factor * len / cfg.original_max_len - (cfg.factor - 1), r / (r - 2));
  }
  for (uint32_t i = 0; i < half; ++i) {
    rope.inv_freq[i] = std::pow(base, -2.0 * i / r);
    if (cfg.scaling == ROTOR_SCALING_LONGROPE)
      rope.inv_freq[i] /= seq_len > cfg.original_max_len ? cfg.long_factor[i] : cfg.short_factor[i];
  }
  if (cfg.scaling == ROTOR_SCALING_LONGROPE)
    rope.factor = std::sqrt(1.0 + std::log(double(cfg.factor)) / std::log(double(cfg.original_max_len)));
  return rope;
}

void rotate_double(double *head, const rotor_config &cfg, const Rope &rope, double position) {
  const uint32_t half = cfg.rotary_dim / 2;
  for (uint32_t i = 0; i < half; ++i) {
    const double angle = position * rope.inv_freq[i];
    const uint32_t a = cfg.pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
    const uint32_t b = cfg.pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
    const double x = head[a], y = head[b];
    head[a] = rope.factor * (x * std::cos(angle) - y * std::sin(angle));
    head[b] = rope.factor * (y * std::cos(angle) + x * std::sin(angle));
  }
}

// Causal attention of tokens [first, total) over tokens [0, total), every key and query
// rotated with `rope`. q: [total][hq][d], k/v: [total][hk][d].
std::vector<double> reference_attention(const std::vector<float> &q, const std::vector<float> &k,
                                        const std::vector<float> &v, uint32_t first, uint32_t total, uint32_t hq,
                                        uint32_t hk, const rotor_config &cfg, const Rope &rope, double scale) {
  const uint32_t d = kHeadDim, group = hq / hk;
  std::vector<double> keys(k.begin(), k.begin() + ptrdiff_t(size_t{total} * hk * d));
  for (uint32_t j = 0; j < total; ++j)
    for (uint32_t h = 0; h < hk; ++h) rotate_double(&keys[(size_t{j} * hk + h) * d], cfg, rope, j);
  std::vector<double> out(size_t{total - first} * hq * d, 0.0), query(d), scores(total);
  for (uint32_t i = first; i < total; ++i)
    for (uint32_t h = 0; h < hq; ++h) {
      for (uint32_t x = 0; x < d; ++x) query[x] = q[(size_t{i} * hq + h) * d + x];
      rotate_double(query.data(), cfg, rope, i);
      double top = -std::numeric_limits<double>::infinity();
      for (uint32_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (uint32_t x = 0; x < d; ++x) dot += query[x] * keys[(size_t{j} * hk + h / group) * d + x];
        top = std::max(top, scores[j] = dot * scale);
      }
      double sum = 0;
      for (uint32_t j = 0; j <= i; ++j) sum += (scores[j] = std::exp(scores[j] - top));
      double *o = &out[(size_t{i - first} * hq + h) * d];
      for (uint32_t j = 0; j <= i; ++j)
        for (uint32_t x = 0; x < d; ++x) o[x] += scores[j] / sum * v[(size_t{j} * hk + h / group) * d + x];
    }
  return out;
}

// ---- the library side ------------------------------------------------------------------------

using Cache = test_support::KvArena;

// The shared model (support/kv_model.hpp) with contiguous calls, the double reference of this
// file, and the table's epoch and re-rotation count.
class Model : public test_support::KvModel {
 public:
  Model(const rotor_config &cfg, uint32_t hq, uint32_t hk, uint32_t threads, uint32_t total, unsigned seed,
        rotor_dtype cache_dtype = ROTOR_DTYPE_F32)
      : KvModel(cfg, hq, hk, kHeadDim, total, seed, cache_dtype, threads) {}

  Cache new_cache(uint32_t max_len = 256) {
    Cache c;
    init_cache(&c, max_len);
    return c;
  }

  // Tokens [first, first + s) of this model's sequence through one forward call on `cache`.
  rotor_status forward(Cache &cache, uint32_t first, uint32_t s, std::vector<float> *out) {
    return forward_ids(cache.cache, test_support::token_ids(first, first + s), out);
  }

  std::vector<double> reference(uint32_t first, uint32_t total, const Rope &rope) const {
    return reference_attention(q_, k_, v_, first, total, hq_, hk_, cfg_, rope, scale_);
  }

  uint64_t epoch() {
    uint64_t e = 0;
    EXPECT_EQ(rotor_table_epoch(table_, &e), ROTOR_OK);
    return e;
  }
  uint64_t table_rerotations() {
    rotor_table_stats stats{};
    stats.struct_size = sizeof stats;
    EXPECT_EQ(rotor_table_stats_get(table_, &stats), ROTOR_OK);
    return stats.key_rerotations;
  }
};

uint64_t rerotations(const Cache &c) { return test_support::cache_rerotations(c.cache); }
uint64_t cache_epoch(const Cache &c) { return test_support::cache_epoch(c.cache); }

// The last `count` tokens' rows of a prefill output of `total` tokens.
std::vector<float> tail(const std::vector<float> &all, uint32_t total, uint32_t count, uint32_t hq) {
  return std::vector<float>(all.end() - ptrdiff_t(size_t{count} * hq * kHeadDim), all.begin() + ptrdiff_t(size_t{total} * hq * kHeadDim));
}

// One rescale scenario: prefill `before` tokens, then calls of the given sizes (the first
// crosses the rescale). Each call's output is checked against a fresh prefill of the sequence
// so far on a second table of the same config (its one call uses the rows of the full length)
// and against the double reference.
struct Scenario {
  rotor_scaling scaling;
  uint32_t before;
  std::vector<uint32_t> calls;
};

struct ShapeParam {
  rotor_pairing pairing;
  uint32_t hq, hk, threads;
};

class RescaleCache : public ::testing::TestWithParam<ShapeParam> {};

// Runs a scenario; returns the largest distance to the fresh prefill over the calls after the
// rescale, and checks the re-rotation count against the table's rescale count.
double run_scenario(const Scenario &sc, const ShapeParam &p, rotor_rescale_policy policy, bool check_reference,
                    rotor_dtype cache_dtype = ROTOR_DTYPE_F32) {
  const rotor_config cfg = make_config(sc.scaling, p.pairing);
  uint32_t total = sc.before;
  for (uint32_t s : sc.calls) total += s;
  Model model(cfg, p.hq, p.hk, p.threads, total, 1234u + unsigned(sc.scaling), cache_dtype);
  EXPECT_EQ(rotor_table_set_rescale_policy(model.table(), policy), ROTOR_OK);
  Cache cache = model.new_cache();
  std::vector<float> out;
  EXPECT_EQ(model.forward(cache, 0, sc.before, &out), ROTOR_OK);
  EXPECT_EQ(model.epoch(), 0u);
  uint32_t length = sc.before, dynamic_len = 0;
  double worst = 0;
  for (uint32_t s : sc.calls) {
    const uint64_t epoch_before = model.epoch(), rot_before = rerotations(cache);
    EXPECT_EQ(model.forward(cache, length, s, &out), ROTOR_OK);
    length += s;
    const uint64_t rescales = model.epoch() - epoch_before;
    if (policy == ROTOR_RESCALE_REROTATE) {
      // Once per rescale this cache saw (a call adopts at most one new set of rows).
      EXPECT_EQ(rerotations(cache) - rot_before, rescales);
      EXPECT_EQ(cache_epoch(cache), model.epoch());
    }
    Model fresh(cfg, p.hq, p.hk, p.threads, total, 1234u + unsigned(sc.scaling), cache_dtype);
    Cache fresh_cache = fresh.new_cache();
    std::vector<float> prefill;
    EXPECT_EQ(fresh.forward(fresh_cache, 0, length, &prefill), ROTOR_OK);
    worst = std::max(worst, test_support::max_abs_diff(out, tail(prefill, length, s, p.hq)));
    if (check_reference) {
      dynamic_len = std::max(dynamic_len, length > kOriginal ? length : 0u);
      const Rope rope = reference_rope(cfg, length, dynamic_len);
      EXPECT_LT(test_support::max_abs_diff(prefill, model.reference(0, length, rope)), 2e-5) << "fresh prefill vs double";
      if (policy == ROTOR_RESCALE_REROTATE)
        EXPECT_LT(test_support::max_abs_diff(out, model.reference(length - s, length, rope)), 2e-5) << "cache vs double";
    }
  }
  return worst;
}

const Scenario kNtk{ROTOR_SCALING_NTK, 12, {8, 1, 3}};          // k 1 -> 2 at 20 (> 16 * 1)
const Scenario kDynamic{ROTOR_SCALING_DYNAMIC_NTK, 16, {1, 1, 5}};  // base grows at 17, 18, 23
const Scenario kLongrope{ROTOR_SCALING_LONGROPE, 16, {1, 2}};     // long from L0 + 1 = 17

TEST_P(RescaleCache, NtkDynamicKChangeMatchesFreshPrefill) {
  EXPECT_LT(run_scenario(kNtk, GetParam(), ROTOR_RESCALE_REROTATE, true), 1e-5);
}
TEST_P(RescaleCache, DynamicNtkGrowthMatchesFreshPrefill) {
  EXPECT_LT(run_scenario(kDynamic, GetParam(), ROTOR_RESCALE_REROTATE, true), 1e-5);
}
TEST_P(RescaleCache, LongropeShortToLongAtOriginalPlusOneMatchesFreshPrefill) {
  EXPECT_LT(run_scenario(kLongrope, GetParam(), ROTOR_RESCALE_REROTATE, true), 1e-5);
}

// The same comparisons with the cached keys left on their old rows (PIN: the call's own tokens
// also keep the old rows, so the output is a consistent old-rows attention): far from the
// fresh prefill with the new rows. This is what the tests above would see without re-rotation.
TEST_P(RescaleCache, WithoutRerotationTheSameComparisonFails) {
  for (const Scenario *sc : {&kNtk, &kDynamic, &kLongrope})
    EXPECT_GT(run_scenario(*sc, GetParam(), ROTOR_RESCALE_PIN, false), 1e-3) << "scaling " << sc->scaling;
}

// f16 and bf16 caches: the re-rotated keys are rounded to the cache's type once more than a
// fresh prefill's, so the bound is that of one extra rounding of each key, and the test still
// tells re-rotated keys from stale ones by an order of magnitude.
TEST_P(RescaleCache, HalfPrecisionCachesAreRerotatedToo) {
  for (rotor_dtype dt : {ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16})
    for (const Scenario *sc : {&kNtk, &kDynamic, &kLongrope}) {
      const double rerotated = run_scenario(*sc, GetParam(), ROTOR_RESCALE_REROTATE, false, dt);
      const double stale = run_scenario(*sc, GetParam(), ROTOR_RESCALE_PIN, false, dt);
      // One extra rounding of each key: f16 (2^-11 relative) and bf16 (2^-8) bounds on outputs
      // of magnitude ~1 (measured: at most 1.3e-4 and 6.5e-4); stale keys are off by > 0.04.
      const double bound = dt == ROTOR_DTYPE_F16 ? 5e-4 : 4e-3;
      EXPECT_LT(rerotated, bound) << "dtype " << dt << " scaling " << sc->scaling;
      EXPECT_GT(stale, 1e-2) << "dtype " << dt << " scaling " << sc->scaling;
    }
}

INSTANTIATE_TEST_SUITE_P(Shapes, RescaleCache,
                         ::testing::Values(ShapeParam{ROTOR_PAIRING_HALF, 4, 2, 1},
                                           ShapeParam{ROTOR_PAIRING_INTERLEAVED, 4, 2, 1},
                                           ShapeParam{ROTOR_PAIRING_HALF, 8, 2, 3},
                                           ShapeParam{ROTOR_PAIRING_INTERLEAVED, 6, 3, 2}));

// Dynamic NTK resets to the original base when a short sequence comes: the long sequence's
// cache, continued afterwards, is brought from its grown base to the base of its new length.
TEST(RescaleCacheReset, DynamicNtkResetThenGrowAgain) {
  const rotor_config cfg = make_config(ROTOR_SCALING_DYNAMIC_NTK, ROTOR_PAIRING_HALF);
  Model model(cfg, 4, 2, 2, 24, 99u);
  Cache long_seq = model.new_cache(), short_seq = model.new_cache();
  std::vector<float> out;
  ASSERT_EQ(model.forward(long_seq, 0, 20, &out), ROTOR_OK);  // base for 20
  const uint64_t grown = model.epoch();
  ASSERT_EQ(model.forward(short_seq, 0, 8, &out), ROTOR_OK);  // reset: 8 < L0
  EXPECT_EQ(model.epoch(), grown + 1);
  EXPECT_EQ(rerotations(short_seq), 0u);  // empty cache: nothing to bring along
  // The short sequence sees the original base.
  EXPECT_LT(test_support::max_abs_diff(out, model.reference(0, 8, reference_rope(cfg, 8, 0))), 2e-5);
  ASSERT_EQ(model.forward(long_seq, 20, 2, &out), ROTOR_OK);  // grows to 22: from the 20 base
  EXPECT_EQ(rerotations(long_seq), 1u);
  EXPECT_LT(test_support::max_abs_diff(out, model.reference(20, 22, reference_rope(cfg, 22, 22))), 2e-5);
  // The short one, continued (8 -> 9 < L0): the table resets again (a new epoch), to the very
  // rows the short cache carries: nothing to re-rotate (caches compare rows, not epochs).
  const uint64_t epoch_before = model.epoch();
  ASSERT_EQ(model.forward(short_seq, 8, 1, &out), ROTOR_OK);
  EXPECT_EQ(model.epoch(), epoch_before + 1);
  EXPECT_EQ(rerotations(short_seq), 0u);
  EXPECT_EQ(cache_epoch(short_seq), model.epoch());
  EXPECT_LT(test_support::max_abs_diff(out, model.reference(8, 9, reference_rope(cfg, 9, 0))), 2e-5);
  EXPECT_EQ(model.table_rerotations(), 1u);
}

// PIN: every call of a sequence uses the rows of its first token, whatever the table does.
TEST(RescaleCachePolicy, PinKeepsEveryCallOnTheFirstRows) {
  for (rotor_scaling scaling : {ROTOR_SCALING_NTK, ROTOR_SCALING_DYNAMIC_NTK, ROTOR_SCALING_LONGROPE}) {
    const rotor_config cfg = make_config(scaling, ROTOR_PAIRING_INTERLEAVED);
    Model model(cfg, 4, 2, 2, 30, 7u);
    ASSERT_EQ(rotor_table_set_rescale_policy(model.table(), ROTOR_RESCALE_PIN), ROTOR_OK);
    Cache cache = model.new_cache();
    std::vector<float> out;
    ASSERT_EQ(model.forward(cache, 0, 10, &out), ROTOR_OK);
    const Rope first_rows = reference_rope(cfg, 10, 0);
    uint32_t length = 10;
    for (uint32_t s : {6u, 4u, 1u, 9u}) {  // crosses 16 (LongRoPE, dynamic NTK) and 20 (NTK)
      ASSERT_EQ(model.forward(cache, length, s, &out), ROTOR_OK);
      length += s;
      EXPECT_LT(test_support::max_abs_diff(out, model.reference(length - s, length, first_rows)), 2e-5)
          << "scaling " << scaling << " at " << length;
    }
    EXPECT_GT(model.epoch(), 0u) << "the table moved on";
    EXPECT_EQ(cache_epoch(cache), 0u);
    EXPECT_EQ(rerotations(cache), 0u);
    // A new sequence on the same table pins the table's current rows.
    ASSERT_EQ(rotor_kv_cache_reset(cache.cache), ROTOR_OK);
    ASSERT_EQ(model.forward(cache, 0, 30, &out), ROTOR_OK);
    EXPECT_EQ(cache_epoch(cache), model.epoch());
    const uint32_t dynamic = scaling == ROTOR_SCALING_DYNAMIC_NTK ? 30 : 0;
    EXPECT_LT(test_support::max_abs_diff(out, model.reference(0, 30, reference_rope(cfg, 30, dynamic))), 2e-5);
  }
}

// REFUSE: the call that would need new rows returns RESCALED and changes nothing, the table
// included; a reset cache then re-prefills.
TEST(RescaleCachePolicy, RefuseReturnsTheStatusAndChangesNothing) {
  const rotor_config cfg = make_config(ROTOR_SCALING_LONGROPE, ROTOR_PAIRING_HALF);
  Model model(cfg, 4, 2, 1, 20, 5u);
  ASSERT_EQ(rotor_table_set_rescale_policy(model.table(), ROTOR_RESCALE_REFUSE), ROTOR_OK);
  Cache cache = model.new_cache();
  std::vector<float> out;
  ASSERT_EQ(model.forward(cache, 0, 16, &out), ROTOR_OK);
  const size_t arena = rotor_kv_cache_arena_size(2, kHeadDim, 256, ROTOR_DTYPE_F32);
  const std::vector<unsigned char> before(cache.arena.get(), cache.arena.get() + arena);
  EXPECT_EQ(model.forward(cache, 16, 1, &out), ROTOR_ERR_RESCALED);
  EXPECT_TRUE(std::all_of(out.begin(), out.end(), [](float x) { return x == 7.0f; })) << "output written";
  EXPECT_EQ(std::memcmp(before.data(), cache.arena.get(), arena), 0) << "cache changed";
  EXPECT_EQ(model.epoch(), 0u) << "the refused call rescaled the table";
  EXPECT_STRNE(rotor_status_string(ROTOR_ERR_RESCALED), "unknown rotor status");
  // Re-prefill: the whole sequence in one call uses the long rows throughout.
  ASSERT_EQ(rotor_kv_cache_reset(cache.cache), ROTOR_OK);
  ASSERT_EQ(model.forward(cache, 0, 17, &out), ROTOR_OK);
  EXPECT_EQ(model.epoch(), 1u);
  EXPECT_LT(test_support::max_abs_diff(out, model.reference(0, 17, reference_rope(cfg, 17))), 2e-5);
  // Calls that keep the rows pass.
  ASSERT_EQ(model.forward(cache, 17, 3, &out), ROTOR_OK);
}

// The policy is read once, at the start of a call: a change made while the call runs (here by
// the event callback of the rescale the call itself causes) applies from the next call on.
// Reading it twice made this call lease under REROTATE and then pin the cache.
TEST(RescaleCachePolicy, PolicyIsReadOnceAtTheStartOfACall) {
  const rotor_config cfg = make_config(ROTOR_SCALING_LONGROPE, ROTOR_PAIRING_HALF);
  Model model(cfg, 4, 2, 1, 20, 5u);
  auto switch_to_pin = [](void *table, const rotor_table_event *event) {
    if (event->reason == ROTOR_EVENT_RESCALE)
      (void)rotor_table_set_rescale_policy(static_cast<rotor_table *>(table), ROTOR_RESCALE_PIN);
  };
  ASSERT_EQ(rotor_table_set_event_callback(model.table(), switch_to_pin, model.table()), ROTOR_OK);
  Cache cache = model.new_cache();
  std::vector<float> out;
  ASSERT_EQ(model.forward(cache, 0, 16, &out), ROTOR_OK);
  ASSERT_EQ(model.forward(cache, 16, 1, &out), ROTOR_OK);  // past L0: the long factors, a rescale
  EXPECT_EQ(model.epoch(), 1u);
  EXPECT_EQ(rerotations(cache), 1u) << "the call began under REROTATE: its cache is re-rotated";
  EXPECT_EQ(cache_epoch(cache), 1u);
  EXPECT_LT(test_support::max_abs_diff(out, model.reference(16, 17, reference_rope(cfg, 17))), 2e-5);
}

TEST(RescaleCachePolicy, PolicySetterValidates) {
  const rotor_config cfg = make_config(ROTOR_SCALING_LONGROPE, ROTOR_PAIRING_HALF);
  Model model(cfg, 2, 1, 1, 4, 1u);
  EXPECT_EQ(rotor_table_set_rescale_policy(nullptr, ROTOR_RESCALE_PIN), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_set_rescale_policy(model.table(), rotor_rescale_policy(3)), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_set_rescale_policy(model.table(), rotor_rescale_policy(-1)), ROTOR_ERR_INVALID_ARGUMENT);
  uint64_t e = 0;
  EXPECT_EQ(rotor_table_epoch(nullptr, &e), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_table_epoch(model.table(), nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_epoch(nullptr, &e), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_rerotations(nullptr, &e), ROTOR_ERR_INVALID_ARGUMENT);
}

// ---- rotor_rerotate_keys: a caller's own cache ----------------------------------------------

TEST(RerotateKeys, MatchesAFreshRotationWithTheNewRows) {
  for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED})
    for (uint32_t threads : {1u, 3u}) {
      const rotor_config cfg = make_config(ROTOR_SCALING_DYNAMIC_NTK, pairing);
      rotor_table *table = nullptr;
      ASSERT_EQ(rotor_table_create(&table, &cfg), ROTOR_OK);
      rotor_pool *pool = nullptr;
      if (threads > 1) ASSERT_EQ(rotor_pool_create(&pool, threads), ROTOR_OK);
      const uint32_t seq = 40, heads = 3;
      std::mt19937 rng(11);
      std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
      std::vector<float> raw(size_t{seq} * heads * kHeadDim);
      for (float &x : raw) x = dist(rng);
      // Positions 0..15 rotated at epoch 0 (seq_len 16 = L0: the original base).
      std::vector<float> keys = raw;
      rotor_tensor view = rotor_tensor_bshd(keys.data(), ROTOR_DTYPE_F32, 1, 16, heads, kHeadDim);
      ASSERT_EQ(rotor_apply(table, &view, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
      // A longer sequence rescales the table.
      std::vector<float> other = raw;
      rotor_tensor other_view = rotor_tensor_bshd(other.data(), ROTOR_DTYPE_F32, 1, seq, heads, kHeadDim);
      ASSERT_EQ(rotor_apply(table, &other_view, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
      uint64_t now = 0, to = 99;
      ASSERT_EQ(rotor_table_epoch(table, &now), ROTOR_OK);
      ASSERT_EQ(now, 1u);
      const size_t ws_bytes = rotor_rerotate_workspace_size(kHeadDim, threads);
      AlignedBuffer ws = aligned_buffer(ws_bytes);
      ASSERT_EQ(rotor_rerotate_keys(table, &view, nullptr, 0, 0, &to, ws.get(), ws_bytes, pool), ROTOR_OK);
      EXPECT_EQ(to, 1u);
      // The first 16 of `other` were rotated with epoch 1's rows directly.
      const ptrdiff_t first16 = ptrdiff_t(size_t{16} * heads * kHeadDim);
      const std::vector<float> fresh(other.begin(), other.begin() + first16);
      const std::vector<float> rerotated(keys.begin(), keys.begin() + first16);
      EXPECT_LT(test_support::max_abs_diff(rerotated, fresh), 1e-5);
      EXPECT_TRUE(std::equal(keys.begin() + first16, keys.end(), raw.begin() + first16)) << "past the view";
      rotor_table_stats stats{};
      stats.struct_size = sizeof stats;
      ASSERT_EQ(rotor_table_stats_get(table, &stats), ROTOR_OK);
      EXPECT_EQ(stats.key_rerotations, 1u);
      EXPECT_EQ(stats.epoch, 1u);
      // Same epoch: nothing changes.
      const std::vector<float> again = keys;
      ASSERT_EQ(rotor_rerotate_keys(table, &view, nullptr, 0, 1, &to, ws.get(), ws_bytes, pool), ROTOR_OK);
      EXPECT_EQ(keys, again);
      rotor_pool_destroy(pool);
      rotor_table_destroy(table);
    }
}

TEST(RerotateKeys, ExplicitPositionsAndErrors) {
  const rotor_config cfg = make_config(ROTOR_SCALING_LONGROPE, ROTOR_PAIRING_HALF);
  rotor_table *table = nullptr;
  ASSERT_EQ(rotor_table_create(&table, &cfg), ROTOR_OK);
  const uint32_t heads = 2;
  std::vector<float> raw(size_t{2} * 3 * heads * kHeadDim);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float &x : raw) x = dist(rng);
  const int32_t positions[6] = {3, 15, 0, 9, 14, 1};
  std::vector<float> keys = raw, fresh = raw;
  rotor_tensor view = rotor_tensor_bshd(keys.data(), ROTOR_DTYPE_F32, 2, 3, heads, kHeadDim);
  rotor_tensor fresh_view = rotor_tensor_bshd(fresh.data(), ROTOR_DTYPE_F32, 2, 3, heads, kHeadDim);
  ASSERT_EQ(rotor_apply(table, &view, positions, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);  // short
  std::vector<float> scratch(size_t{20} * heads * kHeadDim, 0.5f);
  rotor_tensor long_view = rotor_tensor_bshd(scratch.data(), ROTOR_DTYPE_F32, 1, 20, heads, kHeadDim);
  ASSERT_EQ(rotor_apply(table, &long_view, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);  // long
  const size_t ws_bytes = rotor_rerotate_workspace_size(kHeadDim, 1);
  AlignedBuffer ws = aligned_buffer(ws_bytes);
  uint64_t to = 42;
  const std::vector<float> before = keys;
  const int32_t bad[6] = {3, 15, 0, 9, 256, 1};
  EXPECT_EQ(rotor_rerotate_keys(table, &view, bad, 0, 0, &to, ws.get(), ws_bytes, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_rerotate_keys(table, &view, positions, 0, 2, &to, ws.get(), ws_bytes, nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);  // an epoch the table has not reached
  EXPECT_EQ(rotor_rerotate_keys(table, &view, positions, 0, 0, &to, ws.get(), ws_bytes - 1, nullptr),
            ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(rotor_rerotate_keys(table, &view, positions, 0, 0, &to, ws.get() + 8, ws_bytes, nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);  // misaligned
  EXPECT_EQ(rotor_rerotate_keys(table, &view, positions, 0, 0, nullptr, ws.get(), ws_bytes, nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);
  rotor_tensor overlapping = rotor_tensor_bshd(ws.get(), ROTOR_DTYPE_F32, 1, 1, 1, kHeadDim);
  EXPECT_EQ(rotor_rerotate_keys(table, &overlapping, nullptr, 0, 0, &to, ws.get(), ws_bytes, nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(keys, before);
  EXPECT_EQ(to, 42u);
  ASSERT_EQ(rotor_rerotate_keys(table, &view, positions, 0, 0, &to, ws.get(), ws_bytes, nullptr), ROTOR_OK);
  EXPECT_EQ(to, 1u);
  uint64_t epoch = 0;
  ASSERT_EQ(rotor_table_epoch(table, &epoch), ROTOR_OK);
  EXPECT_EQ(epoch, 1u) << "rerotate must not switch the table back to the short factors";
  // The fresh rotation with the long rows (rotor_apply at these positions would lease seq_len
  // 16 and switch the table back to the short factors): rows 0..19 read out, then applied.
  std::vector<float> cos(20 * kRotary / 2), sin(20 * kRotary / 2);
  ASSERT_EQ(rotor_table_cos_sin(table, 0, 20, ROTOR_DTYPE_F32, 0, cos.data(), sin.data()), ROTOR_OK);
  ASSERT_EQ(rotor_apply_cos_sin(cos.data(), sin.data(), 20, kRotary, ROTOR_PAIRING_HALF, &fresh_view, &fresh_view,
                                positions, 0, ROTOR_FORWARD, nullptr),
            ROTOR_OK);
  EXPECT_LT(test_support::max_abs_diff(keys, fresh), 1e-5);
  rotor_table_destroy(table);
}

// A workspace whose end would wrap the address space is refused before anything is read or
// written (the overlap check once added the size unchecked, wrapped, and let it through).
TEST(RerotateKeys, WorkspaceThatWouldWrapTheAddressSpaceIsRefused) {
  const rotor_config cfg = make_config(ROTOR_SCALING_LONGROPE, ROTOR_PAIRING_HALF);
  rotor_table *table = nullptr;
  ASSERT_EQ(rotor_table_create(&table, &cfg), ROTOR_OK);
  std::vector<float> keys(size_t{4} * kHeadDim, 0.25f);
  const std::vector<float> before = keys;
  rotor_tensor view = rotor_tensor_bshd(keys.data(), ROTOR_DTYPE_F32, 1, 4, 1, kHeadDim);
  // 64-byte aligned, 64 bytes below the top of the address space: never dereferenced.
  void *top = reinterpret_cast<void *>(~uintptr_t{0} & ~uintptr_t{ROTOR_ARENA_ALIGNMENT - 1});
  uint64_t to = 42;
  EXPECT_EQ(rotor_rerotate_keys(table, &view, nullptr, 0, 0, &to, top, SIZE_MAX, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(keys, before);
  EXPECT_EQ(to, 42u);
  rotor_table_destroy(table);
}

TEST(RerotateKeys, EpochOlderThanTheHistoryIsRescaled) {
  const rotor_config cfg = make_config(ROTOR_SCALING_DYNAMIC_NTK, ROTOR_PAIRING_HALF);
  rotor_table *table = nullptr;
  ASSERT_EQ(rotor_table_create(&table, &cfg), ROTOR_OK);
  std::vector<float> keys(size_t{64} * kHeadDim, 0.25f);
  // Each longer sequence past L0 is a rescale: epochs 1 .. ROTOR_EPOCH_HISTORY.
  for (uint32_t len = kOriginal + 1; len <= kOriginal + ROTOR_EPOCH_HISTORY; ++len) {
    rotor_tensor v = rotor_tensor_bshd(keys.data(), ROTOR_DTYPE_F32, 1, len, 1, kHeadDim);
    ASSERT_EQ(rotor_apply(table, &v, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  }
  uint64_t epoch = 0, to = 0;
  ASSERT_EQ(rotor_table_epoch(table, &epoch), ROTOR_OK);
  ASSERT_EQ(epoch, uint64_t{ROTOR_EPOCH_HISTORY});
  rotor_tensor view = rotor_tensor_bshd(keys.data(), ROTOR_DTYPE_F32, 1, 4, 1, kHeadDim);
  const size_t ws_bytes = rotor_rerotate_workspace_size(kHeadDim, 1);
  AlignedBuffer ws = aligned_buffer(ws_bytes);
  EXPECT_EQ(rotor_rerotate_keys(table, &view, nullptr, 0, 0, &to, ws.get(), ws_bytes, nullptr), ROTOR_ERR_RESCALED);
  EXPECT_EQ(rotor_rerotate_keys(table, &view, nullptr, 0, 1, &to, ws.get(), ws_bytes, nullptr), ROTOR_OK);
  rotor_table_destroy(table);
}

// ---- the softmax scale ------------------------------------------------------------------------

TEST(AttentionScale, DeepSeekV3PublishedValues) {
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  ASSERT_EQ(rotor_config_preset(&cfg, "deepseek-v3"), ROTOR_OK);
  ASSERT_EQ(cfg.factor, 40.0f);
  ASSERT_EQ(cfg.mscale_all_dim, 1.0f);
  float scale = 0;
  ASSERT_EQ(rotor_attention_scale(&cfg, 192, &scale), ROTOR_OK);  // qk_head_dim = 128 nope + 64 rope
  const double m = 0.1 * std::log(40.0) + 1.0;                    // 1.36889
  EXPECT_NEAR(m * m, 1.8739, 1e-4);                               // the ~1.87x of the issue
  EXPECT_NEAR(scale, m * m / std::sqrt(192.0), 1e-7);
  EXPECT_NEAR(scale, 0.135234, 1e-6);
}

TEST(AttentionScale, DeepSeekV2LiteAndPlainConfigs) {
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  cfg.scaling = ROTOR_SCALING_YARN;
  cfg.factor = 40.0f;
  cfg.original_max_len = 4096;
  cfg.mscale = 0.707f;
  cfg.mscale_all_dim = 0.707f;
  float scale = 0;
  ASSERT_EQ(rotor_attention_scale(&cfg, 192, &scale), ROTOR_OK);
  EXPECT_NEAR(scale * std::sqrt(192.0), 1.590, 1e-3);  // anchors.md: 1.261^2 = 1.590
  cfg.mscale = cfg.mscale_all_dim = 0.0f;               // plain YaRN: the rows carry the factor
  ASSERT_EQ(rotor_attention_scale(&cfg, 128, &scale), ROTOR_OK);
  EXPECT_FLOAT_EQ(scale, float(1.0 / std::sqrt(128.0)));
  cfg.mscale_all_dim = 1.0f;
  cfg.factor = 1.0f;  // no extension: mscale = 1
  ASSERT_EQ(rotor_attention_scale(&cfg, 128, &scale), ROTOR_OK);
  EXPECT_FLOAT_EQ(scale, float(1.0 / std::sqrt(128.0)));
  rotor_config plain;
  rotor_config_init(&plain, 128);
  ASSERT_EQ(rotor_attention_scale(&plain, 128, &scale), ROTOR_OK);
  EXPECT_FLOAT_EQ(scale, float(1.0 / std::sqrt(128.0)));
  scale = 3.0f;
  EXPECT_EQ(rotor_attention_scale(&plain, 64, &scale), ROTOR_ERR_INVALID_ARGUMENT);  // < rotary_dim
  EXPECT_EQ(rotor_attention_scale(&plain, 0, &scale), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_attention_scale(nullptr, 128, &scale), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_attention_scale(&plain, 128, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(scale, 3.0f);
}

}  // namespace
