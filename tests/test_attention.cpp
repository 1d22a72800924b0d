// rotor_attention_forward and the KV cache: prefill equals step-by-step decode, both equal a
// plain double-precision attention with an explicit causal mask (rotated here, independently
// of the library), chunked prefill, batches of different lengths, dtypes, strided views and
// every error path (with nothing changed).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <vector>

#include "kernels/registry.hpp"
#include "kernels/attention_kernels.hpp"
#include "attention/kv_cache.hpp"
#include "common/half.hpp"
#include "rotor/rotor.h"
#include "support/aligned_buffer.hpp"
#include "support/compare.hpp"

namespace {

using test_support::max_abs_diff;

// ---- the double-precision reference ---------------------------------------------------------

struct RopeSpec {
  uint32_t rotary_dim;
  rotor_pairing pairing;
  double base;
};

// Rotates the leading rotary_dim dims of one head at `position`, in double.
void rotate_double(double *head, const RopeSpec &rope, double position) {
  const uint32_t half = rope.rotary_dim / 2;
  for (uint32_t i = 0; i < half; ++i) {
    const double angle = position * std::pow(rope.base, -2.0 * i / double(rope.rotary_dim));
    const uint32_t a = rope.pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
    const uint32_t b = rope.pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
    const double x = head[a], y = head[b];
    head[a] = x * std::cos(angle) - y * std::sin(angle);
    head[b] = y * std::cos(angle) + x * std::sin(angle);
  }
}

// One sequence's raw (unrotated) keys and values, [token][kv_head][d], every token so far.
struct History {
  std::vector<float> keys, values;
};

// Causal attention of the `count` newest queries of one sequence (q: [count][q_heads][d], at
// positions total - count .. total - 1) over all `total` tokens of its history: a full
// [count x total] score matrix plus an explicit mask matrix, softmax, weighted sum.
std::vector<double> reference_attention(const float *q, uint32_t count, const History &history, uint32_t q_heads,
                                        uint32_t kv_heads, uint32_t d, const RopeSpec &rope, double scale) {
  const uint32_t total = uint32_t(history.keys.size() / (size_t{kv_heads} * d));
  const uint32_t first = total - count, group = q_heads / kv_heads;
  std::vector<double> keys(history.keys.begin(), history.keys.end());
  for (uint32_t j = 0; j < total; ++j)
    for (uint32_t h = 0; h < kv_heads; ++h) rotate_double(&keys[(size_t{j} * kv_heads + h) * d], rope, j);
  std::vector<std::vector<double>> mask(count, std::vector<double>(total));
  for (uint32_t i = 0; i < count; ++i)
    for (uint32_t j = 0; j < total; ++j)
      mask[i][j] = j <= first + i ? 0.0 : -std::numeric_limits<double>::infinity();
  std::vector<double> out(size_t{count} * q_heads * d, 0.0);
  std::vector<double> query(d), scores(total);
  for (uint32_t i = 0; i < count; ++i) {
    for (uint32_t hq = 0; hq < q_heads; ++hq) {
      const uint32_t hk = hq / group;
      for (uint32_t x = 0; x < d; ++x) query[x] = q[(size_t{i} * q_heads + hq) * d + x];
      rotate_double(query.data(), rope, first + i);
      double top = -std::numeric_limits<double>::infinity();
      for (uint32_t j = 0; j < total; ++j) {
        double dot = 0;
        for (uint32_t x = 0; x < d; ++x) dot += query[x] * keys[(size_t{j} * kv_heads + hk) * d + x];
        scores[j] = dot * scale + mask[i][j];
        top = std::max(top, scores[j]);
      }
      double sum = 0;
      for (uint32_t j = 0; j < total; ++j) sum += (scores[j] = std::exp(scores[j] - top));
      double *o = &out[(size_t{i} * q_heads + hq) * d];
      for (uint32_t j = 0; j < total; ++j)
        for (uint32_t x = 0; x < d; ++x)
          o[x] += scores[j] / sum * double(history.values[(size_t{j} * kv_heads + hk) * d + x]);
    }
  }
  return out;
}

// ---- the library side ------------------------------------------------------------------------

using Buffer = test_support::AlignedBuffer;
using test_support::aligned_buffer;

struct Cache {
  Buffer arena;
  size_t bytes = 0;
  rotor_kv_cache *cache = nullptr;
  History history;
};

std::vector<float> random_floats(size_t n, std::mt19937 &rng, float amplitude) {
  std::uniform_real_distribution<float> dist(-amplitude, amplitude);
  std::vector<float> v(n);
  for (float &x : v) x = dist(rng);
  return v;
}

// A model configuration: one table, an optional pool, caches and the forward call on
// contiguous f32 tensors.
class Attention {
 public:
  Attention(uint32_t q_heads, uint32_t kv_heads, uint32_t d, RopeSpec rope, uint32_t max_len, uint32_t threads,
            rotor_dtype cache_dtype = ROTOR_DTYPE_F32)
      : q_heads_(q_heads), kv_heads_(kv_heads), d_(d), rope_(rope), max_len_(max_len), cache_dtype_(cache_dtype) {
    rotor_config cfg;
    rotor_config_init(&cfg, rope.rotary_dim);
    cfg.pairing = rope.pairing;
    cfg.base = rope.base;
    cfg.max_len = max_len;
    cfg.initial_len = 8;  // the calls grow it
    EXPECT_EQ(rotor_table_create(&table_, &cfg), ROTOR_OK);
    if (threads > 1) EXPECT_EQ(rotor_pool_create(&pool_, threads), ROTOR_OK);
    threads_ = threads;
  }
  ~Attention() {
    rotor_pool_destroy(pool_);
    rotor_table_destroy(table_);
  }

  std::unique_ptr<Cache> make_cache(uint32_t cache_len = 0) const {
    auto c = std::make_unique<Cache>();
    const uint32_t len = cache_len == 0 ? max_len_ : cache_len;
    c->bytes = rotor_kv_cache_arena_size(kv_heads_, d_, len, cache_dtype_);
    EXPECT_GT(c->bytes, 0u);
    c->arena = aligned_buffer(c->bytes);
    EXPECT_EQ(rotor_kv_cache_init(&c->cache, kv_heads_, d_, len, cache_dtype_, c->arena.get(), c->bytes), ROTOR_OK);
    return c;
  }

  // One call for caches.size() entries of s tokens each; q [b][s][q_heads][d], k/v
  // [b][s][kv_heads][d]. Records the raw k and v in each cache's history.
  std::vector<float> forward(const std::vector<Cache *> &caches, const std::vector<float> &q,
                             const std::vector<float> &k, const std::vector<float> &v, uint32_t s,
                             rotor_status expected = ROTOR_OK) {
    const uint32_t batch = uint32_t(caches.size());
    std::vector<float> out(size_t{batch} * s * q_heads_ * d_, 0.0f);
    rotor_tensor tq = rotor_tensor_bshd(const_cast<float *>(q.data()), ROTOR_DTYPE_F32, batch, s, q_heads_, d_);
    rotor_tensor tk = rotor_tensor_bshd(const_cast<float *>(k.data()), ROTOR_DTYPE_F32, batch, s, kv_heads_, d_);
    rotor_tensor tv = rotor_tensor_bshd(const_cast<float *>(v.data()), ROTOR_DTYPE_F32, batch, s, kv_heads_, d_);
    rotor_tensor to = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, batch, s, q_heads_, d_);
    std::vector<rotor_kv_cache *> handles;
    for (Cache *c : caches) handles.push_back(c->cache);
    const size_t ws_bytes = rotor_attention_workspace_size(q_heads_, kv_heads_, d_, s, threads_);
    Buffer ws = aligned_buffer(ws_bytes);
    EXPECT_EQ(rotor_attention_forward(table_, handles.data(), &tq, &tk, &tv, &to, scale(), ws.get(), ws_bytes, pool_),
              expected);
    if (expected == ROTOR_OK) {
      const size_t per_token = size_t{kv_heads_} * d_;
      for (uint32_t b = 0; b < batch; ++b) {
        History &h = caches[b]->history;
        h.keys.insert(h.keys.end(), k.begin() + b * s * per_token, k.begin() + (b + 1) * s * per_token);
        h.values.insert(h.values.end(), v.begin() + b * s * per_token, v.begin() + (b + 1) * s * per_token);
      }
    }
    return out;
  }

  // s decode steps (one token each) of a batch-1 sequence.
  std::vector<float> decode_steps(Cache &cache, const std::vector<float> &q, const std::vector<float> &k,
                                  const std::vector<float> &v, uint32_t s) {
    std::vector<float> out;
    const size_t qt = size_t{q_heads_} * d_, kt = size_t{kv_heads_} * d_;
    for (uint32_t i = 0; i < s; ++i) {
      std::vector<float> qi(q.begin() + i * qt, q.begin() + (i + 1) * qt);
      std::vector<float> ki(k.begin() + i * kt, k.begin() + (i + 1) * kt);
      std::vector<float> vi(v.begin() + i * kt, v.begin() + (i + 1) * kt);
      std::vector<float> o = forward({&cache}, qi, ki, vi, 1);
      out.insert(out.end(), o.begin(), o.end());
    }
    return out;
  }

  // The reference for the newest `count` tokens of cache (its history already includes them).
  std::vector<double> reference(const Cache &cache, const float *q, uint32_t count) const {
    return reference_attention(q, count, cache.history, q_heads_, kv_heads_, d_, rope_, scale());
  }

  double scale() const { return 1.0 / std::sqrt(double(d_)); }
  std::vector<float> random_q(uint32_t batch, uint32_t s, std::mt19937 &rng) const {
    // Amplitude 3: peaked softmaxes whose running maximum moves between key blocks.
    return random_floats(size_t{batch} * s * q_heads_ * d_, rng, 3.0f);
  }
  std::vector<float> random_kv(uint32_t batch, uint32_t s, std::mt19937 &rng) const {
    return random_floats(size_t{batch} * s * kv_heads_ * d_, rng, 1.0f);
  }

  rotor_table *table_ = nullptr;
  rotor_pool *pool_ = nullptr;
  uint32_t threads_ = 1;
  uint32_t q_heads_, kv_heads_, d_;
  RopeSpec rope_;
  uint32_t max_len_;
  rotor_dtype cache_dtype_;
};

// Same length and the same bytes of keys and values (every slot, the unused ones included).
bool same_contents(const Cache &a, const Cache &b) {
  const rotor::KvCache &x = *as_cache(a.cache), &y = *as_cache(b.cache);
  const size_t key_bytes = size_t{x.kv_heads} * rotor::KvCache::key_blocks(x.max_len) * x.key_block_bytes;
  const size_t value_bytes = size_t{x.kv_heads} * x.max_len * x.value_row_bytes;
  return x.length == y.length && x.max_len == y.max_len && x.key_block_bytes == y.key_block_bytes &&
         std::memcmp(x.keys, y.keys, key_bytes) == 0 && std::memcmp(x.values, y.values, value_bytes) == 0;
}

// ---- prefill == decode == reference ---------------------------------------------------------

struct Case {
  uint32_t s, q_heads, kv_heads, d, rotary_dim;
  rotor_pairing pairing;
  uint32_t threads;
};

class PrefillDecode : public ::testing::TestWithParam<Case> {};

// Every kernel set this CPU has (the attention kernels follow the rotation kernels: "scalar"
// and "sse2" run the portable ones, "avx2"/"avx512"/"neon64" their own, "avx512bf16" avx512's).
TEST_P(PrefillDecode, PrefillEqualsDecodeStepsAndReference) {
  const Case c = GetParam();
  for (uint32_t kernel = 0; kernel < rotor_kernel_count(); ++kernel) {
    const char *name = rotor_kernel_available(kernel);
    ASSERT_EQ(rotor_kernel_force(name), ROTOR_OK) << name;
    SCOPED_TRACE(name);
    // RotorArch.cmake builds an arch's attention kernels with its rotation kernels: no fallback.
    const bool own_simd = std::strcmp(name, "avx2") == 0 || std::strcmp(name, "avx512") == 0 ||
                          std::strcmp(name, "avx512bf16") == 0 || std::strcmp(name, "neon64") == 0;
    EXPECT_EQ(rotor::active_kernels().attention == &rotor::portable_attention_kernels(), !own_simd);
    const RopeSpec rope{c.rotary_dim, c.pairing, 10000.0};
    Attention model(c.q_heads, c.kv_heads, c.d, rope, 512, c.threads);
    std::mt19937 rng(c.s * 131 + c.q_heads * 7 + c.d);
    const std::vector<float> q = model.random_q(1, c.s, rng), k = model.random_kv(1, c.s, rng),
                             v = model.random_kv(1, c.s, rng);

    auto prefill_cache = model.make_cache(), decode_cache = model.make_cache();
    const std::vector<float> prefill = model.forward({prefill_cache.get()}, q, k, v, c.s);
    const std::vector<float> decode = model.decode_steps(*decode_cache, q, k, v, c.s);
    EXPECT_EQ(rotor_kv_cache_length(prefill_cache->cache), c.s);
    EXPECT_EQ(rotor_kv_cache_length(decode_cache->cache), c.s);

    // Same key blocks in the same order for every query: the results are identical, not just close.
    const float diff = max_abs_diff(prefill, decode);
    EXPECT_LT(diff, 1e-5f);
    EXPECT_EQ(diff, 0.0f) << "prefill and decode should fold a query's key blocks identically";
    EXPECT_TRUE(same_contents(*prefill_cache, *decode_cache)) << "the caches should hold the same rotated keys and values";

    // Float rows and float arithmetic against double: measured 1.4e-7 .. 2.7e-7 on outputs of
    // magnitude ~1 (d up to 128, 200 keys); 2e-6 leaves room for FMA kernels, not for a wrong key.
    const std::vector<double> want = model.reference(*prefill_cache, q.data(), c.s);
    EXPECT_LT(max_abs_diff(prefill, want), 2e-6);
  }
  EXPECT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PrefillDecode,
    ::testing::Values(Case{1, 4, 4, 64, 64, ROTOR_PAIRING_HALF, 1},       // one token
                      Case{7, 4, 4, 64, 64, ROTOR_PAIRING_HALF, 1},       // multi-head, no grouping
                      Case{64, 8, 2, 64, 64, ROTOR_PAIRING_HALF, 2},      // GQA 4, one full key block
                      Case{130, 6, 1, 40, 32, ROTOR_PAIRING_INTERLEAVED, 2},  // MQA 6, dim tail, partial rotary
                      Case{97, 12, 4, 128, 128, ROTOR_PAIRING_HALF, 3},   // GQA 3: row groups straddle tokens
                      Case{200, 2, 2, 24, 16, ROTOR_PAIRING_HALF, 2}),    // many tokens per task, 3+ blocks
    [](const ::testing::TestParamInfo<Case> &info) {
      const Case &c = info.param;
      return "s" + std::to_string(c.s) + "_q" + std::to_string(c.q_heads) + "_kv" + std::to_string(c.kv_heads) +
             "_d" + std::to_string(c.d) + "_t" + std::to_string(c.threads);
    });

TEST(Attention, ChunkedPrefillEqualsOnePrefill) {
  const RopeSpec rope{64, ROTOR_PAIRING_HALF, 10000.0};
  Attention model(8, 2, 64, rope, 256, 2);
  std::mt19937 rng(5);
  const uint32_t total = 150;
  const std::vector<float> q = model.random_q(1, total, rng), k = model.random_kv(1, total, rng),
                           v = model.random_kv(1, total, rng);
  auto whole = model.make_cache(), chunked = model.make_cache();
  const std::vector<float> one = model.forward({whole.get()}, q, k, v, total);

  std::vector<float> pieces;
  const uint32_t chunks[] = {37, 1, 64, 48};  // not aligned to key or query blocks
  const size_t qt = size_t{8} * 64, kt = size_t{2} * 64;
  uint32_t done = 0;
  for (uint32_t n : chunks) {
    std::vector<float> qc(q.begin() + done * qt, q.begin() + (done + n) * qt);
    std::vector<float> kc(k.begin() + done * kt, k.begin() + (done + n) * kt);
    std::vector<float> vc(v.begin() + done * kt, v.begin() + (done + n) * kt);
    const std::vector<float> o = model.forward({chunked.get()}, qc, kc, vc, n);
    pieces.insert(pieces.end(), o.begin(), o.end());
    done += n;
  }
  ASSERT_EQ(done, total);
  EXPECT_EQ(max_abs_diff(one, pieces), 0.0f);
  EXPECT_TRUE(same_contents(*whole, *chunked));
  EXPECT_LT(max_abs_diff(pieces, model.reference(*chunked, q.data(), total)), 2e-6);
}

TEST(Attention, BatchEntriesWithDifferentLengths) {
  const RopeSpec rope{32, ROTOR_PAIRING_HALF, 500000.0};
  Attention model(4, 2, 32, rope, 256, 2);
  std::mt19937 rng(11);
  const uint32_t lengths[] = {0, 5, 70};
  std::vector<std::unique_ptr<Cache>> caches, alone;
  for (uint32_t len : lengths) {
    caches.push_back(model.make_cache());
    alone.push_back(model.make_cache());
    if (len == 0) continue;
    const std::vector<float> q = model.random_q(1, len, rng), k = model.random_kv(1, len, rng),
                             v = model.random_kv(1, len, rng);
    model.forward({caches.back().get()}, q, k, v, len);
    model.forward({alone.back().get()}, q, k, v, len);
  }
  const uint32_t s = 9;
  const std::vector<float> q = model.random_q(3, s, rng), k = model.random_kv(3, s, rng), v = model.random_kv(3, s, rng);
  const std::vector<float> out = model.forward({caches[0].get(), caches[1].get(), caches[2].get()}, q, k, v, s);
  const size_t qt = size_t{s} * 4 * 32, kt = size_t{s} * 2 * 32;
  for (uint32_t b = 0; b < 3; ++b) {
    EXPECT_EQ(rotor_kv_cache_length(caches[b]->cache), lengths[b] + s);
    std::vector<float> got(out.begin() + b * qt, out.begin() + (b + 1) * qt);
    std::vector<float> qb(q.begin() + b * qt, q.begin() + (b + 1) * qt);
    std::vector<float> kb(k.begin() + b * kt, k.begin() + (b + 1) * kt), vb(v.begin() + b * kt, v.begin() + (b + 1) * kt);
    // The same entry on its own, and the reference.
    EXPECT_EQ(max_abs_diff(got, model.forward({alone[b].get()}, qb, kb, vb, s)), 0.0f) << "entry " << b;
    EXPECT_LT(max_abs_diff(got, model.reference(*caches[b], qb.data(), s)), 2e-6) << "entry " << b;
  }
}

// The SIMD kernels read f16/bf16 blocks in vectors and a head_dim's tail past the last whole
// vector element by element: 64 has no tail, 40 has one on every vector width.
TEST(Attention, HalfPrecisionCachesMatchReference) {
  for (uint32_t d : {64u, 40u})
  for (rotor_dtype dtype : {ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    SCOPED_TRACE(d);
    const RopeSpec rope{32, ROTOR_PAIRING_HALF, 10000.0};
    Attention model(8, 4, d, rope, 256, 2, dtype);
    std::mt19937 rng(17);
    const uint32_t s = 80;
    const std::vector<float> q = model.random_q(1, s, rng), k = model.random_kv(1, s, rng), v = model.random_kv(1, s, rng);
    auto prefill_cache = model.make_cache(), decode_cache = model.make_cache();
    const std::vector<float> prefill = model.forward({prefill_cache.get()}, q, k, v, s);
    EXPECT_EQ(max_abs_diff(prefill, model.decode_steps(*decode_cache, q, k, v, s)), 0.0f);
    // Keys and values rounded once to 8 (bf16) or 11 (f16) significant bits: the scores move by
    // up to ~|q| |k| 2^-8 and the outputs by a few times the values' rounding.
    const double tolerance = dtype == ROTOR_DTYPE_F16 ? 5e-3 : 5e-2;
    EXPECT_LT(max_abs_diff(prefill, model.reference(*prefill_cache, q.data(), s)), tolerance) << dtype;
  }
}

// f16 tensors through an f16 cache, and f32 tensors in strided views (Q/K/V inside one fused
// buffer, out in [b, h, s, d]) against the contiguous call.
TEST(Attention, TensorDtypesAndStridedViews) {
  const uint32_t qh = 4, kvh = 2, d = 32, s = 20;
  const RopeSpec rope{32, ROTOR_PAIRING_HALF, 10000.0};
  Attention model(qh, kvh, d, rope, 128, 1);
  std::mt19937 rng(23);
  const std::vector<float> q = model.random_q(1, s, rng), k = model.random_kv(1, s, rng), v = model.random_kv(1, s, rng);
  auto plain = model.make_cache();
  const std::vector<float> want = model.forward({plain.get()}, q, k, v, s);

  // Fused [s, (qh + 2 kvh) * d] buffer.
  const uint32_t width = (qh + 2 * kvh) * d;
  std::vector<float> fused(size_t{s} * width), out(size_t{s} * qh * d);
  for (uint32_t t = 0; t < s; ++t) {
    std::copy_n(&q[size_t{t} * qh * d], qh * d, &fused[size_t{t} * width]);
    std::copy_n(&k[size_t{t} * kvh * d], kvh * d, &fused[size_t{t} * width + qh * d]);
    std::copy_n(&v[size_t{t} * kvh * d], kvh * d, &fused[size_t{t} * width + (qh + kvh) * d]);
  }
  rotor_tensor tq = rotor_tensor_bshd(fused.data(), ROTOR_DTYPE_F32, 1, s, qh, d);
  rotor_tensor tk = rotor_tensor_bshd(fused.data() + qh * d, ROTOR_DTYPE_F32, 1, s, kvh, d);
  rotor_tensor tv = rotor_tensor_bshd(fused.data() + (qh + kvh) * d, ROTOR_DTYPE_F32, 1, s, kvh, d);
  tq.stride_seq = tk.stride_seq = tv.stride_seq = width;
  tq.stride_batch = tk.stride_batch = tv.stride_batch = int64_t{s} * width;
  rotor_tensor to = rotor_tensor_bhsd(out.data(), ROTOR_DTYPE_F32, 1, s, qh, d);
  auto strided = model.make_cache();
  const size_t ws_bytes = rotor_attention_workspace_size(qh, kvh, d, s, 1);
  Buffer ws = aligned_buffer(ws_bytes);
  ASSERT_EQ(rotor_attention_forward(model.table_, &strided->cache, &tq, &tk, &tv, &to, float(model.scale()), ws.get(),
                                    ws_bytes, nullptr),
            ROTOR_OK);
  for (uint32_t t = 0; t < s; ++t)
    for (uint32_t h = 0; h < qh; ++h)
      for (uint32_t x = 0; x < d; ++x)
        ASSERT_EQ(out[(size_t{h} * s + t) * d + x], want[(size_t{t} * qh + h) * d + x]) << t << " " << h << " " << x;

  // f16 end to end: inputs rounded to f16 first, so the reference sees exactly what rotor sees.
  Attention half_model(qh, kvh, d, rope, 128, 1, ROTOR_DTYPE_F16);
  auto half_cache = half_model.make_cache();
  // Inputs rounded to f16 with the library's conversion (tested on its own in test_half.cpp):
  // the reference then starts from exactly the values rotor reads.
  auto to_half = [](const std::vector<float> &x, std::vector<uint16_t> *h, std::vector<float> *rounded) {
    h->resize(x.size());
    rounded->resize(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      (*h)[i] = rotor::float_to_f16(x[i]);
      (*rounded)[i] = rotor::f16_to_float((*h)[i]);
    }
  };
  std::vector<uint16_t> hq, hk, hv, hout(size_t{s} * qh * d);
  std::vector<float> rq, rk, rv;
  to_half(q, &hq, &rq);
  to_half(k, &hk, &rk);
  to_half(v, &hv, &rv);
  rotor_tensor fq = rotor_tensor_bshd(hq.data(), ROTOR_DTYPE_F16, 1, s, qh, d);
  rotor_tensor fk = rotor_tensor_bshd(hk.data(), ROTOR_DTYPE_F16, 1, s, kvh, d);
  rotor_tensor fv = rotor_tensor_bshd(hv.data(), ROTOR_DTYPE_F16, 1, s, kvh, d);
  rotor_tensor fo = rotor_tensor_bshd(hout.data(), ROTOR_DTYPE_F16, 1, s, qh, d);
  ASSERT_EQ(rotor_attention_forward(half_model.table_, &half_cache->cache, &fq, &fk, &fv, &fo,
                                    float(half_model.scale()), ws.get(), ws_bytes, nullptr),
            ROTOR_OK);
  half_cache->history.keys = rk;
  half_cache->history.values = rv;
  const std::vector<double> ref = half_model.reference(*half_cache, rq.data(), s);
  double worst = 0;
  for (size_t i = 0; i < hout.size(); ++i) worst = std::max(worst, std::fabs(double(rotor::f16_to_float(hout[i])) - ref[i]));
  // Rotated q and k are rounded to f16 (2^-11 relative) before the scores: a few 1e-3.
  EXPECT_LT(worst, 1e-2);
}

// ---- the cache on its own --------------------------------------------------------------------

TEST(KvCache, SizesInitLengthReset) {
  EXPECT_EQ(rotor_kv_cache_arena_size(0, 64, 16, ROTOR_DTYPE_F32), 0u);
  EXPECT_EQ(rotor_kv_cache_arena_size(2, 0, 16, ROTOR_DTYPE_F32), 0u);
  EXPECT_EQ(rotor_kv_cache_arena_size(2, 64, 0, ROTOR_DTYPE_F32), 0u);
  EXPECT_EQ(rotor_kv_cache_arena_size(2, 64, 16, rotor_dtype(7)), 0u);
  EXPECT_EQ(rotor_kv_cache_arena_size(2, 64, 0x80000000u, ROTOR_DTYPE_F32), 0u);
  const size_t f32 = rotor_kv_cache_arena_size(2, 64, 16, ROTOR_DTYPE_F32);
  const size_t f16 = rotor_kv_cache_arena_size(2, 64, 16, ROTOR_DTYPE_F16);
  EXPECT_GE(f32, 2u * 2 * 64 * 16 * 4);  // keys and values
  EXPECT_GE(f16, 2u * 2 * 64 * 16 * 2);
  EXPECT_LT(f16, f32);

  Buffer arena = aligned_buffer(f32 + 64);
  rotor_kv_cache *cache = reinterpret_cast<rotor_kv_cache *>(0x1);
  rotor_kv_cache *const untouched = cache;
  EXPECT_EQ(rotor_kv_cache_init(&cache, 2, 64, 16, ROTOR_DTYPE_F32, arena.get() + 8, f32), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_init(&cache, 2, 64, 16, ROTOR_DTYPE_F32, arena.get(), f32 - 1), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(rotor_kv_cache_init(&cache, 0, 64, 16, ROTOR_DTYPE_F32, arena.get(), f32), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_init(&cache, 2, 64, 16, ROTOR_DTYPE_F32, nullptr, f32), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_init(nullptr, 2, 64, 16, ROTOR_DTYPE_F32, arena.get(), f32), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(cache, untouched);
  ASSERT_EQ(rotor_kv_cache_init(&cache, 2, 64, 16, ROTOR_DTYPE_F32, arena.get(), f32), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_length(cache), 0u);
  EXPECT_EQ(rotor_kv_cache_length(nullptr), 0u);
  EXPECT_EQ(rotor_kv_cache_reset(nullptr), ROTOR_ERR_INVALID_ARGUMENT);
}

TEST(KvCache, ResetStartsANewSequence) {
  const RopeSpec rope{32, ROTOR_PAIRING_HALF, 10000.0};
  Attention model(2, 1, 32, rope, 64, 1);
  std::mt19937 rng(3);
  auto reused = model.make_cache(), fresh = model.make_cache();
  const std::vector<float> q0 = model.random_q(1, 10, rng), k0 = model.random_kv(1, 10, rng), v0 = model.random_kv(1, 10, rng);
  model.forward({reused.get()}, q0, k0, v0, 10);
  EXPECT_EQ(rotor_kv_cache_length(reused->cache), 10u);
  ASSERT_EQ(rotor_kv_cache_reset(reused->cache), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_length(reused->cache), 0u);
  const std::vector<float> q = model.random_q(1, 6, rng), k = model.random_kv(1, 6, rng), v = model.random_kv(1, 6, rng);
  EXPECT_EQ(max_abs_diff(model.forward({reused.get()}, q, k, v, 6), model.forward({fresh.get()}, q, k, v, 6)), 0.0f);
}

// Key blocks hold 64 tokens; a call clears each block it starts, and the kernels compute scores
// for a block's columns past the cache length without reading them. So a cache whose storage
// was full of NaN (0xFF bytes: NaN in f32, f16 and bf16) before its first call gives the same
// bits as one that was zero, and the started blocks' bytes end up the same too.
TEST(KvCache, StoragePastTheLengthNeverReachesResults) {
  const RopeSpec rope{64, ROTOR_PAIRING_HALF, 10000.0};
  for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    SCOPED_TRACE(int(dtype));
    Attention model(8, 2, 64, rope, 256, 1, dtype);
    std::mt19937 rng(11);
    const uint32_t prefill = 70, steps = 3;  // ends inside the second block
    const std::vector<float> q = model.random_q(1, prefill + steps, rng), k = model.random_kv(1, prefill + steps, rng),
                             v = model.random_kv(1, prefill + steps, rng);
    auto clean = model.make_cache(), poisoned = model.make_cache();
    const rotor::KvCache &pc = *as_cache(poisoned->cache), &cc = *as_cache(clean->cache);
    unsigned char *storage = static_cast<unsigned char *>(pc.keys);
    std::memset(storage, 0xFF, size_t(poisoned->arena.get() + poisoned->bytes - storage));
    std::vector<float> outputs[2];
    for (int i = 0; i < 2; ++i) {
      Cache &c = i == 0 ? *clean : *poisoned;
      const size_t qt = size_t{8} * 64, kt = size_t{2} * 64;
      outputs[i] = model.forward({&c}, std::vector<float>(q.begin(), q.begin() + prefill * qt),
                                 std::vector<float>(k.begin(), k.begin() + prefill * kt),
                                 std::vector<float>(v.begin(), v.begin() + prefill * kt), prefill);
      const std::vector<float> decoded =
          model.decode_steps(c, std::vector<float>(q.begin() + prefill * qt, q.end()),
                             std::vector<float>(k.begin() + prefill * kt, k.end()),
                             std::vector<float>(v.begin() + prefill * kt, v.end()), steps);
      outputs[i].insert(outputs[i].end(), decoded.begin(), decoded.end());
    }
    ASSERT_EQ(outputs[0].size(), outputs[1].size());
    EXPECT_EQ(std::memcmp(outputs[0].data(), outputs[1].data(), outputs[0].size() * sizeof(float)), 0);
    for (float x : outputs[1]) ASSERT_TRUE(std::isfinite(x));
    for (uint32_t h = 0; h < 2; ++h)
      EXPECT_EQ(std::memcmp(pc.key_block_at(h, 0), cc.key_block_at(h, 0), size_t{2} * pc.key_block_bytes),
                0)
          << "head " << h << ": the two started blocks, columns past the length included";
  }
}

// ---- errors: the status, and nothing the caller owns changed ---------------------------------

class AttentionErrors : public ::testing::Test {
 protected:
  static constexpr uint32_t kQ = 4, kKv = 2, kD = 32, kS = 5, kCacheLen = 16;
  AttentionErrors()
      : model_(kQ, kKv, kD, RopeSpec{32, ROTOR_PAIRING_HALF, 10000.0}, 64, 2),
        rng_(99),
        q_(model_.random_q(1, kS, rng_)),
        k_(model_.random_kv(1, kS, rng_)),
        v_(model_.random_kv(1, kS, rng_)),
        out_(size_t{kS} * kQ * kD, 7.0f) {
    cache_ = model_.make_cache(kCacheLen);
    // Three tokens already in the cache.
    model_.forward({cache_.get()}, model_.random_q(1, 3, rng_), model_.random_kv(1, 3, rng_), model_.random_kv(1, 3, rng_), 3);
    tq_ = rotor_tensor_bshd(q_.data(), ROTOR_DTYPE_F32, 1, kS, kQ, kD);
    tk_ = rotor_tensor_bshd(k_.data(), ROTOR_DTYPE_F32, 1, kS, kKv, kD);
    tv_ = rotor_tensor_bshd(v_.data(), ROTOR_DTYPE_F32, 1, kS, kKv, kD);
    to_ = rotor_tensor_bshd(out_.data(), ROTOR_DTYPE_F32, 1, kS, kQ, kD);
    ws_bytes_ = rotor_attention_workspace_size(kQ, kKv, kD, kS, 2);
    ws_ = aligned_buffer(ws_bytes_ + 64);
    snapshot();
  }

  void snapshot() {
    cache_before_.assign(cache_->arena.get(), cache_->arena.get() + cache_->bytes);
    ws_before_.assign(ws_.get(), ws_.get() + ws_bytes_ + 64);
    out_before_ = out_;
  }
  // The call's status, after checking that the cache, the output and the workspace are as they were.
  rotor_status call(const rotor_tensor *q, const rotor_tensor *k, const rotor_tensor *v, const rotor_tensor *out,
                    size_t ws_bytes, void *ws = nullptr, rotor_kv_cache *const *caches = nullptr, float scale = 0.125f) {
    rotor_status s = rotor_attention_forward(model_.table_, caches ? caches : &cache_->cache, q, k, v, out, scale,
                                             ws ? ws : ws_.get(), ws_bytes, model_.pool_);
    if (s != ROTOR_OK) {
      EXPECT_EQ(std::memcmp(cache_before_.data(), cache_->arena.get(), cache_->bytes), 0) << "cache changed";
      EXPECT_EQ(std::memcmp(ws_before_.data(), ws_.get(), ws_before_.size()), 0) << "workspace changed";
      EXPECT_EQ(out_, out_before_) << "output changed";
    }
    return s;
  }

  Attention model_;
  std::mt19937 rng_;
  std::vector<float> q_, k_, v_, out_;
  std::unique_ptr<Cache> cache_;
  rotor_tensor tq_{}, tk_{}, tv_{}, to_{};
  size_t ws_bytes_ = 0;
  Buffer ws_;
  std::vector<unsigned char> cache_before_, ws_before_;
  std::vector<float> out_before_;
};

TEST_F(AttentionErrors, ShapesThatDisagree) {
  rotor_tensor bad = tk_;
  bad.seq = kS - 1;  // k shorter than q
  EXPECT_EQ(call(&tq_, &bad, &tv_, &to_, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  bad = tv_;
  bad.heads = 1;  // v heads != k heads
  EXPECT_EQ(call(&tq_, &tk_, &bad, &to_, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  bad = to_;
  bad.heads = 2;  // out heads != q heads
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &bad, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  bad = tq_;
  bad.head_dim = 16;  // q dims != k dims
  bad.stride_head = 16;
  EXPECT_EQ(call(&bad, &tk_, &tv_, &to_, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  bad = tq_;
  bad.dtype = ROTOR_DTYPE_BF16;  // dtypes disagree
  EXPECT_EQ(call(&bad, &tk_, &tv_, &to_, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  bad = tq_;
  bad.batch = 2;  // q with two entries, k with one
  bad.stride_batch = 0;
  EXPECT_EQ(call(&bad, &tk_, &tv_, &to_, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_tensor aliased = to_;
  aliased.data = q_.data();  // out over q
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &aliased, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(nullptr, &tk_, &tv_, &to_, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_, nullptr, nullptr, std::nanf("")), ROTOR_ERR_INVALID_ARGUMENT);
  // A cache whose head_dim does not match.
  Buffer other_arena = aligned_buffer(rotor_kv_cache_arena_size(kKv, 16, 8, ROTOR_DTYPE_F32));
  rotor_kv_cache *other = nullptr;
  ASSERT_EQ(rotor_kv_cache_init(&other, kKv, 16, 8, ROTOR_DTYPE_F32, other_arena.get(),
                                rotor_kv_cache_arena_size(kKv, 16, 8, ROTOR_DTYPE_F32)),
            ROTOR_OK);
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_, nullptr, &other), ROTOR_ERR_INVALID_ARGUMENT);
}

TEST_F(AttentionErrors, QueryHeadsNotAMultipleOfKvHeads) {
  std::vector<float> q3(size_t{kS} * 3 * kD), o3(size_t{kS} * 3 * kD);
  rotor_tensor q = rotor_tensor_bshd(q3.data(), ROTOR_DTYPE_F32, 1, kS, 3, kD);
  rotor_tensor o = rotor_tensor_bshd(o3.data(), ROTOR_DTYPE_F32, 1, kS, 3, kD);
  EXPECT_EQ(call(&q, &tk_, &tv_, &o, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_attention_workspace_size(3, 2, kD, kS, 1), 0u);
}

TEST_F(AttentionErrors, WorkspaceTooSmallOrMisaligned) {
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_ - 1), ROTOR_ERR_OUT_OF_MEMORY);
  // Sized for one thread while the pool has two.
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, rotor_attention_workspace_size(kQ, kKv, kD, kS, 1)), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_, ws_.get() + 16), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_attention_workspace_size(0, kKv, kD, kS, 1), 0u);
  EXPECT_EQ(rotor_attention_workspace_size(kQ, kKv, kD, kS, 0), 0u);
  // More tokens or threads never need less.
  EXPECT_LE(rotor_attention_workspace_size(kQ, kKv, kD, 1, 1), rotor_attention_workspace_size(kQ, kKv, kD, 1000, 1));
  EXPECT_EQ(rotor_attention_workspace_size(kQ, kKv, kD, 100, 4), 4 * rotor_attention_workspace_size(kQ, kKv, kD, 100, 1));
}

TEST_F(AttentionErrors, CacheFullChangesNothing) {
  // 3 tokens held, room for 13 more: 5 fit twice, the third call does not.
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_), ROTOR_OK);
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_length(cache_->cache), 13u);
  snapshot();
  EXPECT_EQ(call(&tq_, &tk_, &tv_, &to_, ws_bytes_), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_kv_cache_length(cache_->cache), 13u);
}

TEST_F(AttentionErrors, DuplicateCachesAndTableLimit) {
  std::vector<float> q2(q_.size() * 2), k2(k_.size() * 2), v2(v_.size() * 2), o2(out_.size() * 2);
  rotor_tensor q = rotor_tensor_bshd(q2.data(), ROTOR_DTYPE_F32, 2, kS, kQ, kD);
  rotor_tensor k = rotor_tensor_bshd(k2.data(), ROTOR_DTYPE_F32, 2, kS, kKv, kD);
  rotor_tensor v = rotor_tensor_bshd(v2.data(), ROTOR_DTYPE_F32, 2, kS, kKv, kD);
  rotor_tensor o = rotor_tensor_bshd(o2.data(), ROTOR_DTYPE_F32, 2, kS, kQ, kD);
  rotor_kv_cache *twice[2] = {cache_->cache, cache_->cache};
  EXPECT_EQ(call(&q, &k, &v, &o, 2 * ws_bytes_, nullptr, twice), ROTOR_ERR_INVALID_ARGUMENT);

  // A cache longer than the table: the table's max_len (64) is the limit.
  Attention small(kQ, kKv, kD, RopeSpec{32, ROTOR_PAIRING_HALF, 10000.0}, 4, 1);
  EXPECT_EQ(rotor_attention_forward(small.table_, &cache_->cache, &tq_, &tk_, &tv_, &to_, 0.1f, ws_.get(), ws_bytes_,
                                    nullptr),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(std::memcmp(cache_before_.data(), cache_->arena.get(), cache_->bytes), 0);
  EXPECT_EQ(out_, out_before_);
}

// The call writes every cache's arena (appends, re-rotations, the header) while it reads q, k, v
// and writes out and the workspace: a tensor or a workspace inside an arena is refused before
// anything is written, and the arena (length included) is as it was.
class CacheArenaOverlap : public AttentionErrors {
 protected:
  // The status of a call on `cache`, checking that its arena and length did not change on error.
  rotor_status call_on(Cache &cache, const rotor_tensor *q, const rotor_tensor *k, const rotor_tensor *v,
                       const rotor_tensor *out, void *ws, size_t ws_bytes) {
    const std::vector<unsigned char> before(cache.arena.get(), cache.arena.get() + cache.bytes);
    const uint32_t length = rotor_kv_cache_length(cache.cache);
    const rotor_status s = rotor_attention_forward(model_.table_, &cache.cache, q, k, v, out, 0.125f, ws, ws_bytes,
                                                   model_.pool_);
    if (s != ROTOR_OK) {
      EXPECT_EQ(rotor_kv_cache_length(cache.cache), length) << "cache length changed";
      EXPECT_EQ(std::memcmp(before.data(), cache.arena.get(), cache.bytes), 0) << "cache arena changed";
    }
    return s;
  }
  // A cache of `len` slots holding 3 tokens, like the fixture's, in a buffer with `extra` bytes
  // of the test's own right after the arena.
  std::unique_ptr<Cache> cache_with_three_tokens(uint32_t len, size_t extra = 0) {
    auto c = std::make_unique<Cache>();
    c->bytes = rotor_kv_cache_arena_size(kKv, kD, len, ROTOR_DTYPE_F32);
    c->arena = aligned_buffer(c->bytes + extra);
    EXPECT_EQ(rotor_kv_cache_init(&c->cache, kKv, kD, len, ROTOR_DTYPE_F32, c->arena.get(), c->bytes), ROTOR_OK);
    model_.forward({c.get()}, model_.random_q(1, 3, rng_), model_.random_kv(1, 3, rng_), model_.random_kv(1, 3, rng_), 3);
    return c;
  }
};

TEST_F(CacheArenaOverlap, OutputInsideACacheArenaIsRefused) {
  const size_t out_bytes = size_t{kS} * kQ * kD * 4;
  auto cache = cache_with_three_tokens(kCacheLen, out_bytes);
  const rotor::KvCache &c = *as_cache(cache->cache);
  // out over the values of slots 8 .. of head 0 (this call would append at 3 .. 7).
  rotor_tensor out = rotor_tensor_bshd(c.value_at(0, 8), ROTOR_DTYPE_F32, 1, kS, kQ, kD);
  ASSERT_LE(c.value_at(0, 8) + out_bytes, cache->arena.get() + cache->bytes);
  EXPECT_EQ(call_on(*cache, &tq_, &tk_, &tv_, &out, ws_.get(), ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  // Over its last bytes only.
  out.data = cache->arena.get() + cache->bytes - 4;
  EXPECT_EQ(call_on(*cache, &tq_, &tk_, &tv_, &out, ws_.get(), ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  // Right after the arena: no byte shared.
  out.data = cache->arena.get() + cache->bytes;
  EXPECT_EQ(call_on(*cache, &tq_, &tk_, &tv_, &out, ws_.get(), ws_bytes_), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_length(cache->cache), 3u + kS);
  // Over the cache's header (last: a library that wrote there would leave no cache to use).
  out.data = cache->arena.get();
  EXPECT_EQ(call_on(*cache, &tq_, &tk_, &tv_, &out, ws_.get(), ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
}

TEST_F(CacheArenaOverlap, WorkspaceInsideACacheArenaIsRefused) {
  // A cache roomy enough to hold the workspace in its values, 64-byte aligned there as a
  // workspace must be (so only the overlap can be wrong), and room for one after the arena.
  auto roomy = cache_with_three_tokens(4096, ws_bytes_);
  const rotor::KvCache &c = *as_cache(roomy->cache);
  unsigned char *inside = c.value_at(1, 0);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(inside) % ROTOR_ARENA_ALIGNMENT, 0u);
  ASSERT_LE(inside + ws_bytes_, roomy->arena.get() + roomy->bytes);
  EXPECT_EQ(call_on(*roomy, &tq_, &tk_, &tv_, &to_, inside, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(rotor_last_error_message(), "the workspace overlaps a KV cache's arena");
  EXPECT_EQ(out_, out_before_) << "output changed";
  // One that starts on the arena's last 64 bytes and runs past its end.
  unsigned char *end = roomy->arena.get() + roomy->bytes;
  EXPECT_EQ(call_on(*roomy, &tq_, &tk_, &tv_, &to_, end - 64, ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(out_, out_before_) << "output changed";
  // Right after the arena: no byte shared.
  EXPECT_EQ(call_on(*roomy, &tq_, &tk_, &tv_, &to_, end, ws_bytes_), ROTOR_OK);
  EXPECT_EQ(rotor_kv_cache_length(roomy->cache), 3u + kS);
}

// Inputs are read after the call has started writing the caches (appended keys and values,
// re-rotated keys): one inside an arena would be read half overwritten.
TEST_F(CacheArenaOverlap, InputsInsideACacheArenaAreRefused) {
  auto roomy = cache_with_three_tokens(64);
  const rotor::KvCache &c = *as_cache(roomy->cache);
  // Slots 32 .. of head 0 hold nothing yet (the call appends at 3 .. 7): a copy of each input there.
  for (const rotor_tensor *input : {&tq_, &tk_, &tv_}) {
    SCOPED_TRACE(input == &tq_ ? "q" : input == &tk_ ? "k" : "v");
    const size_t bytes = size_t{input->seq} * input->heads * input->head_dim * 4;
    ASSERT_LE(c.value_at(0, 32) + bytes, roomy->arena.get() + roomy->bytes);
    std::memcpy(c.value_at(0, 32), input->data, bytes);
    rotor_tensor moved = *input;
    moved.data = c.value_at(0, 32);
    const rotor_tensor *q = input == &tq_ ? &moved : &tq_, *k = input == &tk_ ? &moved : &tk_,
                       *v = input == &tv_ ? &moved : &tv_;
    EXPECT_EQ(call_on(*roomy, q, k, v, &to_, ws_.get(), ws_bytes_), ROTOR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(out_, out_before_) << "output changed";
  }
}

// Distinct cache objects whose arenas share bytes (one built inside the other's storage) are
// the same memory written twice: refused like a cache listed twice.
TEST_F(CacheArenaOverlap, CachesWhoseArenasOverlapAreRefused) {
  auto roomy = cache_with_three_tokens(1024);
  const rotor::KvCache &c = *as_cache(roomy->cache);
  const size_t inner_bytes = rotor_kv_cache_arena_size(kKv, kD, kCacheLen, ROTOR_DTYPE_F32);
  unsigned char *inside = c.value_at(1, 512);  // slots no call has reached
  ASSERT_LE(inside + inner_bytes, roomy->arena.get() + roomy->bytes);
  rotor_kv_cache *inner = nullptr;
  ASSERT_EQ(rotor_kv_cache_init(&inner, kKv, kD, kCacheLen, ROTOR_DTYPE_F32, inside, inner_bytes), ROTOR_OK);
  std::vector<float> q2(q_.size() * 2), k2(k_.size() * 2), v2(v_.size() * 2), o2(out_.size() * 2);
  rotor_tensor q = rotor_tensor_bshd(q2.data(), ROTOR_DTYPE_F32, 2, kS, kQ, kD);
  rotor_tensor k = rotor_tensor_bshd(k2.data(), ROTOR_DTYPE_F32, 2, kS, kKv, kD);
  rotor_tensor v = rotor_tensor_bshd(v2.data(), ROTOR_DTYPE_F32, 2, kS, kKv, kD);
  rotor_tensor o = rotor_tensor_bshd(o2.data(), ROTOR_DTYPE_F32, 2, kS, kQ, kD);
  const std::vector<unsigned char> before(roomy->arena.get(), roomy->arena.get() + roomy->bytes);
  rotor_kv_cache *both[2] = {roomy->cache, inner};
  Buffer ws = aligned_buffer(2 * ws_bytes_);
  EXPECT_EQ(rotor_attention_forward(model_.table_, both, &q, &k, &v, &o, 0.125f, ws.get(), 2 * ws_bytes_, model_.pool_),
            ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(std::memcmp(before.data(), roomy->arena.get(), roomy->bytes), 0) << "cache arena changed";
  EXPECT_EQ(rotor_kv_cache_length(roomy->cache), 3u);
}

// The fuzz finding (tests/fuzz/corpus/attention.b64, the seed after "# f16 key shifted past the
// f16 range"): f16 tensors and cache, a key near the f16 limit that a context shift rotates past
// 65504, so the cache stores +inf and the key's scores are +inf. The softmax's limit gives that
// key all the weight; exp(s - max) = exp(inf - inf) gave NaN weights, and NaN outputs. Every
// kernel set, each folding the row its own way.
TEST(Attention, InfiniteScoreFromAnOverflowedKeyTakesAllTheWeight) {
  constexpr uint32_t d = 8, r = 4;  // pairs (0, 2) and (1, 3); dims 4 .. 7 not rotated
  for (uint32_t kernel = 0; kernel < rotor_kernel_count(); ++kernel) {
    const char *name = rotor_kernel_available(kernel);
    ASSERT_EQ(rotor_kernel_force(name), ROTOR_OK) << name;
    SCOPED_TRACE(name);
    rotor_config cfg;
    rotor_config_init(&cfg, r);
    cfg.max_len = 64;
    rotor_table *table = nullptr;
    ASSERT_EQ(rotor_table_create(&table, &cfg), ROTOR_OK);
    const size_t bytes = rotor_kv_cache_arena_size(1, d, 64, ROTOR_DTYPE_F16);
    Buffer arena = aligned_buffer(bytes);
    rotor_kv_cache *cache = nullptr;
    ASSERT_EQ(rotor_kv_cache_init(&cache, 1, d, 64, ROTOR_DTYPE_F16, arena.get(), bytes), ROTOR_OK);
    const size_t ws_bytes = rotor_attention_workspace_size(1, 1, d, 3, 1);
    Buffer ws = aligned_buffer(ws_bytes);
    auto call = [&](const std::vector<float> &q, const std::vector<float> &k, const std::vector<float> &v,
                    uint32_t s) {
      std::vector<uint16_t> hq(q.size()), hk(k.size()), hv(v.size()), hout(q.size());
      for (size_t i = 0; i < q.size(); ++i) hq[i] = rotor::float_to_f16(q[i]);
      for (size_t i = 0; i < k.size(); ++i) hk[i] = rotor::float_to_f16(k[i]), hv[i] = rotor::float_to_f16(v[i]);
      rotor_tensor tq = rotor_tensor_bshd(hq.data(), ROTOR_DTYPE_F16, 1, s, 1, d);
      rotor_tensor tk = rotor_tensor_bshd(hk.data(), ROTOR_DTYPE_F16, 1, s, 1, d);
      rotor_tensor tv = rotor_tensor_bshd(hv.data(), ROTOR_DTYPE_F16, 1, s, 1, d);
      rotor_tensor to = rotor_tensor_bshd(hout.data(), ROTOR_DTYPE_F16, 1, s, 1, d);
      EXPECT_EQ(rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 0.3162f, ws.get(), ws_bytes, nullptr),
                ROTOR_OK);
      std::vector<float> out(hout.size());
      for (size_t i = 0; i < out.size(); ++i) out[i] = rotor::f16_to_float(hout[i]);
      return out;
    };
    // Three tokens; token 2's key (48000, -48000) on pair 0 (exact in f16) is rotated at position
    // 2 to (23674, 63619): finite. Values 1, 2, 3 per token.
    std::vector<float> k(3 * d, 0.25f), v(3 * d), q(3 * d, 0.5f);
    k[2 * d + 0] = 48000.0f;
    k[2 * d + 2] = -48000.0f;
    for (uint32_t t = 0; t < 3; ++t)
      for (uint32_t x = 0; x < d; ++x) v[t * d + x] = float(t + 1);
    call(q, k, v, 3);
    const rotor::KvCache &c = *as_cache(cache);
    uint16_t word;
    std::memcpy(&word, c.key_at(0, 2), 2);
    ASSERT_TRUE(std::isfinite(rotor::f16_to_float(word)));
    // Evicting token 1 brings token 2 to position 1: rotated back by 1 radian on pair 0, its
    // first dimension becomes 66326, past f16's range: +inf in the cache.
    ASSERT_EQ(rotor_kv_cache_evict(table, cache, 1, 1, nullptr), ROTOR_OK);
    std::memcpy(&word, c.key_at(0, 1), 2);
    ASSERT_EQ(rotor::f16_to_float(word), std::numeric_limits<float>::infinity()) << "the premise: an overflowed key";
    // A decode step at position 2 whose query has a positive first dimension there (-cos 2 > 0):
    // its score with that key is +inf, the others finite. The output is that key's value, 3.
    std::vector<float> q1(d, 0.0f), k1(d, 0.25f), v1(d, 4.0f);
    q1[0] = -1.0f;
    const std::vector<float> out = call(q1, k1, v1, 1);
    for (uint32_t x = 0; x < d; ++x) EXPECT_EQ(out[x], 3.0f) << "dim " << x;
    rotor_table_destroy(table);
  }
  EXPECT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);
}

}  // namespace
