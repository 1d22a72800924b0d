// Quantized KV caches (ROTOR_DTYPE_Q8_0 / Q4_0, rotor_kv_cache_config): the quantizer against
// ggml's reference rule written out here, the forward path against a double-precision attention
// over the dequantized cache (dequantize-then-attend), prefill == decode bit for bit on every
// kernel set, context shifts and rescales of rotated and un-rotated keys, and the API's checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "attention/kv_cache.hpp"
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
  // Tokens `tokens` of s appended in one call; their outputs appended to *out.
  rotor_status forward(Cache &c, const Sequence &s, const std::vector<uint32_t> &tokens, std::vector<float> *out) {
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
    const rotor_status status = rotor_attention_forward(table_, caches, &tq, &tk, &tv, &to,
                                                        float(1.0 / std::sqrt(double(kD))), ws.get(), ws_bytes, pool_);
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
        ASSERT_EQ(e.forward(prefilled, s, range(130, 150), &out_prefill), ROTOR_OK);
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

}  // namespace
