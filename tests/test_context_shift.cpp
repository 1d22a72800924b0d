// Context shift (rotor_kv_cache_evict): after evicting a range of cached tokens,
//  - every moved key is within one extra rounding of the exact key at its new position (long
//    double reference of tests/test_scaling_ref.hpp), for every scaling type, after rescales
//    (the cache re-rotated first), for a pinned cache, and for f32, f16 and bf16 caches;
//  - decoding after the shift equals a fresh prefill of the kept tokens at their new positions
//    on a table with the same history, and a double attention over keys at the new positions,
//    while the same comparison with the keys at stale, wrongly signed or off-by-one positions
//    fails by far (so the test sees those bugs);
//  - errors change no byte of the cache; pools of 1, 2 and 4 threads give the same bits;
//  - StreamingLLM's loop (sink tokens plus a recent window, evicting whenever the cache is full)
//    decodes as a fresh prefill of the tokens it kept.
// The allocation check is tests/attention/test_context_shift_no_alloc.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "attention/kv_cache.hpp"  // reads the cached keys back
#include "support/reference.hpp"
#include "rotor/rotor.h"
#include "support/compare.hpp"
#include "support/kv_model.hpp"
#include "support/scaling_reference.hpp"

namespace {

using sref::LD;

constexpr uint32_t kRotary = 16;    // r
constexpr uint32_t kHeadDim = 20;   // d: the last 4 dims are not rotated
constexpr uint32_t kOriginal = 16;  // L0
constexpr uint32_t kMaxLen = 256;

const float kShort[kRotary / 2] = {1.0f, 1.02f, 1.05f, 1.1f, 1.2f, 1.3f, 1.5f, 1.7f};
const float kLong[kRotary / 2] = {1.0f, 1.1f, 1.4f, 2.0f, 2.8f, 3.7f, 4.8f, 6.0f};

// One config per scaling type; base 100 so angles are large within a few dozen positions.
rotor_config make_config(rotor_scaling scaling, rotor_pairing pairing, bool ntk_dynamic = false) {
  rotor_config cfg;
  rotor_config_init(&cfg, kRotary);
  cfg.pairing = pairing;
  cfg.base = 100.0;
  cfg.max_len = kMaxLen;
  cfg.initial_len = 4;
  cfg.scaling = scaling;
  cfg.original_max_len = kOriginal;
  switch (scaling) {
    case ROTOR_SCALING_LINEAR: cfg.factor = 2.0f; break;
    case ROTOR_SCALING_NTK:  // static k = 2 (serves 32; 40 takes one-off rows), or adopting from k = 1
      cfg.factor = ntk_dynamic ? 1.0f : 2.0f;
      cfg.ntk_dynamic = ntk_dynamic ? 1 : 0;
      break;
    case ROTOR_SCALING_DYNAMIC_NTK: cfg.factor = 4.0f; break;
    case ROTOR_SCALING_YARN: cfg.factor = 4.0f; break;
    case ROTOR_SCALING_LLAMA3: cfg.factor = 8.0f; break;
    case ROTOR_SCALING_LONGROPE:
      cfg.factor = 8.0f;
      cfg.short_factor = kShort;
      cfg.long_factor = kLong;
      break;
    default: break;
  }
  return cfg;
}

// The rows a set of keys carries, in the reference's terms.
struct Rows {
  std::vector<LD> inv_freq;
  LD factor = 1;
};
Rows rows_of(const rotor_config &cfg, const sref::State &state) {
  return Rows{sref::inv_freq(cfg, state), sref::attention_factor(cfg)};
}

void pair_dims(const rotor_config &cfg, uint32_t i, uint32_t *a, uint32_t *b) {
  ref::pair_dims(cfg.pairing, cfg.rotary_dim, i, a, b);
}

// One raw head rotated exactly at `position`.
std::vector<LD> rotate_exact(const float *raw, const rotor_config &cfg, const Rows &rows, LD position) {
  std::vector<LD> head(raw, raw + kHeadDim);
  for (uint32_t i = 0; i < cfg.rotary_dim / 2; ++i) {
    uint32_t a, b;
    pair_dims(cfg, i, &a, &b);
    const LD angle = position * rows.inv_freq[i], x = head[a], y = head[b];
    head[a] = rows.factor * (x * std::cos(angle) - y * std::sin(angle));
    head[b] = rows.factor * (y * std::cos(angle) + x * std::sin(angle));
  }
  return head;
}

// Dimension dim of the key (head, token), from the cache's key blocks.
double key_element(const rotor::KvCache &c, uint32_t head, uint32_t token, uint32_t dim) {
  const unsigned char *at = c.key_at(head, token) + size_t{dim} * rotor::kKeyBlock * (c.key_dtype == ROTOR_DTYPE_F32 ? 4 : 2);
  if (c.key_dtype == ROTOR_DTYPE_F32) {
    float f;
    std::memcpy(&f, at, sizeof f);
    return f;
  }
  uint16_t bits;
  std::memcpy(&bits, at, sizeof bits);
  return c.key_dtype == ROTOR_DTYPE_F16 ? ref::f16_value(bits) : ref::bf16_value(bits);
}

// Unit roundoff of a dtype: |round(x) - x| <= u |x| for normal x.
double unit_roundoff(rotor_dtype dtype) {
  return dtype == ROTOR_DTYPE_F32 ? std::ldexp(1.0, -24) : dtype == ROTOR_DTYPE_F16 ? std::ldexp(1.0, -11) : std::ldexp(1.0, -8);
}

// ---- a sequence on a table and a cache ---------------------------------------------------------

// The shared model (support/kv_model.hpp) plus what a context shift needs: the token ids each
// cached slot holds, the rows the reference expects its keys to carry, eviction, and a long
// double attention over keys at chosen positions.
class Model : public test_support::KvModel {
 public:
  Model(const rotor_config &cfg, uint32_t hq, uint32_t hk, uint32_t total, unsigned seed,
        rotor_dtype cache_dtype = ROTOR_DTYPE_F32, uint32_t threads = 1)
      : KvModel(cfg, hq, hk, kHeadDim, total, seed, cache_dtype, threads), state_(sref::initial_state(cfg)) {}

  struct Cache : test_support::KvArena {
    std::vector<uint32_t> ids;  // the token id each cached slot holds
    sref::State rows;           // the rows its keys carry (the reference's bookkeeping)
    const rotor::KvCache &internal() const { return *reinterpret_cast<const rotor::KvCache *>(cache); }
  };

  Cache new_cache(uint32_t max_len = kMaxLen) {
    Cache c;
    init_cache(&c, max_len);
    return c;
  }

  // Appends tokens `ids` to the cache in one forward call; out: [ids][hq][d]. Tracks the rows
  // the reference expects the cache to carry afterwards under the table's policy.
  void forward(Cache &c, const std::vector<uint32_t> &ids, std::vector<float> *out,
               rotor_rescale_policy policy = ROTOR_RESCALE_REROTATE) {
    const uint32_t s = uint32_t(ids.size());
    ASSERT_EQ(rotor_table_set_rescale_policy(table_, policy), ROTOR_OK);
    ASSERT_EQ(forward_ids(c.cache, ids, out), ROTOR_OK);
    const uint32_t seq_len = uint32_t(c.ids.size()) + s;
    const sref::State used = sref::call_state(cfg_, state_, seq_len);
    state_ = sref::after_call(cfg_, state_, seq_len);
    if (c.ids.empty() || policy != ROTOR_RESCALE_PIN) c.rows = used;
    c.ids.insert(c.ids.end(), ids.begin(), ids.end());
    last_rows_ = policy == ROTOR_RESCALE_PIN ? c.rows : used;
  }

  rotor_status evict(Cache &c, uint32_t start, uint32_t count, rotor_pool *pool = nullptr) {
    const rotor_status s = rotor_kv_cache_evict(table_, c.cache, start, count, pool);
    if (s == ROTOR_OK) c.ids.erase(c.ids.begin() + start, c.ids.begin() + start + count);
    return s;
  }

  // Double attention of the query `qid` at position `qpos` over the cached ids of c at
  // `key_positions` (one per cached token), every head rotated exactly with `rows`.
  std::vector<double> reference_step(const std::vector<uint32_t> &key_ids, const std::vector<LD> &key_positions,
                                     uint32_t qid, LD qpos, const Rows &rows) const {
    const uint32_t d = kHeadDim, group = hq_ / hk_;
    std::vector<double> out(size_t{hq_} * d, 0.0);
    for (uint32_t h = 0; h < hq_; ++h) {
      const std::vector<LD> query = rotate_exact(&q_[(size_t{qid} * hq_ + h) * d], cfg_, rows, qpos);
      std::vector<LD> scores(key_ids.size());
      LD top = -INFINITY;
      for (size_t j = 0; j < key_ids.size(); ++j) {
        const std::vector<LD> key =
            rotate_exact(&k_[(size_t{key_ids[j]} * hk_ + h / group) * d], cfg_, rows, key_positions[j]);
        LD dot = 0;
        for (uint32_t x = 0; x < d; ++x) dot += query[x] * key[x];
        top = std::max(top, scores[j] = dot * LD(scale_));
      }
      LD sum = 0;
      for (LD &sc : scores) sum += (sc = std::exp(sc - top));
      for (size_t j = 0; j < key_ids.size(); ++j)
        for (uint32_t x = 0; x < d; ++x)
          out[size_t{h} * d + x] += double(scores[j] / sum * LD(v_[(size_t{key_ids[j]} * hk_ + h / group) * d + x]));
    }
    return out;
  }

  const float *raw_key(uint32_t id, uint32_t head) const { return &k_[(size_t{id} * hk_ + head) * kHeadDim]; }
  const sref::State &last_rows() const { return last_rows_; }  // rows of the last forward call

 private:
  sref::State state_, last_rows_;
};

using test_support::token_ids;


// Per cached key and pair: the distance to the exact key at the slot's position, and the pair's
// norm. keys[slot][head][pair] = {error, norm}.
struct PairError {
  double error, norm;
};
std::vector<PairError> key_errors(const Model &m, const Model::Cache &c) {
  const rotor::KvCache &kc = c.internal();
  const Rows rows = rows_of(m.config(), c.rows);
  std::vector<PairError> errors;
  for (uint32_t slot = 0; slot < kc.length; ++slot)
    for (uint32_t h = 0; h < kc.kv_heads; ++h) {
      const std::vector<LD> exact = rotate_exact(m.raw_key(c.ids[slot], h), m.config(), rows, slot);
      for (uint32_t i = 0; i < kRotary / 2; ++i) {
        uint32_t a, b;
        pair_dims(m.config(), i, &a, &b);
        const double x = key_element(kc, h, slot, a), y = key_element(kc, h, slot, b);
        errors.push_back({std::hypot(double(x - exact[a]), double(y - exact[b])), std::hypot(x, y)});
      }
    }
  return errors;
}

// ---- scenarios -------------------------------------------------------------------------------

struct TypeCase {
  const char *name;
  rotor_scaling scaling;
  bool ntk_dynamic;
  rotor_rescale_policy policy;
};

// The sequence before the shift: 12 tokens, then 28 more (40 in all). For the adaptive types the
// second call rescales (LongRoPE's long factors past 16, dynamic NTK's base for 40, NTK adopting
// k = 4, static NTK's one-off rows for 40 > 16 * 2) and the cache is re-rotated first (REROTATE)
// or keeps its first rows (PIN).
const TypeCase kTypes[] = {
    {"none", ROTOR_SCALING_NONE, false, ROTOR_RESCALE_REROTATE},
    {"linear", ROTOR_SCALING_LINEAR, false, ROTOR_RESCALE_REROTATE},
    {"ntk", ROTOR_SCALING_NTK, false, ROTOR_RESCALE_REROTATE},
    {"ntk_dynamic", ROTOR_SCALING_NTK, true, ROTOR_RESCALE_REROTATE},
    {"dynamic_ntk", ROTOR_SCALING_DYNAMIC_NTK, false, ROTOR_RESCALE_REROTATE},
    {"yarn", ROTOR_SCALING_YARN, false, ROTOR_RESCALE_REROTATE},
    {"llama3", ROTOR_SCALING_LLAMA3, false, ROTOR_RESCALE_REROTATE},
    {"longrope", ROTOR_SCALING_LONGROPE, false, ROTOR_RESCALE_REROTATE},
    {"longrope_pinned", ROTOR_SCALING_LONGROPE, false, ROTOR_RESCALE_PIN},
    {"dynamic_ntk_pinned", ROTOR_SCALING_DYNAMIC_NTK, false, ROTOR_RESCALE_PIN},
};
constexpr uint32_t kFirstCall = 12, kTotal = 150;  // keys span three 64-token blocks

// (start, count) of the evictions: sinks and a middle range; a long range that brings the
// length back under L0 (LongRoPE returns to its short factors at the next call); no sinks; the
// tail only (nothing moves).
struct Range {
  uint32_t start, count;
};
// Moves within a block, across one and two block boundaries, by more than a block, and none.
const Range kRanges[] = {{4, 10}, {2, 90}, {0, 5}, {60, 7}, {145, 5}};

struct ShiftParam {
  rotor_pairing pairing;
  rotor_dtype cache_dtype;
};

class ContextShift : public ::testing::TestWithParam<ShiftParam> {};

void fill(Model &m, Model::Cache &c, rotor_rescale_policy policy) {
  std::vector<float> out;
  m.forward(c, token_ids(0, kFirstCall), &out, policy);
  m.forward(c, token_ids(kFirstCall, kTotal), &out, policy);
}

// (1) Every moved key is within one rounding (of the cache's dtype) of where it was: its
// distance to the exact key at the new position is at most its distance to the exact key at
// the old position plus one rounding of the pair, u |pair| (f16/bf16: plus the float step's
// 2^-24), per pair. Keys before `start` and the unrotated dims are the same bits as before.
TEST_P(ContextShift, MovedKeysAreWithinOneRoundingOfTheExactKeysAtTheirNewPositions) {
  const ShiftParam p = GetParam();
  const double u = unit_roundoff(p.cache_dtype) + (p.cache_dtype == ROTOR_DTYPE_F32 ? 0.0 : std::ldexp(1.0, -24));
  double worst_overall = 0;
  for (const TypeCase &tc : kTypes)
    for (const Range &range : kRanges) {
      SCOPED_TRACE(::testing::Message() << tc.name << " evict [" << range.start << ", +" << range.count << ")");
      const rotor_config cfg = make_config(tc.scaling, p.pairing, tc.ntk_dynamic);
      Model m(cfg, 4, 2, kTotal, 100u + unsigned(tc.scaling), p.cache_dtype);
      Model::Cache c = m.new_cache();
      fill(m, c, tc.policy);
      const std::vector<PairError> before = key_errors(m, c);
      const std::vector<unsigned char> arena_before(c.arena.get(), c.arena.get() + c.bytes);
      const uint64_t epoch_before = test_support::cache_epoch(c.cache);
      ASSERT_EQ(m.evict(c, range.start, range.count), ROTOR_OK);
      uint32_t length = 0;
      ASSERT_EQ(rotor_kv_cache_get_length(c.cache, &length), ROTOR_OK);
      ASSERT_EQ(length, kTotal - range.count);
      EXPECT_EQ(test_support::cache_epoch(c.cache), epoch_before) << "a shift keeps the rows the keys carry";
      const std::vector<PairError> after = key_errors(m, c);
      const size_t per_token = size_t{m.kv_heads()} * kRotary / 2;
      double worst_excess = 0;  // in units of u |pair|
      for (size_t e = 0; e < after.size(); ++e) {
        const size_t slot = e / per_token;
        const size_t old_e = slot < range.start ? e : e + size_t{range.count} * per_token;
        const double excess = (after[e].error - before[old_e].error) / (before[old_e].norm * u);
        worst_excess = std::max(worst_excess, excess);
        ASSERT_LE(after[e].error, before[old_e].error + u * before[old_e].norm + 1e-15)
            << "slot " << slot << " error before " << before[old_e].error;
      }
      EXPECT_LE(worst_excess, 1.0);
      worst_overall = std::max(worst_overall, worst_excess);
      // Untouched: keys and values of slots before start (bitwise), and the moved tokens' values
      // and unrotated dims are the old slots' bits.
      const rotor::KvCache &kc = c.internal();
      const size_t elem = p.cache_dtype == ROTOR_DTYPE_F32 ? 4 : 2;
      // Byte offsets in the arena, the same in its copy from before the shift.
      auto in_arena = [&](const unsigned char *p) { return size_t(p - c.arena.get()); };
      for (uint32_t h = 0; h < kc.kv_heads; ++h)
        for (uint32_t slot = 0; slot < length; ++slot) {
          const uint32_t old_slot = slot < range.start ? slot : slot + range.count;
          const size_t now = in_arena(kc.value_at(h, slot)), then = in_arena(kc.value_at(h, old_slot));
          EXPECT_EQ(std::memcmp(c.arena.get() + now, arena_before.data() + then, kHeadDim * elem), 0);
          const uint32_t first_dim = slot < range.start ? 0 : kRotary;  // moved keys: the unrotated tail
          for (uint32_t dim = first_dim; dim < kHeadDim; ++dim) {
            const size_t key_now = in_arena(kc.key_at(h, slot)) + size_t{dim} * rotor::kKeyBlock * elem;
            const size_t key_then = in_arena(kc.key_at(h, old_slot)) + size_t{dim} * rotor::kKeyBlock * elem;
            ASSERT_EQ(std::memcmp(c.arena.get() + key_now, arena_before.data() + key_then, elem), 0)
                << "head " << h << " slot " << slot << " dim " << dim;
          }
        }
    }
  std::printf("[ context shift ] dtype %d pairing %d: moved keys' error grew by at most %.3f roundings\n",
              int(p.cache_dtype), int(p.pairing), worst_overall);
}

// (2) + (3) Decoding after the shift. Two decode steps go through the shifted cache (A); on a
// second table with the same history (the same calls on a scratch cache: same adaptive state),
// a fresh cache prefills the kept tokens in one call and decodes the same steps (B). A equals B
// within the rounding of the keys, and both equal a long double attention over keys at the new
// positions. With the moved keys left at their old positions (no rotation), rotated the wrong
// way, or one position off, the same double attention is more than 1e-3 away: the comparison
// sees each of those bugs.
TEST_P(ContextShift, DecodeAfterShiftEqualsAFreshPrefillOfTheKeptTokens) {
  const ShiftParam p = GetParam();
  // f32: key roundings of ~1e-7 move scores by ~1e-7 and outputs (convex combinations of values
  // in [-1, 1]) by less: 1e-5 leaves room for the kernels' float sums and stays 100x under the
  // wrong-shift signal. f16/bf16: one rounding of each key (2^-11, 2^-8 relative), as in the
  // rescale tests (tests/test_rescale_cache.cpp: measured 1.3e-4 and 6.5e-4 there).
  const double fresh_bound = p.cache_dtype == ROTOR_DTYPE_F32 ? 1e-5 : p.cache_dtype == ROTOR_DTYPE_F16 ? 5e-4 : 4e-3;
  const double reference_bound = p.cache_dtype == ROTOR_DTYPE_F32 ? 2e-5 : fresh_bound;
  double worst_fresh = 0, worst_reference = 0, least_wrong = 1e9;
  for (const TypeCase &tc : kTypes)
    for (const Range &range : kRanges) {
      SCOPED_TRACE(::testing::Message() << tc.name << " evict [" << range.start << ", +" << range.count << ")");
      const rotor_config cfg = make_config(tc.scaling, p.pairing, tc.ntk_dynamic);
      const unsigned seed = 200u + unsigned(tc.scaling);
      Model a(cfg, 6, 3, kTotal + 2, seed, p.cache_dtype), b(cfg, 6, 3, kTotal + 2, seed, p.cache_dtype);
      Model::Cache shifted = a.new_cache(), scratch = b.new_cache(), fresh = b.new_cache();
      fill(a, shifted, tc.policy);
      fill(b, scratch, tc.policy);
      ASSERT_EQ(a.evict(shifted, range.start, range.count), ROTOR_OK);
      std::vector<float> out_a, out_b;
      if (tc.policy == ROTOR_RESCALE_PIN) {
        // A pinned sequence keeps its first rows: the fresh one must pin the same rows, so it
        // starts with the same first call (12 tokens) before the rest of the kept tokens.
        std::vector<uint32_t> kept = shifted.ids;
        const std::vector<uint32_t> head(kept.begin(), kept.begin() + std::min<size_t>(kFirstCall, kept.size()));
        b.forward(fresh, head, &out_b, tc.policy);
        if (kept.size() > head.size())
          b.forward(fresh, std::vector<uint32_t>(kept.begin() + ptrdiff_t(head.size()), kept.end()), &out_b, tc.policy);
        ASSERT_EQ(fresh.rows.long_set, shifted.rows.long_set);
        ASSERT_EQ(fresh.rows.dynamic_len, shifted.rows.dynamic_len);
      } else {
        b.forward(fresh, shifted.ids, &out_b, tc.policy);
      }
      for (uint32_t step = 0; step < 2; ++step) {
        const uint32_t id = kTotal + step;
        const std::vector<uint32_t> key_ids = [&] {
          std::vector<uint32_t> ids = shifted.ids;
          ids.push_back(id);
          return ids;
        }();
        a.forward(shifted, {id}, &out_a, tc.policy);
        b.forward(fresh, {id}, &out_b, tc.policy);
        worst_fresh = std::max(worst_fresh, test_support::max_abs_diff(out_a, out_b));
        EXPECT_LT(test_support::max_abs_diff(out_a, out_b), fresh_bound) << "step " << step;
        // The double reference at the new positions, with the rows of this call.
        const Rows rows = rows_of(cfg, a.last_rows());
        const uint32_t n = uint32_t(key_ids.size());
        const uint32_t kept_len = kTotal - range.count;  // the decode steps' keys come after
        std::vector<LD> right(n), stale(n), wrong_sign(n), one_more(n), one_less(n);
        for (uint32_t j = 0; j < n; ++j) {
          right[j] = stale[j] = wrong_sign[j] = one_more[j] = one_less[j] = j;
          if (j >= range.start && j < kept_len) {  // moved by the shift
            stale[j] = LD(j) + range.count;       // not rotated: still at its old position
            wrong_sign[j] = LD(j) + 2 * LD(range.count);  // rotated by +count instead of -count
            one_more[j] = LD(j) + 1;
            one_less[j] = LD(j) - 1;
          }
        }
        const LD qpos = n - 1;
        const std::vector<double> expected = a.reference_step(key_ids, right, id, qpos, rows);
        worst_reference = std::max(worst_reference, test_support::max_abs_diff(out_a, expected));
        EXPECT_LT(test_support::max_abs_diff(out_a, expected), reference_bound) << "step " << step;
        if (range.start < kept_len) {  // some key moved
          for (const std::vector<LD> *wrong : {&stale, &wrong_sign, &one_more, &one_less}) {
            const double off = test_support::max_abs_diff(out_a, a.reference_step(key_ids, *wrong, id, qpos, rows));
            least_wrong = std::min(least_wrong, off);
            EXPECT_GT(off, 1e-3) << "a wrong shift would pass, variant " << (wrong - &stale);
          }
        }
      }
    }
  std::printf("[ context shift ] dtype %d pairing %d: decode vs fresh prefill %.3g, vs long double %.3g; "
              "wrong shifts at least %.3g away\n",
              int(p.cache_dtype), int(p.pairing), worst_fresh, worst_reference, least_wrong);
}

INSTANTIATE_TEST_SUITE_P(Caches, ContextShift,
                         ::testing::Values(ShiftParam{ROTOR_PAIRING_HALF, ROTOR_DTYPE_F32},
                                           ShiftParam{ROTOR_PAIRING_INTERLEAVED, ROTOR_DTYPE_F32},
                                           ShiftParam{ROTOR_PAIRING_HALF, ROTOR_DTYPE_F16},
                                           ShiftParam{ROTOR_PAIRING_INTERLEAVED, ROTOR_DTYPE_BF16}));

// (4) Every error: the status, and no byte of the cache arena changed.
TEST(ContextShiftErrors, EveryErrorChangesNothing) {
  const rotor_config cfg = make_config(ROTOR_SCALING_LONGROPE, ROTOR_PAIRING_HALF);
  Model m(cfg, 4, 2, 24, 7u);
  Model::Cache c = m.new_cache();
  std::vector<float> out;
  m.forward(c, token_ids(0, 20), &out);
  const std::vector<unsigned char> before(c.arena.get(), c.arena.get() + c.bytes);
  auto unchanged = [&] { return std::memcmp(before.data(), c.arena.get(), c.bytes) == 0; };
  EXPECT_EQ(rotor_kv_cache_evict(nullptr, c.cache, 2, 3, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), nullptr, 2, 3, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, 18, 3, nullptr), ROTOR_ERR_OUT_OF_RANGE);  // 21 > 20
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, 0, 21, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, 21, 0, nullptr), ROTOR_ERR_OUT_OF_RANGE);  // start past L
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, UINT32_MAX, 2, nullptr), ROTOR_ERR_OUT_OF_RANGE);  // wraps in 32 bits
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, 1, UINT32_MAX, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  // A table whose rotary_dim exceeds the cache's head_dim cannot be the cache's table.
  rotor_config wide = make_config(ROTOR_SCALING_NONE, ROTOR_PAIRING_HALF);
  rotor_config_init(&wide, 24);
  rotor_table *wide_table = nullptr;
  ASSERT_EQ(rotor_table_create(&wide_table, &wide), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_evict(wide_table, c.cache, 2, 3, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_table_destroy(wide_table);
  EXPECT_TRUE(unchanged());
  // count 0 does nothing, wherever start is within the cache (its end included).
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, 0, 0, nullptr), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), c.cache, 20, 0, nullptr), ROTOR_OK);
  EXPECT_TRUE(unchanged());
  // An empty cache: only the empty range.
  Model::Cache empty = m.new_cache();
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), empty.cache, 0, 0, nullptr), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_evict(m.table(), empty.cache, 0, 1, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  // The whole cache: length 0, as a reset.
  EXPECT_EQ(m.evict(c, 0, 20), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_length(c.cache), 0u);
}

// (6) Pools of 1, 2 and 4 threads (and none) give the same bits: every key is rotated by the
// same arithmetic wherever it runs. Large enough for the pool to be used (4 heads x 146 keys).
TEST(ContextShiftThreads, PoolsGiveIdenticalBits) {
  for (rotor_dtype dt : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16})
    for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
      const rotor_config cfg = make_config(ROTOR_SCALING_YARN, pairing);
      std::vector<std::vector<unsigned char>> arenas;
      for (uint32_t threads : {0u, 1u, 2u, 4u}) {
        Model m(cfg, 8, 4, 200, 31u, dt);
        Model::Cache c = m.new_cache();
        std::vector<float> out;
        m.forward(c, token_ids(0, 200), &out);
        rotor_pool *pool = nullptr;
        if (threads > 0) ASSERT_EQ(rotor_pool_create(&pool, threads), ROTOR_OK);
        ASSERT_EQ(m.evict(c, 4, 50, pool), ROTOR_OK);
        ASSERT_EQ(m.evict(c, 100, 1, pool), ROTOR_OK);  // count 1: source and destination overlap
        rotor_pool_destroy(pool);
        // From the scratch on: the header before it holds this arena's own addresses.
        const size_t from = size_t(reinterpret_cast<const unsigned char *>(c.internal().freqs) - c.arena.get());
        arenas.emplace_back(c.arena.get() + from, c.arena.get() + c.bytes);
      }
      for (size_t i = 1; i < arenas.size(); ++i) EXPECT_TRUE(arenas[i] == arenas[0]) << "pool " << i;
    }
}

// StreamingLLM: 4 sink tokens and a window of 20 in a cache of 32; whenever the cache is full
// before a decode step, everything between the sinks and the window is evicted. Each token is
// shifted several times (one rounding each); the last steps still equal a fresh prefill of the
// kept tokens on a table with the same history, and the long double reference.
TEST(ContextShiftStreaming, SinkAndWindowDecodeLoop) {
  for (rotor_scaling scaling : {ROTOR_SCALING_NONE, ROTOR_SCALING_LLAMA3}) {
    const rotor_config cfg = make_config(scaling, ROTOR_PAIRING_HALF);
    const uint32_t sink = 4, window = 20, cache_len = 32, total = 100;
    Model a(cfg, 4, 2, total, 55u), b(cfg, 4, 2, total, 55u);
    Model::Cache c = a.new_cache(cache_len);
    std::vector<float> out;
    a.forward(c, token_ids(0, 10), &out);
    uint32_t evictions = 0;
    for (uint32_t id = 10; id < total; ++id) {
      uint32_t len = 0;
      ASSERT_EQ(rotor_kv_cache_get_length(c.cache, &len), ROTOR_OK);
      if (len == cache_len) {
        ASSERT_EQ(a.evict(c, sink, len - sink - window), ROTOR_OK);
        ++evictions;
      }
      a.forward(c, {id}, &out);
    }
    EXPECT_GE(evictions, 8u);
    std::vector<uint32_t> kept = c.ids;
    kept.pop_back();
    Model::Cache fresh = b.new_cache(cache_len);
    std::vector<float> fresh_out;
    b.forward(fresh, kept, &fresh_out);
    b.forward(fresh, {total - 1}, &fresh_out);
    EXPECT_LT(test_support::max_abs_diff(out, fresh_out), 1e-5) << "scaling " << scaling;
    std::vector<LD> positions(c.ids.size());
    for (size_t j = 0; j < positions.size(); ++j) positions[j] = LD(j);
    const std::vector<double> expected =
        a.reference_step(c.ids, positions, total - 1, LD(c.ids.size() - 1), rows_of(cfg, a.last_rows()));
    EXPECT_LT(test_support::max_abs_diff(out, expected), 2e-5) << "scaling " << scaling;
    EXPECT_EQ(c.ids.front(), 0u);
    EXPECT_EQ(c.ids[sink], total - 1 - (uint32_t(c.ids.size()) - 1 - sink));  // a contiguous recent window
  }
}

}  // namespace
