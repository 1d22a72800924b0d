// Multi-axis RoPE (M-RoPE of Qwen2-VL / Qwen2.5-VL / Qwen3-VL, 2-D vision RoPE of the Qwen2-VL
// towers and Pixtral), proportional RoPE, and the per-layer presets: against a double-precision
// reference written here from the models' formulas (sharing no code with src/table/layout.cpp),
// bit for bit against 1-D RoPE where the ids are equal, on every kernel, and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "rotor/rotor.h"

namespace {

struct Layout {
  const char *preset;
  uint32_t axes;
};

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  std::vector<float> v(n);
  for (float &x : v) x = dist(gen);
  return v;
}

// The model's angle for pair j of a token with ids (a0, a1, a2), written from Hugging Face's
// modules: M-RoPE sections (Qwen2VLRotaryEmbedding), interleaving (Qwen3-VL), halves of a
// head/2 rotary (Qwen2-VL vision), even/odd frequencies (Pixtral).
long double reference_angle(const rotor_config &c, uint32_t j, const int32_t *ids) {
  const uint32_t r = c.rotary_dim, half = r / 2, quarter = r / 4;
  const long double base = c.base;
  switch (c.layout) {
    case ROTOR_LAYOUT_MROPE: {
      const uint32_t s0 = c.mrope_section[0], s1 = c.mrope_section[1];
      const int axis = j < s0 ? 0 : j < s0 + s1 ? 1 : 2;
      return ids[axis] * std::pow(base, -2.0L * j / r);
    }
    case ROTOR_LAYOUT_MROPE_INTERLEAVED: {
      int axis = 0;
      if (j % 3 == 1 && j < 3 * c.mrope_section[1]) axis = 1;
      if (j % 3 == 2 && j < 3 * c.mrope_section[2]) axis = 2;
      return ids[axis] * std::pow(base, -2.0L * j / r);
    }
    case ROTOR_LAYOUT_VISION_HALVES: {
      const uint32_t k = j % quarter;  // VisionRotaryEmbedding(r / 2): base^(-2k / (r / 2))
      return ids[j < quarter ? 0 : 1] * std::pow(base, -2.0L * k / (r / 2));
    }
    case ROTOR_LAYOUT_VISION_ALTERNATE: {
      const uint32_t m = j < quarter ? 2 * j : 2 * (j - quarter) + 1;  // inv_freq[0::2], [1::2]
      return ids[j < quarter ? 0 : 1] * std::pow(base, -2.0L * m / r);
    }
    default:
      (void)half;
      return ids[0] * std::pow(base, -2.0L * j / r);
  }
}

rotor_table *make_table(const char *preset, rotor_config *cfg_out = nullptr) {
  rotor_config cfg;
  EXPECT_EQ(rotor_config_preset(&cfg, preset), ROTOR_OK) << preset;
  cfg.initial_len = 16;
  if (cfg.max_len > (1u << 20)) cfg.max_len = 1u << 20;
  rotor_table *t = nullptr;
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK) << preset;
  if (cfg_out) *cfg_out = cfg;
  return t;
}

// ids [axes][tokens]: text tokens (all equal), an image block, text after it, random ones.
std::vector<int32_t> mixed_ids(uint32_t axes, uint32_t tokens, uint32_t limit, uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<int32_t> ids(size_t{axes} * tokens);
  for (uint32_t i = 0; i < tokens; ++i) {
    const bool equal = i % 3 == 0;
    const int32_t common = int32_t(gen() % limit);
    for (uint32_t a = 0; a < axes; ++a) ids[size_t{a} * tokens + i] = equal ? common : int32_t(gen() % limit);
  }
  ids[0] = int32_t(limit - 1);  // the top row, on every axis of token 0
  for (uint32_t a = 1; a < axes; ++a) ids[size_t{a} * tokens] = int32_t(limit - 1);
  return ids;
}

class AxesKernels : public ::testing::TestWithParam<Layout> {};

TEST_P(AxesKernels, MatchesDoubleReferenceOnEveryKernelAndPool) {
  const Layout layout = GetParam();
  rotor_config cfg;
  rotor_table *t = make_table(layout.preset, &cfg);
  const uint32_t d = cfg.rotary_dim, heads = 3, tokens = 37, half = d / 2;
  const uint32_t limit = cfg.max_len < 50000 ? cfg.max_len : 50000;
  const std::vector<int32_t> ids = mixed_ids(layout.axes, tokens, limit, 7);
  const std::vector<float> x = random_floats(size_t{tokens} * heads * d, 3);
  rotor_pool *pool = nullptr;
  ASSERT_EQ(rotor_pool_create(&pool, 3), ROTOR_OK);
  const std::string before = rotor_kernel_name();
  for (uint32_t k = 0; k < rotor_kernel_count(); ++k) {
    ASSERT_EQ(rotor_kernel_force(rotor_kernel_available(k)), ROTOR_OK);
    for (rotor_pool *p : {static_cast<rotor_pool *>(nullptr), pool}) {
      std::vector<float> y = x;
      rotor_tensor v = rotor_tensor_bshd(y.data(), ROTOR_DTYPE_F32, 1, tokens, heads, d);
      ASSERT_EQ(rotor_apply_axes(t, &v, ids.data(), ROTOR_FORWARD, p), ROTOR_OK);
      double worst = 0;
      for (uint32_t i = 0; i < tokens; ++i) {
        int32_t tok_ids[3] = {0, 0, 0};
        for (uint32_t a = 0; a < layout.axes; ++a) tok_ids[a] = ids[size_t{a} * tokens + i];
        for (uint32_t h = 0; h < heads; ++h)
          for (uint32_t j = 0; j < half; ++j) {
            const long double angle = reference_angle(cfg, j, tok_ids);
            const size_t at = (size_t{i} * heads + h) * d;
            const long double a = x[at + j], b = x[at + j + half];
            const long double ya = a * std::cos(angle) - b * std::sin(angle);
            const long double yb = b * std::cos(angle) + a * std::sin(angle);
            worst = std::fmax(worst, double(std::fabs(ya - y[at + j])));
            worst = std::fmax(worst, double(std::fabs(yb - y[at + j + half])));
          }
      }
      EXPECT_LT(worst, 3e-6) << layout.preset << " kernel " << rotor_kernel_available(k) << (p ? " pool" : "");
    }
  }
  rotor_kernel_force(before.c_str());
  rotor_pool_destroy(pool);
  rotor_table_destroy(t);
}

INSTANTIATE_TEST_SUITE_P(Models, AxesKernels,
                         ::testing::Values(Layout{"qwen2-vl-7b", 3}, Layout{"qwen3-vl-8b", 3},
                                           Layout{"qwen2-vl-vision", 2}, Layout{"pixtral-12b-vision", 2}),
                         [](const ::testing::TestParamInfo<Layout> &info) {
                           std::string name = info.param.preset;
                           for (char &c : name)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return name;
                         });

// Text tokens of a VL model (t = h = w) get exactly 1-D RoPE: the same bits as rotor_apply on a
// 1-D table of the same config, on every kernel, f32 and f16.
TEST(Axes, EqualIdsAreOneDimensionalRopeBitForBit) {
  rotor_config cfg;
  rotor_table *vl = make_table("qwen2.5-vl-7b", &cfg);
  cfg.layout = ROTOR_LAYOUT_1D;
  rotor_table *plain = nullptr;
  ASSERT_EQ(rotor_table_create(&plain, &cfg), ROTOR_OK);
  const uint32_t d = 128, heads = 4, tokens = 19;
  std::vector<int32_t> positions(tokens), ids(3 * tokens);
  for (uint32_t i = 0; i < tokens; ++i) {
    positions[i] = int32_t(i * 5003 % 120000);
    ids[i] = ids[tokens + i] = ids[2 * tokens + i] = positions[i];
  }
  const std::string before = rotor_kernel_name();
  for (uint32_t k = 0; k < rotor_kernel_count(); ++k) {
    ASSERT_EQ(rotor_kernel_force(rotor_kernel_available(k)), ROTOR_OK);
    std::vector<float> a = random_floats(size_t{tokens} * heads * d, 11), b = a;
    rotor_tensor va = rotor_tensor_bshd(a.data(), ROTOR_DTYPE_F32, 1, tokens, heads, d);
    rotor_tensor vb = rotor_tensor_bshd(b.data(), ROTOR_DTYPE_F32, 1, tokens, heads, d);
    ASSERT_EQ(rotor_apply_axes(vl, &va, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_OK);
    ASSERT_EQ(rotor_apply(plain, &vb, positions.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
    EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << rotor_kernel_available(k);
  }
  rotor_kernel_force(before.c_str());
  rotor_table_destroy(plain);
  rotor_table_destroy(vl);
}

// Q and K in one call equal two single calls; INVERSE undoes FORWARD.
TEST(Axes, QkAndInverse) {
  rotor_table *t = make_table("qwen3-vl-8b");
  const uint32_t d = 128, tokens = 9;
  const std::vector<int32_t> ids = mixed_ids(3, tokens, 3000, 5);
  std::vector<float> q = random_floats(size_t{tokens} * 4 * d, 1), k = random_floats(size_t{tokens} * 2 * d, 2);
  std::vector<float> q1 = q, k1 = k;
  rotor_tensor vq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, tokens, 4, d);
  rotor_tensor vk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, tokens, 2, d);
  rotor_tensor vq1 = rotor_tensor_bshd(q1.data(), ROTOR_DTYPE_F32, 1, tokens, 4, d);
  rotor_tensor vk1 = rotor_tensor_bshd(k1.data(), ROTOR_DTYPE_F32, 1, tokens, 2, d);
  ASSERT_EQ(rotor_apply_qk_axes(t, &vq, &vk, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_OK);
  ASSERT_EQ(rotor_apply_axes(t, &vq1, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_OK);
  ASSERT_EQ(rotor_apply_axes(t, &vk1, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_OK);
  EXPECT_EQ(q, q1);
  EXPECT_EQ(k, k1);
  const std::vector<float> original = random_floats(size_t{tokens} * 4 * d, 1);
  ASSERT_EQ(rotor_apply_axes(t, &vq, ids.data(), ROTOR_INVERSE, nullptr), ROTOR_OK);
  for (size_t i = 0; i < q.size(); ++i) ASSERT_NEAR(q[i], original[i], 2e-5);
  rotor_table_destroy(t);
}

TEST(Axes, ErrorsChangeNothing) {
  rotor_table *t = make_table("qwen2-vl-7b");
  const uint32_t d = 128, tokens = 4;
  std::vector<int32_t> ids = mixed_ids(3, tokens, 100, 9);
  std::vector<float> x = random_floats(size_t{tokens} * d, 4);
  const std::vector<float> saved = x;
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, tokens, 1, d);
  ids[2 * tokens + 3] = 32768;  // width id of the last token: the table's max_len
  EXPECT_EQ(rotor_apply_axes(t, &v, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  ids[2 * tokens + 3] = -1;
  EXPECT_EQ(rotor_apply_axes(t, &v, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_apply_axes(t, &v, nullptr, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_apply_qk_axes(t, &v, &v, ids.data(), ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(x, saved);
  rotor_table_stats stats;
  stats.struct_size = sizeof stats;
  ASSERT_EQ(rotor_table_stats_get(t, &stats), ROTOR_OK);
  EXPECT_EQ(stats.rows, 16u) << "a refused call must not grow the table";
  rotor_table_destroy(t);
}

TEST(Axes, ConfigValidation) {
  rotor_config cfg;
  rotor_config_init(&cfg, 128);
  rotor_table *t = nullptr;
  cfg.layout = ROTOR_LAYOUT_MROPE;
  cfg.mrope_section[0] = 16;
  cfg.mrope_section[1] = 24;
  cfg.mrope_section[2] = 23;  // 63 of 64 pairs
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  cfg.mrope_section[2] = 0xffffffffu - 39u;  // wraps to 64 in 32 bits
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_config_init(&cfg, 128);
  cfg.layout = ROTOR_LAYOUT_VISION_HALVES;
  cfg.scaling = ROTOR_SCALING_LINEAR;
  cfg.factor = 2;
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_config_init(&cfg, 2048);
  cfg.layout = ROTOR_LAYOUT_VISION_ALTERNATE;  // above ROTOR_MAX_AXES_ROTARY_DIM
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_config_init(&cfg, 128);
  *reinterpret_cast<int *>(&cfg.layout) = 5;
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  rotor_config_init(&cfg, 128);
  cfg.scaling = ROTOR_SCALING_PROPORTIONAL;
  cfg.rope_pairs = 65;
  EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(t, nullptr);
}

// Gemma 4's full layers: pairs past rope_pairs are not rotated, bit for bit, and the rotated
// ones use base^(-2i / head_dim) (the whole head, not the rotated dims).
TEST(Proportional, UnrotatedPairsPassThroughAndExponentUsesHeadDim) {
  rotor_config cfg;
  rotor_table *t = make_table("gemma-4/full", &cfg);
  const uint32_t d = 512, half = 256, tokens = 5;
  std::vector<int32_t> pos = {0, 1, 4097, 77777, 131071};
  std::vector<float> x = random_floats(size_t{tokens} * d, 8);
  const std::vector<float> saved = x;
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, tokens, 1, d);
  ASSERT_EQ(rotor_apply(t, &v, pos.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
  for (uint32_t i = 0; i < tokens; ++i)
    for (uint32_t j = 0; j < half; ++j) {
      const size_t at = size_t{i} * d;
      if (j >= 64) {
        ASSERT_EQ(x[at + j], saved[at + j]);
        ASSERT_EQ(x[at + half + j], saved[at + half + j]);
        continue;
      }
      const long double angle = pos[i] * std::pow(1e6L, -2.0L * j / d);
      const long double a = saved[at + j], b = saved[at + half + j];
      EXPECT_NEAR(double(a * std::cos(angle) - b * std::sin(angle)), x[at + j], 3e-6);
    }
  rotor_table_destroy(t);
}

TEST(LayerPresets, TablesPerLayer) {
  const char *name = nullptr;
  uint32_t layers = 0;
  ASSERT_EQ(rotor_preset_layers("gemma-3-4b", &layers), ROTOR_OK);
  EXPECT_EQ(layers, 34u);
  ASSERT_EQ(rotor_preset_layer_table("gemma-3-4b", 5, &name), ROTOR_OK);
  EXPECT_STREQ(name, "gemma-3-4b/global");
  ASSERT_EQ(rotor_preset_layer_table("gemma-3-4b", 4, &name), ROTOR_OK);
  EXPECT_STREQ(name, "gemma-3-4b/local");
  ASSERT_EQ(rotor_preset_layer_table("llama-4-scout", 3, &name), ROTOR_OK);
  EXPECT_EQ(name, nullptr) << "every fourth Llama 4 layer has no RoPE";
  ASSERT_EQ(rotor_preset_layer_table("llama-4-scout", 4, &name), ROTOR_OK);
  EXPECT_STREQ(name, "llama-4-scout");
  EXPECT_EQ(rotor_preset_layer_table("llama-4-scout", 48, &name), ROTOR_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(rotor_preset_table_name("gemma-4", 1, &name), ROTOR_OK);
  EXPECT_STREQ(name, "gemma-4/full");
  EXPECT_EQ(rotor_preset_table_name("gemma-4", 2, &name), ROTOR_ERR_INVALID_ARGUMENT);
  ASSERT_EQ(rotor_preset_layers("llama-3.1-8b", &layers), ROTOR_OK);
  EXPECT_EQ(layers, 0u);
  ASSERT_EQ(rotor_preset_layer_table("llama-3.1-8b", 1000, &name), ROTOR_OK);
  EXPECT_STREQ(name, "llama-3.1-8b");
  EXPECT_EQ(rotor_preset_layers("no-such-model", &layers), ROTOR_ERR_INVALID_ARGUMENT);
  // Every table a layered model names is a preset.
  for (const char *model : {"gemma-3-4b", "gemma-4", "llama-4-scout", "command-r7b"})
    for (uint32_t i = 0; rotor_preset_table_name(model, i, &name) == ROTOR_OK; ++i) {
      rotor_config cfg;
      EXPECT_EQ(rotor_config_preset(&cfg, name), ROTOR_OK) << name;
      // Llama 4 Scout's 10 485 760 positions need ~5 GiB of rows: no 32-bit address space holds
      // them (arena size 0, as documented), every 64-bit one does.
      const bool fits = sizeof(size_t) > 4 || uint64_t{cfg.max_len} * cfg.rotary_dim * sizeof(float) < (uint64_t{1} << 31);
      EXPECT_EQ(rotor_table_arena_size(&cfg) > 0u, fits) << name;
    }
}

// The attention path with M-RoPE ids: equal ids give rotor_attention_forward's bits; a prefill
// of image + text tokens equals the same tokens decoded one by one; adaptive tables are refused.
TEST(AxesAttention, PrefillEqualsDecodeAndTextEqualsOneDimensional) {
  rotor_config cfg;
  rotor_config_init(&cfg, 64);
  cfg.base = 1e6;
  cfg.max_len = 4096;
  cfg.layout = ROTOR_LAYOUT_MROPE;
  cfg.mrope_section[0] = 8;
  cfg.mrope_section[1] = 12;
  cfg.mrope_section[2] = 12;
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  const uint32_t qh = 4, kvh = 2, d = 64, seq = 12;
  const std::vector<float> q = random_floats(size_t{seq} * qh * d, 1), k = random_floats(size_t{seq} * kvh * d, 2),
                           v = random_floats(size_t{seq} * kvh * d, 3);
  const std::vector<int32_t> ids = mixed_ids(3, seq, 900, 4);
  const size_t cache_bytes = rotor_kv_cache_arena_size(kvh, d, 64, ROTOR_DTYPE_F32);
  const size_t ws_bytes = rotor_attention_workspace_size(qh, kvh, d, seq, 1);
  auto run = [&](const std::vector<int32_t> *axis_ids, uint32_t step, std::vector<float> &out) {
    std::vector<unsigned char> arena(cache_bytes + 64), ws(ws_bytes + 64);
    void *arena_p = arena.data() + (64 - reinterpret_cast<uintptr_t>(arena.data()) % 64) % 64;
    void *ws_p = ws.data() + (64 - reinterpret_cast<uintptr_t>(ws.data()) % 64) % 64;
    rotor_kv_cache *cache = nullptr;
    EXPECT_EQ(rotor_kv_cache_init(&cache, kvh, d, 64, ROTOR_DTYPE_F32, arena_p, cache_bytes), ROTOR_OK);
    out.assign(q.size(), 0.0f);
    for (uint32_t s0 = 0; s0 < seq; s0 += step) {
      const uint32_t n = std::min(step, seq - s0);
      std::vector<float> qs(q.begin() + s0 * qh * d, q.begin() + (s0 + n) * qh * d);
      std::vector<float> ks(k.begin() + s0 * kvh * d, k.begin() + (s0 + n) * kvh * d);
      std::vector<float> vs(v.begin() + s0 * kvh * d, v.begin() + (s0 + n) * kvh * d);
      std::vector<float> os(size_t{n} * qh * d);
      rotor_tensor tq = rotor_tensor_bshd(qs.data(), ROTOR_DTYPE_F32, 1, n, qh, d);
      rotor_tensor tk = rotor_tensor_bshd(ks.data(), ROTOR_DTYPE_F32, 1, n, kvh, d);
      rotor_tensor tv = rotor_tensor_bshd(vs.data(), ROTOR_DTYPE_F32, 1, n, kvh, d);
      rotor_tensor to = rotor_tensor_bshd(os.data(), ROTOR_DTYPE_F32, 1, n, qh, d);
      rotor_status s;
      if (axis_ids) {
        std::vector<int32_t> part(3 * n);
        for (uint32_t a = 0; a < 3; ++a)
          for (uint32_t i = 0; i < n; ++i) part[a * n + i] = (*axis_ids)[a * seq + s0 + i];
        s = rotor_attention_forward_axes(t, &cache, &tq, &tk, &tv, &to, part.data(), 0.125f, ws_p, ws_bytes, nullptr);
      } else {
        s = rotor_attention_forward(t, &cache, &tq, &tk, &tv, &to, 0.125f, ws_p, ws_bytes, nullptr);
      }
      EXPECT_EQ(s, ROTOR_OK);
      std::copy(os.begin(), os.end(), out.begin() + s0 * qh * d);
    }
  };
  std::vector<float> prefill, decode, text_axes, text_plain;
  run(&ids, seq, prefill);
  run(&ids, 1, decode);
  EXPECT_EQ(prefill, decode);
  std::vector<int32_t> text_ids(3 * seq);
  for (uint32_t a = 0; a < 3; ++a)
    for (uint32_t i = 0; i < seq; ++i) text_ids[a * seq + i] = int32_t(i);
  run(&text_ids, seq, text_axes);
  run(nullptr, seq, text_plain);
  EXPECT_EQ(text_axes, text_plain);
  EXPECT_NE(prefill, text_plain);
  rotor_table_destroy(t);

  rotor_config_init(&cfg, 64);
  cfg.scaling = ROTOR_SCALING_DYNAMIC_NTK;
  cfg.factor = 2;
  cfg.original_max_len = 16;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  std::vector<unsigned char> arena(cache_bytes + 64), ws(ws_bytes + 64);
  void *arena_p = arena.data() + (64 - reinterpret_cast<uintptr_t>(arena.data()) % 64) % 64;
  void *ws_p = ws.data() + (64 - reinterpret_cast<uintptr_t>(ws.data()) % 64) % 64;
  rotor_kv_cache *cache = nullptr;
  ASSERT_EQ(rotor_kv_cache_init(&cache, kvh, d, 64, ROTOR_DTYPE_F32, arena_p, cache_bytes), ROTOR_OK);
  std::vector<float> qs(q), ks(k), vs(v), os(q.size());
  rotor_tensor tq = rotor_tensor_bshd(qs.data(), ROTOR_DTYPE_F32, 1, seq, qh, d);
  rotor_tensor tk = rotor_tensor_bshd(ks.data(), ROTOR_DTYPE_F32, 1, seq, kvh, d);
  rotor_tensor tv = rotor_tensor_bshd(vs.data(), ROTOR_DTYPE_F32, 1, seq, kvh, d);
  rotor_tensor to = rotor_tensor_bshd(os.data(), ROTOR_DTYPE_F32, 1, seq, qh, d);
  std::vector<int32_t> one_axis(text_ids.begin(), text_ids.begin() + seq);
  EXPECT_EQ(rotor_attention_forward_axes(t, &cache, &tq, &tk, &tv, &to, one_axis.data(), 0.125f, ws_p, ws_bytes, nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kv_cache_length(cache), 0u);
  rotor_table_destroy(t);
}

}  // namespace
