// Quantized KV caches (ROTOR_DTYPE_Q8_0 / Q4_0, rotor_kv_cache_config): the quantizer against
// ggml's reference rule written out here, the forward path against a double-precision attention
// over the dequantized cache (dequantize-then-attend), prefill == decode bit for bit on every
// kernel set, context shifts and rescales of rotated and un-rotated keys, and the API's checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <cstring>
#include <vector>

#include "attention/kv_cache.hpp"
#include "attention/quantized_keys.hpp"
#include "common/quant_blocks.hpp"
#include "rotor/rotor.h"
#include "support/aligned_buffer.hpp"
#include "support/reference.hpp"

namespace {

using test_support::aligned_buffer;
using test_support::AlignedBuffer;

// ---- ggml's reference quantizers, transcribed from their C (quantize_row_q8_0_ref,
// quantize_row_q4_0_ref), and dequantization in double ---------------------------------------

struct Block {
  double d;           // the scale as stored (f16), in double
  int q[32];          // the numbers (Q4_0: 0..15)
  uint16_t d_bits;
};

Block ggml_q8_0(const float *x) {
  Block b{};
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d_bits = rotor::float_to_f16(d);
  b.d = rotor::f16_to_float(b.d_bits);
  for (int j = 0; j < 32; ++j) b.q[j] = int(std::roundf(x[j] * id));
  return b;
}

Block ggml_q4_0(const float *x) {
  Block b{};
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -8.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  b.d_bits = rotor::float_to_f16(d);
  b.d = rotor::f16_to_float(b.d_bits);
  for (int j = 0; j < 32; ++j) {
    const float x0 = x[j] * id;
    b.q[j] = std::min(15, int(int8_t(x0 + 8.5f)));
  }
  return b;
}

// x (n floats, a multiple of 32) through the type and back, in double.
std::vector<double> through(rotor_dtype type, const float *x, uint32_t n) {
  std::vector<double> out(n);
  for (uint32_t g = 0; g < n / 32; ++g) {
    const Block b = type == ROTOR_DTYPE_Q8_0 ? ggml_q8_0(x + 32 * g) : ggml_q4_0(x + 32 * g);
    for (int j = 0; j < 32; ++j) out[32 * g + j] = b.d * (type == ROTOR_DTYPE_Q8_0 ? b.q[j] : b.q[j] - 8);
  }
  return out;
}

std::vector<double> through_storage(rotor_dtype type, const float *x, uint32_t n) {
  if (type == ROTOR_DTYPE_Q8_0 || type == ROTOR_DTYPE_Q4_0) return through(type, x, n);
  std::vector<double> out(n);
  for (uint32_t i = 0; i < n; ++i)
    out[i] = type == ROTOR_DTYPE_F32   ? double(x[i])
             : type == ROTOR_DTYPE_F16 ? double(rotor::f16_to_float(rotor::float_to_f16(x[i])))
                                       : double(rotor::bf16_to_float(rotor::float_to_bf16(x[i])));
  return out;
}

TEST(KvQuant, QuantizerIsGgmlsReferenceRuleBitForBit) {
  // Random groups, groups with exact ties (x * id landing on .5), zeros, a negative extreme.
  std::vector<float> x = ref::random_floats(32 * 64, 11u, -3.0f, 3.0f);
  for (int j = 0; j < 32; ++j) x.push_back(j % 2 == 0 ? 0.0f : 0.0f);                  // all zero
  for (int j = 0; j < 32; ++j) x.push_back(float(j - 16) * 0.5f);                     // ties for Q8_0 and Q4_0
  for (int j = 0; j < 32; ++j) x.push_back(j == 5 ? -7.0f : float(j) * 0.125f);       // negative extreme
  for (int j = 0; j < 32; ++j) x.push_back(j == 9 ? 1e-30f : 0.0f);                    // tiny scale (f16 zero)
  for (rotor_dtype type : {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}) {
    std::vector<unsigned char> row(rotor::quant_row_bytes(type, uint32_t(x.size())));
    rotor::quantize_row(type, x.data(), uint32_t(x.size()), row.data());
    for (size_t g = 0; g < x.size() / 32; ++g) {
      const Block want = type == ROTOR_DTYPE_Q8_0 ? ggml_q8_0(&x[32 * g]) : ggml_q4_0(&x[32 * g]);
      const unsigned char *block = row.data() + g * rotor::quant_block_bytes(type);
      uint16_t d_bits;
      std::memcpy(&d_bits, block, 2);
      ASSERT_EQ(d_bits, want.d_bits) << "group " << g;
      for (int j = 0; j < 32; ++j) {
        // ggml's byte layout: Q8_0 int8 in order; Q4_0 byte j = element j | element j + 16 << 4.
        const int got = type == ROTOR_DTYPE_Q8_0 ? int(int8_t(block[2 + j]))
                                                 : (j < 16 ? block[2 + j] & 15 : block[2 + j - 16] >> 4);
        ASSERT_EQ(got, want.q[j]) << "type " << type << " group " << g << " element " << j;
      }
    }
    // Dequantized rows are the reference's values exactly.
    std::vector<float> back(x.size());
    rotor::dequantize_rows(type, row.data(), 1, uint32_t(x.size()), back.data());
    const std::vector<double> want = through(type, x.data(), uint32_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(double(back[i]), want[i]) << i;
  }
}

TEST(KvQuant, NonFiniteInputQuantizesWithoutUndefinedBehaviour) {
  std::vector<float> x(32, 1.0f);
  x[3] = std::nanf("");
  x[7] = INFINITY;
  for (rotor_dtype type : {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}) {
    std::vector<unsigned char> row(rotor::quant_row_bytes(type, 32));
    rotor::quantize_row(type, x.data(), 32, row.data());  // UBSan: no float-to-int overflow
    SUCCEED();
  }
}

// ---- the forward path against dequantize-then-attend -----------------------------------------

constexpr uint32_t kHq = 8, kHk = 2, kD = 64;
constexpr double kBase = 10000.0;

struct Storage {
  rotor_dtype key, value;
  uint32_t flags;
};

struct Sequence {
  uint32_t n;
  std::vector<float> q, k, v;  // [token][head][d]
  explicit Sequence(uint32_t tokens, unsigned seed, float key_outlier = 1.0f) : n(tokens) {
    q = ref::random_floats(size_t{n} * kHq * kD, seed, -1.0f, 1.0f);
    k = ref::random_floats(size_t{n} * kHk * kD, seed + 1, -1.0f, 1.0f);
    v = ref::random_floats(size_t{n} * kHk * kD, seed + 2, -1.0f, 1.0f);
    // Channels shaped like a real model's keys: a few much larger than the rest.
    for (size_t t = 0; t < size_t{n} * kHk; ++t) {
      k[t * kD + 5] *= key_outlier;
      k[t * kD + 40] *= key_outlier;
    }
  }
};

// Pairs (i, i + d/2) rotated by angle p * base^(-2i/d), in double.
std::vector<double> rotated(const std::vector<double> &x, double p) {
  std::vector<double> out = x;
  for (uint32_t i = 0; i < kD / 2; ++i) {
    const double angle = p * std::pow(kBase, -2.0 * i / kD);
    out[i] = x[i] * std::cos(angle) - x[i + kD / 2] * std::sin(angle);
    out[i + kD / 2] = x[i + kD / 2] * std::cos(angle) + x[i] * std::sin(angle);
  }
  return out;
}

// Double attention of every token over the cache the library should hold: token t's key at
// position positions[t] (rotated then stored, or stored then rotated for un-rotated keys),
// its value stored; quantize = false: the exact attention (no storage rounding).
std::vector<double> reference(const Sequence &s, const std::vector<uint32_t> &tokens, Storage st, bool quantize,
                              uint32_t first_query) {
  const uint32_t n = uint32_t(tokens.size()), group = kHq / kHk;
  std::vector<std::vector<double>> keys(size_t{n} * kHk), values(size_t{n} * kHk);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t h = 0; h < kHk; ++h) {
      const float *k = &s.k[(size_t{tokens[i]} * kHk + h) * kD];
      const float *v = &s.v[(size_t{tokens[i]} * kHk + h) * kD];
      std::vector<double> key;
      if (!quantize) {
        key = rotated(std::vector<double>(k, k + kD), i);
      } else if (st.flags & ROTOR_KV_UNROTATED_KEYS) {
        key = rotated(through_storage(st.key, k, kD), i);
      } else {
        const std::vector<double> exact = rotated(std::vector<double>(k, k + kD), i);
        std::vector<float> as_float(exact.begin(), exact.end());
        key = through_storage(st.key, as_float.data(), kD);
      }
      keys[size_t{i} * kHk + h] = key;
      values[size_t{i} * kHk + h] = quantize ? through_storage(st.value, v, kD) : std::vector<double>(v, v + kD);
    }
  std::vector<double> out;
  const double scale = 1.0 / std::sqrt(double(kD));
  for (uint32_t i = first_query; i < n; ++i)
    for (uint32_t hq = 0; hq < kHq; ++hq) {
      const float *qf = &s.q[(size_t{tokens[i]} * kHq + hq) * kD];
      const std::vector<double> q = rotated(std::vector<double>(qf, qf + kD), i);
      std::vector<double> w(i + 1);
      double most = -INFINITY, sum = 0;
      for (uint32_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (uint32_t e = 0; e < kD; ++e) dot += q[e] * keys[size_t{j} * kHk + hq / group][e];
        w[j] = dot * scale;
        most = std::max(most, w[j]);
      }
      for (double &x : w) sum += (x = std::exp(x - most));
      for (uint32_t e = 0; e < kD; ++e) {
        double acc = 0;
        for (uint32_t j = 0; j <= i; ++j) acc += w[j] * values[size_t{j} * kHk + hq / group][e];
        out.push_back(acc / sum);
      }
    }
  return out;
}

double relative_rms(const std::vector<float> &got, const std::vector<double> &want) {
  double err = 0, norm = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    err += (got[i] - want[i]) * (got[i] - want[i]);
    norm += want[i] * want[i];
  }
  return std::sqrt(err / norm);
}

class Engine {
 public:
  explicit Engine(uint32_t threads = 1, rotor_scaling scaling = ROTOR_SCALING_NONE) : threads_(threads) {
    rotor_config cfg;
    rotor_config_init(&cfg, kD);
    cfg.base = kBase;
    cfg.max_len = 4096;
    cfg.scaling = scaling;
    if (scaling == ROTOR_SCALING_DYNAMIC_NTK) {  // rows change once 64 positions are passed
      cfg.factor = 4.0f;
      cfg.original_max_len = 64;
      cfg.initial_len = 16;
    }
    EXPECT_EQ(rotor_table_create(&table_, &cfg), ROTOR_OK);
    if (threads > 1) EXPECT_EQ(rotor_pool_create(&pool_, threads), ROTOR_OK);
  }
  ~Engine() {
    rotor_pool_destroy(pool_);
    rotor_table_destroy(table_);
  }
  rotor_table *table() { return table_; }
  rotor_pool *pool() { return pool_; }

  struct Cache {
    AlignedBuffer arena;
    size_t bytes = 0;
    rotor_kv_cache *cache = nullptr;
    const rotor::KvCache &internal() const { return *reinterpret_cast<const rotor::KvCache *>(cache); }
  };
  Cache cache(Storage st, uint32_t max_len = 512) {
    rotor_kv_cache_config cfg;
    EXPECT_EQ(rotor_kv_cache_config_init(&cfg, st.key), ROTOR_OK);
    cfg.value_dtype = st.value;
    cfg.flags = st.flags;
    Cache c;
    c.bytes = rotor_kv_cache_arena_size_ex(kHk, kD, max_len, &cfg);
    EXPECT_GT(c.bytes, 0u);
    c.arena = test_support::aligned_buffer(c.bytes);
    EXPECT_EQ(rotor_kv_cache_init_ex(&c.cache, kHk, kD, max_len, &cfg, c.arena.get(), c.bytes), ROTOR_OK);
    return c;
  }
  // Tokens `tokens` of s appended in one call; their outputs appended to *out. ids: the
  // rotor_attention_forward_axes path with these ids (one axis), else rotor_attention_forward.
  rotor_status forward(Cache &c, const Sequence &s, const std::vector<uint32_t> &tokens, std::vector<float> *out,
                       const std::vector<int32_t> *ids = nullptr) {
    const uint32_t n = uint32_t(tokens.size());
    std::vector<float> q, k, v, o(size_t{n} * kHq * kD, 7.0f);
    for (uint32_t t : tokens) {
      q.insert(q.end(), s.q.begin() + ptrdiff_t(size_t{t} * kHq * kD), s.q.begin() + ptrdiff_t(size_t{t + 1} * kHq * kD));
      k.insert(k.end(), s.k.begin() + ptrdiff_t(size_t{t} * kHk * kD), s.k.begin() + ptrdiff_t(size_t{t + 1} * kHk * kD));
      v.insert(v.end(), s.v.begin() + ptrdiff_t(size_t{t} * kHk * kD), s.v.begin() + ptrdiff_t(size_t{t + 1} * kHk * kD));
    }
    const rotor_tensor tq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, n, kHq, kD);
    const rotor_tensor tk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, n, kHk, kD);
    const rotor_tensor tv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, n, kHk, kD);
    const rotor_tensor to = rotor_tensor_bshd(o.data(), ROTOR_DTYPE_F32, 1, n, kHq, kD);
    const size_t ws_bytes = rotor_attention_workspace_size(kHq, kHk, kD, n, threads_);
    AlignedBuffer ws = test_support::aligned_buffer(ws_bytes);
    rotor_kv_cache *caches[1] = {c.cache};
    const float scale = float(1.0 / std::sqrt(double(kD)));
    const rotor_status status =
        ids != nullptr ? rotor_attention_forward_axes(table_, caches, &tq, &tk, &tv, &to, ids->data(), scale, ws.get(),
                                                      ws_bytes, pool_)
                       : rotor_attention_forward(table_, caches, &tq, &tk, &tv, &to, scale, ws.get(), ws_bytes, pool_);
    if (status == ROTOR_OK) out->insert(out->end(), o.begin(), o.end());
    return status;
  }

 private:
  uint32_t threads_;
  rotor_table *table_ = nullptr;
  rotor_pool *pool_ = nullptr;
};

std::vector<uint32_t> range(uint32_t first, uint32_t last) {
  std::vector<uint32_t> ids;
  for (uint32_t i = first; i < last; ++i) ids.push_back(i);
  return ids;
}

const Storage kStorages[] = {
    {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, 0},
    {ROTOR_DTYPE_Q4_0, ROTOR_DTYPE_Q4_0, 0},
    {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0, 0},
    {ROTOR_DTYPE_F16, ROTOR_DTYPE_Q8_0, 0},
    {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_F32, 0},
    {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS},
    {ROTOR_DTYPE_Q4_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS},
    {ROTOR_DTYPE_F16, ROTOR_DTYPE_F16, ROTOR_KV_UNROTATED_KEYS},
};

std::string name(Storage st) {
  auto type = [](rotor_dtype t) {
    return t == ROTOR_DTYPE_F32 ? "f32" : t == ROTOR_DTYPE_F16 ? "f16" : t == ROTOR_DTYPE_BF16 ? "bf16"
           : t == ROTOR_DTYPE_Q8_0 ? "q8_0" : "q4_0";
  };
  return std::string(type(st.key)) + "/" + type(st.value) + (st.flags ? " unrotated" : "");
}

// Prefill then decode steps, every kernel set, 1 and 2 threads: matches dequantize-then-attend
// (errors far below the quantization's own), and prefill == decode steps bit for bit.
TEST(KvQuant, ForwardMatchesDequantizeThenAttendAndPrefillEqualsDecode) {
  const Sequence s(150, 21u);
  for (uint32_t kernel = 0; kernel < rotor_kernel_count(); ++kernel) {
    const char *kernel_name = rotor_kernel_available(kernel);
    ASSERT_EQ(rotor_kernel_force(kernel_name), ROTOR_OK);
    for (uint32_t threads : {1u, 2u})
      for (Storage st : kStorages) {
        SCOPED_TRACE(name(st) + " kernel " + kernel_name + " threads " + std::to_string(threads));
        Engine e(threads);
        Engine::Cache prefilled = e.cache(st), stepped = e.cache(st);
        std::vector<float> out_prefill, out_steps;
        ASSERT_EQ(e.forward(prefilled, s, range(0, 130), &out_prefill), ROTOR_OK);
        // Then calls of 5 tokens (20 query rows: the tiles read the cache's own blocks, and the
        // diagonal's staircase starts its later tokens' values part-way into the rows) and 10.
        for (uint32_t first : {130u, 135u})
          ASSERT_EQ(e.forward(prefilled, s, range(first, first + 5), &out_prefill), ROTOR_OK);
        ASSERT_EQ(e.forward(prefilled, s, range(140, 150), &out_prefill), ROTOR_OK);
        for (uint32_t t = 0; t < 150; ++t) ASSERT_EQ(e.forward(stepped, s, {t}, &out_steps), ROTOR_OK);
        ASSERT_EQ(out_prefill.size(), out_steps.size());
        EXPECT_EQ(std::memcmp(out_prefill.data(), out_steps.data(), out_prefill.size() * sizeof(float)), 0)
            << "prefill and decode steps differ";
        const rotor::KvCache &a = prefilled.internal(), &b = stepped.internal();
        EXPECT_EQ(std::memcmp(a.keys, b.keys, size_t{kHk} * rotor::KvCache::key_blocks(a.max_len) * a.key_block_bytes), 0);
        EXPECT_EQ(std::memcmp(a.values, b.values, size_t{kHk} * a.max_len * a.value_row_bytes), 0);
        if (threads == 2) continue;  // the references do not depend on threads
        const double dequantized = relative_rms(out_prefill, reference(s, range(0, 150), st, true, 0));
        const double exact = relative_rms(out_prefill, reference(s, range(0, 150), st, false, 0));
        EXPECT_LT(dequantized, 1e-5) << "against dequantize-then-attend";
        // The storage's own error, for scale: Q8_0 about 1e-2, Q4_0 about 1e-1 here.
        const bool q4 = st.key == ROTOR_DTYPE_Q4_0 || st.value == ROTOR_DTYPE_Q4_0;
        EXPECT_LT(exact, q4 ? 2e-1 : 3e-2);
        if (kernel == 0 && threads == 1)
          std::printf("[ kv quant ] %-22s error vs dequantize-then-attend %.2e, vs exact f32 attention %.2e\n",
                      name(st).c_str(), dequantized, exact);
      }
  }
  ASSERT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);
}

// ---- context shifts and rescales ----------------------------------------------------------------

// Key (head, token) of a quantized cache, dequantized (exact).
void stored_key(const rotor::KvCache &c, uint32_t head, uint32_t token, float *key) {
  rotor::dequantize_key(c.key_dtype, c.head_dim, c.key_block_at(head, token / rotor::kKeyBlock),
                        token % rotor::kKeyBlock, key);
}

// StreamingLLM on an 8-bit cache: 64 times, 8 tokens after a 4-token sink are evicted and 8 new
// tokens appended. Un-rotated keys: the shifted cache holds a fresh prefill's numbers and a
// decode step gives the same bits. Rotated keys: each shift requantizes the moved keys once
// (docs/quantized-kv.md); after one shift the step stays within a few quantization errors.
TEST(KvQuant, StreamingShiftsOfUnrotatedKeysEqualAFreshPrefill) {
  const Sequence s(700, 31u);
  for (rotor_dtype type : {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}) {
    for (uint32_t threads : {1u, 2u}) {
      SCOPED_TRACE(std::string(type == ROTOR_DTYPE_Q8_0 ? "q8_0" : "q4_0") + " threads " + std::to_string(threads));
      Engine e(threads);
      rotor_pool *pool = e.pool();
      const Storage st{type, type, ROTOR_KV_UNROTATED_KEYS};
      Engine::Cache shifted = e.cache(st);
      std::vector<float> ignored;
      std::vector<uint32_t> kept = range(0, 150);
      ASSERT_EQ(e.forward(shifted, s, kept, &ignored), ROTOR_OK);
      uint32_t next = 150;
      for (int shift = 0; shift < 64; ++shift) {
        ASSERT_EQ(rotor_kv_cache_evict(e.table(), shifted.cache, 4, 8, pool), ROTOR_OK);
        kept.erase(kept.begin() + 4, kept.begin() + 12);
        const std::vector<uint32_t> fresh_tokens = range(next, next + 8);
        ASSERT_EQ(e.forward(shifted, s, fresh_tokens, &ignored), ROTOR_OK);
        kept.insert(kept.end(), fresh_tokens.begin(), fresh_tokens.end());
        next += 8;
      }
      Engine::Cache fresh = e.cache(st);
      ASSERT_EQ(e.forward(fresh, s, kept, &ignored), ROTOR_OK);
      ASSERT_EQ(rotor_kv_cache_length(shifted.cache), rotor_kv_cache_length(fresh.cache));
      // The same numbers for every kept token (key by key: the blocks' unused columns differ).
      const rotor::KvCache &a = shifted.internal(), &b = fresh.internal();
      std::vector<float> ka(kD), kb(kD);
      for (uint32_t h = 0; h < kHk; ++h)
        for (uint32_t t = 0; t < a.length; ++t) {
          stored_key(a, h, t, ka.data());
          stored_key(b, h, t, kb.data());
          ASSERT_EQ(std::memcmp(ka.data(), kb.data(), kD * sizeof(float)), 0) << "head " << h << " token " << t;
          ASSERT_EQ(std::memcmp(a.value_at(h, t), b.value_at(h, t), a.value_row_bytes), 0) << "head " << h << " token " << t;
        }
      std::vector<float> step_shifted, step_fresh;
      ASSERT_EQ(e.forward(shifted, s, {next}, &step_shifted), ROTOR_OK);
      ASSERT_EQ(e.forward(fresh, s, {next}, &step_fresh), ROTOR_OK);
      EXPECT_EQ(std::memcmp(step_shifted.data(), step_fresh.data(), step_fresh.size() * sizeof(float)), 0);
    }
  }
}

TEST(KvQuant, ShiftOfRotatedQuantizedKeysRequantizesOnce) {
  const Sequence s(300, 41u);
  for (rotor_dtype type : {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}) {
    SCOPED_TRACE(type == ROTOR_DTYPE_Q8_0 ? "q8_0" : "q4_0");
    Engine e;
    const Storage st{type, type, 0};
    Engine::Cache shifted = e.cache(st), fresh = e.cache(st);
    std::vector<float> ignored, out_shifted, out_fresh;
    ASSERT_EQ(e.forward(shifted, s, range(0, 200), &ignored), ROTOR_OK);
    ASSERT_EQ(rotor_kv_cache_evict(e.table(), shifted.cache, 4, 30, nullptr), ROTOR_OK);
    std::vector<uint32_t> kept = range(0, 4), tail = range(34, 200);
    kept.insert(kept.end(), tail.begin(), tail.end());
    ASSERT_EQ(e.forward(fresh, s, kept, &ignored), ROTOR_OK);
    ASSERT_EQ(e.forward(shifted, s, {250}, &out_shifted), ROTOR_OK);
    ASSERT_EQ(e.forward(fresh, s, {250}, &out_fresh), ROTOR_OK);
    kept.push_back(250);
    const std::vector<double> exact = reference(s, kept, st, false, uint32_t(kept.size()) - 1);
    const double one_quantization = relative_rms(out_fresh, exact);
    const double shifted_error = relative_rms(out_shifted, exact);
    std::printf("[ kv quant ] rotated %s keys, one shift: error %.2e (a fresh prefill's %.2e)\n",
                type == ROTOR_DTYPE_Q8_0 ? "q8_0" : "q4_0", shifted_error, one_quantization);
    // The moved keys were rounded to the grid twice: more error than a fresh prefill's, within 2x.
    EXPECT_GT(shifted_error, 0.0);
    EXPECT_LT(shifted_error, 2.0 * one_quantization);
  }
}

// A rescale (dynamic NTK passing its original length) under REROTATE: a rotated quantized
// cache is re-rotated (requantized); an un-rotated one is not touched, and its next step equals
// a fresh cache's bit for bit.
TEST(KvQuant, RescaleLeavesUnrotatedKeysUntouched) {
  const Sequence s(120, 51u);
  Engine e(1, ROTOR_SCALING_DYNAMIC_NTK);
  const Storage rotated{ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, 0}, unrotated{ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS};
  Engine::Cache r = e.cache(rotated), u = e.cache(unrotated);
  std::vector<float> ignored, out_u, out_fresh;
  ASSERT_EQ(e.forward(r, s, range(0, 40), &ignored), ROTOR_OK);
  ASSERT_EQ(e.forward(u, s, range(0, 40), &ignored), ROTOR_OK);
  // The prefill's keys as stored (dequantized: exact), to check that nothing rewrites them.
  auto stored_keys = [&](const Engine::Cache &c) {
    std::vector<float> keys(size_t{kHk} * 40 * kD);
    for (uint32_t h = 0; h < kHk; ++h)
      for (uint32_t t = 0; t < 40; ++t) stored_key(c.internal(), h, t, &keys[(size_t{h} * 40 + t) * kD]);
    return keys;
  };
  const std::vector<float> keys_before = stored_keys(u), rotated_before = stored_keys(r);
  for (uint32_t t = 40; t < 100; ++t) {
    ASSERT_EQ(e.forward(r, s, {t}, &ignored), ROTOR_OK);
    ASSERT_EQ(e.forward(u, s, {t}, &out_u), ROTOR_OK);
  }
  uint64_t rerotations_r = 0, rerotations_u = 0;
  ASSERT_EQ(rotor_kv_cache_rerotations(r.cache, &rerotations_r), ROTOR_OK);
  ASSERT_EQ(rotor_kv_cache_rerotations(u.cache, &rerotations_u), ROTOR_OK);
  EXPECT_GT(rerotations_r, 0u) << "the table's rows must have changed for this test to mean anything";
  EXPECT_EQ(rerotations_u, 0u);
  EXPECT_TRUE(stored_keys(u) == keys_before) << "an un-rotated key was rewritten";
  EXPECT_FALSE(stored_keys(r) == rotated_before) << "the rotated cache's keys were not brought to the new rows";
  Engine::Cache fresh = e.cache(unrotated);
  ASSERT_EQ(e.forward(fresh, s, range(0, 99), &ignored), ROTOR_OK);
  ASSERT_EQ(e.forward(fresh, s, {99}, &out_fresh), ROTOR_OK);
  const size_t step = size_t{kHq} * kD;
  EXPECT_EQ(std::memcmp(out_u.data() + out_u.size() - step, out_fresh.data(), step * sizeof(float)), 0);
}

// ---- the API's checks -------------------------------------------------------------------------

TEST(KvQuant, ConfigAndSizesAndErrors) {
  // rotor_kv_cache_config_init_sized: 12 or 16 bytes, never past them.
  unsigned char bytes[32];
  std::memset(bytes, 0xEE, sizeof bytes);
  auto *cfg = reinterpret_cast<rotor_kv_cache_config *>(bytes);
  ASSERT_EQ(rotor_kv_cache_config_init_sized(cfg, 12, ROTOR_DTYPE_Q8_0), ROTOR_OK);
  EXPECT_EQ(cfg->struct_size, 12u);
  EXPECT_EQ(cfg->key_dtype, ROTOR_DTYPE_Q8_0);
  EXPECT_EQ(cfg->value_dtype, ROTOR_DTYPE_Q8_0);
  EXPECT_EQ(bytes[12], 0xEE);
  for (size_t bad : {size_t{0}, size_t{8}, size_t{13}, size_t{20}})
    EXPECT_EQ(rotor_kv_cache_config_init_sized(cfg, bad, ROTOR_DTYPE_F16), ROTOR_ERR_INVALID_ARGUMENT) << bad;
  EXPECT_EQ(rotor_kv_cache_config_init_sized(cfg, 16, rotor_dtype(5)), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_config_init_sized(nullptr, 16, ROTOR_DTYPE_F16), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(cfg->struct_size, 12u) << "refused calls write nothing";
  // A 12-byte struct means flags 0: the same size as the one-dtype function.
  EXPECT_EQ(rotor_kv_cache_arena_size_ex(8, 128, 4096, cfg), rotor_kv_cache_arena_size(8, 128, 4096, ROTOR_DTYPE_Q8_0));

  rotor_kv_cache_config c;
  ASSERT_EQ(rotor_kv_cache_config_init(&c, ROTOR_DTYPE_F16), ROTOR_OK);
  const double f16 = double(rotor_kv_cache_arena_size_ex(8, 128, 32768, &c));
  c.key_dtype = c.value_dtype = ROTOR_DTYPE_Q8_0;
  const double q8 = double(rotor_kv_cache_arena_size_ex(8, 128, 32768, &c));
  c.key_dtype = c.value_dtype = ROTOR_DTYPE_Q4_0;
  const double q4 = double(rotor_kv_cache_arena_size_ex(8, 128, 32768, &c));
  EXPECT_LE(q8 / f16, 0.54);
  EXPECT_LE(q4 / f16, 0.29);
  std::printf("[ kv quant ] arena bytes at 8 kv heads, d 128, 32768 tokens: q8_0 %.4f, q4_0 %.4f of f16's\n", q8 / f16,
              q4 / f16);

  // What the size and init refuse, and init leaves *out alone.
  struct Bad {
    uint32_t size, head_dim;
    int key, value;
    uint32_t flags;
  };
  const Bad bad[] = {{16, 48, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_F16, 0}, {16, 2048, ROTOR_DTYPE_F32, ROTOR_DTYPE_Q4_0, 0},
                     {16, 64, 5, ROTOR_DTYPE_F16, 0},                 {16, 64, ROTOR_DTYPE_F16, -1, 0},
                     {16, 64, ROTOR_DTYPE_F16, ROTOR_DTYPE_F16, 2},    {13, 64, ROTOR_DTYPE_F16, ROTOR_DTYPE_F16, 0},
                     {20, 64, ROTOR_DTYPE_F16, ROTOR_DTYPE_F16, 0},    {0, 64, ROTOR_DTYPE_F16, ROTOR_DTYPE_F16, 0}};
  AlignedBuffer arena = test_support::aligned_buffer(1 << 20);
  for (const Bad &b : bad) {
    rotor_kv_cache_config x{};
    x.struct_size = b.size;
    std::memcpy(&x.key_dtype, &b.key, sizeof b.key);
    std::memcpy(&x.value_dtype, &b.value, sizeof b.value);
    x.flags = b.flags;
    EXPECT_EQ(rotor_kv_cache_arena_size_ex(2, b.head_dim, 16, &x), 0u);
    rotor_kv_cache *out = reinterpret_cast<rotor_kv_cache *>(&arena);
    EXPECT_EQ(rotor_kv_cache_init_ex(&out, 2, b.head_dim, 16, &x, arena.get(), 1 << 20), ROTOR_ERR_INVALID_ARGUMENT);
    EXPECT_EQ(out, reinterpret_cast<rotor_kv_cache *>(&arena));
  }
  EXPECT_EQ(rotor_kv_cache_arena_size_ex(2, 64, 16, nullptr), 0u);
  EXPECT_EQ(rotor_kv_cache_arena_size(2, 48, 16, ROTOR_DTYPE_Q4_0), 0u);
  EXPECT_GT(rotor_kv_cache_arena_size(2, 64, 16, ROTOR_DTYPE_Q4_0), 0u);

  // rotor_kv_cache_get_config: what init_ex was given, up to the caller's struct_size.
  rotor_kv_cache_config want;
  ASSERT_EQ(rotor_kv_cache_config_init(&want, ROTOR_DTYPE_Q4_0), ROTOR_OK);
  want.value_dtype = ROTOR_DTYPE_BF16;
  want.flags = ROTOR_KV_UNROTATED_KEYS;
  rotor_kv_cache *cache = nullptr;
  const size_t need = rotor_kv_cache_arena_size_ex(2, 64, 16, &want);
  ASSERT_EQ(rotor_kv_cache_init_ex(&cache, 2, 64, 16, &want, arena.get(), need), ROTOR_OK);
  rotor_kv_cache_config got{};
  got.struct_size = sizeof got;
  ASSERT_EQ(rotor_kv_cache_get_config(cache, &got), ROTOR_OK);
  EXPECT_EQ(std::memcmp(&got, &want, sizeof got), 0);
  std::memset(bytes, 0xEE, sizeof bytes);
  cfg->struct_size = 12;
  ASSERT_EQ(rotor_kv_cache_get_config(cache, cfg), ROTOR_OK);
  EXPECT_EQ(cfg->value_dtype, ROTOR_DTYPE_BF16);
  EXPECT_EQ(bytes[12], 0xEE) << "nothing past a 12-byte struct";
  cfg->struct_size = 15;
  EXPECT_EQ(rotor_kv_cache_get_config(cache, cfg), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_get_config(nullptr, &got), ROTOR_ERR_INVALID_ARGUMENT);

  // Tensors refuse the cache-only types.
  std::vector<float> x(64);
  rotor_config tc;
  rotor_config_init(&tc, 64);
  rotor_table *table = nullptr;
  ASSERT_EQ(rotor_table_create(&table, &tc), ROTOR_OK);
  rotor_tensor t = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_Q8_0, 1, 1, 1, 64);
  EXPECT_EQ(rotor_apply(table, &t, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_table_destroy(table);
}

// forward_axes refuses a cache of un-rotated keys (it keeps no ids) and writes nothing.
TEST(KvQuant, AxesRefuseUnrotatedCaches) {
  const Sequence s(8, 61u);
  Engine e;
  Engine::Cache u = e.cache({ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS});
  const std::vector<unsigned char> before(u.arena.get(), u.arena.get() + u.bytes);
  std::vector<float> out;
  const std::vector<int32_t> ids = {0, 1, 2, 3};
  EXPECT_EQ(e.forward(u, s, range(0, 4), &out, &ids), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(std::memcmp(before.data(), u.arena.get(), u.bytes), 0);
  // A cache of rotated quantized keys takes ids.
  Engine::Cache r = e.cache({ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, 0});
  EXPECT_EQ(e.forward(r, s, range(0, 4), &out, &ids), ROTOR_OK);
}

}  // namespace
