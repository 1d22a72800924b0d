// rotor_config_from_gguf and rotor_gguf_layers.
//
// Well-formed images, one per architecture rotor has a preset for, hold the keys and tensors
// llama.cpp's converter (convert_hf_to_gguf.py) writes for that model, with the values of the
// model's config.json (tests/data/hf-*.json), written by this file's own GGUF writer
// (support/gguf_builder.hpp); each result is compared field by field with the preset. The one
// expected difference: llama-family files rotate adjacent pairs (the converter permuted the
// Q/K weights), where the Hugging Face checkpoint and its preset rotate halves.
//
// Malformed images (truncated at every length, huge counts, wrong value types, strings and
// tensors past the end, misalignment, unknown versions): each must return an error with a
// reason and leave the caller's config byte for byte as it was. Images are copied into buffers
// of exactly their size, so AddressSanitizer sees any read past the end.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "rotor/rotor.h"
#include "support/gguf_builder.hpp"

namespace {

using rotor_test::GgufBuilder;
using Image = std::vector<uint8_t>;

// ---- Calling the library on an exact-size copy -----------------------------------------------

struct Result {
  rotor_status status;
  rotor_config cfg;
  std::string reason;
};

// The image in a heap block of exactly its size (ASan flags any read past it); `shift` moves it
// off 8-byte alignment to check the 4-byte alignment rule of factor tensors.
class Mapped {
 public:
  explicit Mapped(const Image &image, size_t shift = 0)
      : storage_(new uint8_t[image.size() + shift + 1]), data_(storage_.get() + shift), size_(image.size()) {
    if (!image.empty()) std::memcpy(data_, image.data(), image.size());
  }
  const void *data() const { return data_; }
  size_t size() const { return size_; }

 private:
  std::unique_ptr<uint8_t[]> storage_;
  uint8_t *data_;
  size_t size_;
};

Result read_layer(const Mapped &mapped, uint32_t layer) {
  Result r;
  std::memset(&r.cfg, 0x5a, sizeof r.cfg);
  rotor_config before;
  std::memcpy(&before, &r.cfg, sizeof before);
  r.status = rotor_config_from_gguf(&r.cfg, mapped.data(), mapped.size(), layer);
  r.reason = rotor_last_error_message();
  if (r.status != ROTOR_OK) {
    EXPECT_EQ(std::memcmp(&before, &r.cfg, sizeof before), 0) << "an error changed *cfg: " << r.reason;
    EXPECT_FALSE(r.reason.empty()) << "an error without a reason";
  }
  return r;
}

// Reads layer of an image that must hold a persistent mapping for the factor pointers.
Result read_layer(const Image &image, uint32_t layer = 0) {
  static std::vector<std::unique_ptr<Mapped>> kept;  // factor pointers point into the image
  kept.push_back(std::make_unique<Mapped>(image));
  return read_layer(*kept.back(), layer);
}

rotor_config preset(const char *name) {
  rotor_config cfg;
  EXPECT_EQ(rotor_config_preset(&cfg, name), ROTOR_OK) << name;
  return cfg;
}

// Every field, by name. `pairing_differs`: the llama-family files (see the top of this file).
void expect_same(const rotor_config &got, const rotor_config &want, bool pairing_differs, const std::string &what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.struct_size, want.struct_size);
  EXPECT_EQ(got.rotary_dim, want.rotary_dim);
  if (pairing_differs) {
    EXPECT_EQ(want.pairing, ROTOR_PAIRING_HALF);
    EXPECT_EQ(got.pairing, ROTOR_PAIRING_INTERLEAVED);
  } else {
    EXPECT_EQ(got.pairing, want.pairing);
  }
  EXPECT_EQ(got.base, want.base);
  EXPECT_EQ(got.initial_len, want.initial_len);
  EXPECT_EQ(got.max_len, want.max_len);
  EXPECT_EQ(got.growth, want.growth);
  EXPECT_EQ(got.growth_increment, want.growth_increment);
  EXPECT_EQ(got.growth_margin, want.growth_margin);
  EXPECT_EQ(got.growth_threshold, want.growth_threshold);
  EXPECT_EQ(got.scaling, want.scaling);
  EXPECT_EQ(got.factor, want.factor);
  EXPECT_EQ(got.original_max_len, want.original_max_len);
  EXPECT_EQ(got.ntk_dynamic, want.ntk_dynamic);
  EXPECT_EQ(got.beta_fast, want.beta_fast);
  EXPECT_EQ(got.beta_slow, want.beta_slow);
  EXPECT_EQ(got.mscale, want.mscale);
  EXPECT_EQ(got.mscale_all_dim, want.mscale_all_dim);
  EXPECT_EQ(got.attention_factor, want.attention_factor);
  EXPECT_EQ(got.low_freq_factor, want.low_freq_factor);
  EXPECT_EQ(got.high_freq_factor, want.high_freq_factor);
  EXPECT_EQ(got.layout, want.layout);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(got.mrope_section[i], want.mrope_section[i]) << "mrope_section " << i;
  EXPECT_EQ(got.rope_pairs, want.rope_pairs);
  EXPECT_EQ(got.factor_count, want.factor_count);
  EXPECT_EQ(got.long_factor == nullptr, want.long_factor == nullptr);
  if (got.long_factor != nullptr && want.long_factor != nullptr)
    for (uint32_t i = 0; i < got.rotary_dim / 2; ++i) {
      EXPECT_EQ(got.long_factor[i], want.long_factor[i]) << "long_factor " << i;
      EXPECT_EQ(got.short_factor[i], want.short_factor[i]) << "short_factor " << i;
    }
  // The config must make a table (max_len shortened: llama-4-scout's 10M positions do not fit a
  // 32-bit size_t, where arena_size rightly answers 0).
  rotor_config shortened = got;
  shortened.max_len = shortened.max_len < 4096 ? shortened.max_len : 4096;
  EXPECT_GT(rotor_table_arena_size(&shortened), 0u) << "the config must make a table";
}

// ---- What the converter writes, per model ----------------------------------------------------

// Llama 3.1's rope_freqs as convert_hf_to_gguf.py computes them: in float32 (torch), frequency
// base ** (-2i / dim), divisor 1, factor, or the blend. An independent transcription of the
// converter's arithmetic, not of rotor's.
std::vector<float> converter_rope_freqs(float base, uint32_t dim, float factor, float low, float high, float original) {
  std::vector<float> out;
  const float low_wavelen = original / low, high_wavelen = original / high;
  for (uint32_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(base, float(i) / float(dim));
    const float wavelen = float(2.0 * M_PI) / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0f);
    } else if (wavelen > low_wavelen) {
      out.push_back(factor);
    } else {
      const float smooth = (original / wavelen - low) / (high - low);
      out.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
    }
  }
  return out;
}

GgufBuilder llama_family(const char *arch, uint32_t context, uint32_t blocks, float base, uint32_t dims) {
  GgufBuilder b(arch);
  b.u32(b.key("context_length"), context).u32(b.key("embedding_length"), 4096).u32(b.key("block_count"), blocks);
  b.u32(b.key("attention.head_count"), 32).u32(b.key("attention.head_count_kv"), 8);
  b.f32(b.key("rope.freq_base"), base).u32(b.key("rope.dimension_count"), dims);
  b.f32(b.key("attention.layer_norm_rms_epsilon"), 1e-5f);
  return b;
}

GgufBuilder llama_2_7b() { return llama_family("llama", 4096, 32, 10000.0f, 128); }
GgufBuilder mistral_7b() { return llama_family("llama", 32768, 32, 10000.0f, 128); }
GgufBuilder llama_3_1_8b() {
  GgufBuilder b = llama_family("llama", 131072, 32, 500000.0f, 128);
  b.tensor_f32("rope_freqs.weight", converter_rope_freqs(500000.0f, 128, 8.0f, 1.0f, 4.0f, 8192.0f));
  return b;
}
GgufBuilder llama_4_scout() {
  GgufBuilder b = llama_family("llama4", 10485760, 48, 500000.0f, 128);
  b.u32(b.key("interleave_moe_layer_step"), 1);
  b.tensor_f32("rope_freqs.weight", converter_rope_freqs(500000.0f, 128, 16.0f, 1.0f, 1.0f, 8192.0f));
  return b;
}

GgufBuilder qwen2_7b() {  // no head_dim in config.json: the head is embedding_length / head_count
  GgufBuilder b("qwen2");
  b.u32(b.key("context_length"), 32768).u32(b.key("embedding_length"), 3584).u32(b.key("block_count"), 28);
  b.u32(b.key("attention.head_count"), 28).u32(b.key("attention.head_count_kv"), 4).f32(b.key("rope.freq_base"), 1e6f);
  return b;
}

GgufBuilder qwen2_vl_7b() {
  GgufBuilder b("qwen2vl");
  b.u32(b.key("context_length"), 32768).u32(b.key("embedding_length"), 3584).u32(b.key("block_count"), 28);
  b.u32(b.key("attention.head_count"), 28).f32(b.key("rope.freq_base"), 1e6f);
  b.i32_array(b.key("rope.dimension_sections"), {16, 24, 24, 0});
  return b;
}

GgufBuilder qwen3_vl_8b() {
  GgufBuilder b("qwen3vl");
  b.u32(b.key("context_length"), 262144).u32(b.key("embedding_length"), 4096).u32(b.key("block_count"), 36);
  b.u32(b.key("attention.head_count"), 32).u32(b.key("attention.key_length"), 128).f32(b.key("rope.freq_base"), 5e6f);
  b.i32_array(b.key("rope.dimension_sections"), {24, 20, 20, 0});
  return b;
}

std::vector<float> preset_factors(bool long_set) {
  const rotor_config p = preset("phi-3-mini-128k");
  const float *f = long_set ? p.long_factor : p.short_factor;
  return std::vector<float>(f, f + 48);
}

GgufBuilder phi_3_mini_128k() {
  GgufBuilder b("phi3");
  b.u32(b.key("context_length"), 131072).u32(b.key("rope.scaling.original_context_length"), 4096);
  b.u32(b.key("embedding_length"), 3072).u32(b.key("block_count"), 32).u32(b.key("attention.head_count"), 32);
  b.u32(b.key("rope.dimension_count"), 96).f32(b.key("rope.freq_base"), 10000.0f);
  b.f32(b.key("rope.scaling.attn_factor"), float(std::sqrt(1.0 + std::log(32.0) / std::log(4096.0))));
  b.tensor_f32("rope_factors_long.weight", preset_factors(true));
  b.tensor_f32("rope_factors_short.weight", preset_factors(false));
  return b;
}

GgufBuilder gemma_3_4b() {
  GgufBuilder b("gemma3");
  b.u32(b.key("context_length"), 131072).u32(b.key("embedding_length"), 2560).u32(b.key("block_count"), 34);
  b.u32(b.key("attention.head_count"), 8).u32(b.key("attention.key_length"), 256).u32(b.key("attention.value_length"), 256);
  b.f32(b.key("rope.freq_base"), 1e6f).u32(b.key("attention.sliding_window"), 1024);
  b.str(b.key("rope.scaling.type"), "linear").f32(b.key("rope.scaling.factor"), 8.0f);
  return b;
}

GgufBuilder gemma_2_9b() {
  GgufBuilder b("gemma2");
  b.u32(b.key("context_length"), 8192).u32(b.key("embedding_length"), 3584).u32(b.key("block_count"), 42);
  b.u32(b.key("attention.head_count"), 16).u32(b.key("attention.key_length"), 256).u32(b.key("attention.sliding_window"), 4096);
  return b;
}

GgufBuilder deepseek_v3() {
  GgufBuilder b("deepseek2");
  b.u32(b.key("context_length"), 163840).u32(b.key("embedding_length"), 7168).u32(b.key("block_count"), 61);
  b.u32(b.key("attention.head_count"), 128).u32(b.key("attention.key_length"), 192);
  b.u32(b.key("rope.dimension_count"), 64).f32(b.key("rope.freq_base"), 10000.0f);
  b.str(b.key("rope.scaling.type"), "yarn").f32(b.key("rope.scaling.factor"), 40.0f);
  b.u32(b.key("rope.scaling.original_context_length"), 4096).f32(b.key("rope.scaling.yarn_log_multiplier"), 0.1f);
  return b;
}

GgufBuilder command_r() {
  GgufBuilder b("command-r");
  b.u32(b.key("context_length"), 131072).u32(b.key("embedding_length"), 8192).u32(b.key("block_count"), 40);
  b.u32(b.key("attention.head_count"), 64).f32(b.key("rope.freq_base"), 8e6f);
  return b;
}

GgufBuilder command_r7b() {
  GgufBuilder b("cohere2");
  b.u32(b.key("context_length"), 8192).u32(b.key("embedding_length"), 4096).u32(b.key("block_count"), 32);
  b.u32(b.key("attention.head_count"), 32).f32(b.key("rope.freq_base"), 50000.0f);
  b.u32(b.key("rope.dimension_count"), 128).u32(b.key("attention.sliding_window"), 4096);
  return b;
}

GgufBuilder gpt_neox_20b() {
  GgufBuilder b("gptneox");
  b.u32(b.key("context_length"), 2048).u32(b.key("embedding_length"), 6144).u32(b.key("block_count"), 44);
  b.u32(b.key("attention.head_count"), 64).u32(b.key("rope.dimension_count"), 24);
  return b;
}

GgufBuilder gpt_j_6b() {
  GgufBuilder b("gptj");
  b.u32(b.key("context_length"), 2048).u32(b.key("embedding_length"), 4096).u32(b.key("block_count"), 28);
  b.u32(b.key("attention.head_count"), 16).u32(b.key("rope.dimension_count"), 64);
  return b;
}

GgufBuilder glm_4_9b() {
  GgufBuilder b("glm4");
  b.u32(b.key("context_length"), 131072).u32(b.key("embedding_length"), 4096).u32(b.key("block_count"), 40);
  b.u32(b.key("attention.head_count"), 32).u32(b.key("attention.key_length"), 128);
  b.u32(b.key("rope.dimension_count"), 64).f32(b.key("rope.freq_base"), 10000.0f);
  return b;
}

// ---- Well-formed files, per architecture ----------------------------------------------------

struct Model {
  const char *preset;
  GgufBuilder (*build)();
  bool pairing_differs;
};

const Model kModels[] = {
    {"llama-2-7b", llama_2_7b, true},
    {"llama-3.1-8b", llama_3_1_8b, true},
    {"mistral-7b", mistral_7b, true},
    {"qwen2-7b", qwen2_7b, false},
    {"qwen2-vl-7b", qwen2_vl_7b, false},
    {"qwen3-vl-8b", qwen3_vl_8b, false},
    {"phi-3-mini-128k", phi_3_mini_128k, false},
    {"deepseek-v3", deepseek_v3, false},
    {"command-r", command_r, false},
    {"gpt-neox-20b", gpt_neox_20b, false},
    {"gpt-j-6b", gpt_j_6b, false},
    {"glm-4-9b", glm_4_9b, false},
};

TEST(Gguf, EveryArchitectureMatchesItsPreset) {
  for (const Model &m : kModels)
    for (uint32_t version : {2u, 3u}) {
      GgufBuilder builder = m.build();
      const Result r = read_layer(builder.build(version), 0);
      ASSERT_EQ(r.status, ROTOR_OK) << m.preset << ": " << r.reason;
      expect_same(r.cfg, preset(m.preset), m.pairing_differs, m.preset);
    }
}

TEST(Gguf, LayerTablesMatchThePresetsLayerTables) {
  struct Layered {
    const char *model;
    GgufBuilder (*build)();
    bool pairing_differs;
  };
  const Layered layered[] = {{"gemma-3-4b", gemma_3_4b, false},
                             {"llama-4-scout", llama_4_scout, false},
                             {"command-r7b", command_r7b, false}};
  for (const Layered &m : layered) {
    GgufBuilder builder = m.build();
    const Image image = builder.build();
    const Mapped mapped(image);
    uint32_t layers = 0, preset_layers = 0;
    ASSERT_EQ(rotor_gguf_layers(mapped.data(), mapped.size(), &layers), ROTOR_OK);
    ASSERT_EQ(rotor_preset_layers(m.model, &preset_layers), ROTOR_OK);
    ASSERT_EQ(layers, preset_layers) << m.model;
    for (uint32_t layer = 0; layer < layers; ++layer) {
      const char *table = nullptr;
      ASSERT_EQ(rotor_preset_layer_table(m.model, layer, &table), ROTOR_OK);
      const Result r = read_layer(mapped, layer);
      const std::string what = std::string(m.model) + " layer " + std::to_string(layer);
      if (table == nullptr) {
        EXPECT_EQ(r.status, ROTOR_ERR_NO_ROTARY) << what << ": " << r.reason;
      } else {
        ASSERT_EQ(r.status, ROTOR_OK) << what << ": " << r.reason;
        expect_same(r.cfg, preset(table), m.pairing_differs, what + " (" + table + ")");
      }
    }
  }
}

TEST(Gguf, Gemma2RotatesEveryLayerAlike) {
  // Gemma 2's sliding layers differ in attention only (llama.cpp: swa pattern 2, same base, no
  // scaling): Hugging Face's Gemma2 config has one rope_theta for all layers.
  GgufBuilder builder = gemma_2_9b();
  const Mapped mapped(builder.build());
  for (uint32_t layer : {0u, 1u, 40u, 41u}) {
    const Result r = read_layer(mapped, layer);
    ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
    EXPECT_EQ(r.cfg.rotary_dim, 256u);
    EXPECT_EQ(r.cfg.pairing, ROTOR_PAIRING_HALF);
    EXPECT_EQ(r.cfg.base, 10000.0);
    EXPECT_EQ(r.cfg.max_len, 8192u);
    EXPECT_EQ(r.cfg.scaling, ROTOR_SCALING_NONE);
  }
}

TEST(Gguf, Gemma3WithoutSlidingWindowIsGlobalEverywhere) {
  GgufBuilder builder = gemma_3_4b();
  builder.drop(builder.key("attention.sliding_window"));
  const Result r = read_layer(builder.build(), 0);
  ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
  expect_same(r.cfg, preset("gemma-3-4b/global"), false, "gemma3 without sliding_window");
}

TEST(Gguf, Llama4WithSlidingWindowZeroRotatesEveryLayer) {
  GgufBuilder builder = llama_4_scout();
  builder.u32(builder.key("attention.sliding_window"), 0);
  const Result r = read_layer(builder.build(), 3);
  EXPECT_EQ(r.status, ROTOR_OK) << r.reason;
}

TEST(Gguf, FactorsPointIntoTheImage) {
  GgufBuilder builder = phi_3_mini_128k();
  const Image image = builder.build();
  const Mapped mapped(image);
  const Result r = read_layer(mapped, 0);
  ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
  const uint8_t *base = static_cast<const uint8_t *>(mapped.data());
  EXPECT_EQ(reinterpret_cast<const uint8_t *>(r.cfg.long_factor), base + builder.tensor_at[0].data);
  EXPECT_EQ(reinterpret_cast<const uint8_t *>(r.cfg.short_factor), base + builder.tensor_at[1].data);
  // A table copies them: the image may go after rotor_table_create.
  rotor_table *table = nullptr;
  rotor_config small = r.cfg;
  small.max_len = 8192;
  ASSERT_EQ(rotor_table_create(&table, &small), ROTOR_OK);
  rotor_table_destroy(table);
}

TEST(Gguf, Llama3FormulaNotRecognisedIsServedAsTheFilesDivisors) {
  // Divisors of no known rule: llama.cpp divides each frequency by them at every length, which
  // is LONGROPE with both sets the divisors, factor 1 and L0 = the context length.
  GgufBuilder builder = llama_family("llama", 4096, 2, 10000.0f, 8);
  builder.tensor_f32("rope_freqs.weight", {1.0f, 1.5f, 3.0f, 7.0f});
  const Result r = read_layer(builder.build(), 0);
  ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
  EXPECT_EQ(r.cfg.scaling, ROTOR_SCALING_LONGROPE);
  EXPECT_EQ(r.cfg.factor, 1.0f);
  EXPECT_EQ(r.cfg.original_max_len, 4096u);
  EXPECT_EQ(r.cfg.factor_count, 4u);
  EXPECT_EQ(r.cfg.attention_factor, 0.0f);
  EXPECT_EQ(r.cfg.long_factor, r.cfg.short_factor);
  EXPECT_EQ(r.cfg.long_factor[3], 7.0f);
}

TEST(Gguf, RopeFreqsOfOnesIsNoScaling) {
  GgufBuilder builder = llama_family("llama", 4096, 2, 10000.0f, 8);
  builder.tensor_f32("rope_freqs.weight", {1.0f, 1.0f, 1.0f, 1.0f});
  const Result r = read_layer(builder.build(), 0);
  ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
  EXPECT_EQ(r.cfg.scaling, ROTOR_SCALING_NONE);
}

TEST(Gguf, Llama3RecognitionUsesTheFilesOriginalLength) {
  GgufBuilder builder = llama_family("llama", 131072, 2, 500000.0f, 128);
  builder.u32(builder.key("rope.scaling.original_context_length"), 16384);
  builder.tensor_f32("rope_freqs.weight", converter_rope_freqs(500000.0f, 128, 8.0f, 1.0f, 4.0f, 16384.0f));
  const Result r = read_layer(builder.build(), 0);
  ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
  EXPECT_EQ(r.cfg.scaling, ROTOR_SCALING_LLAMA3);
  EXPECT_EQ(r.cfg.original_max_len, 16384u);
}

TEST(Gguf, ScalingKeys) {
  {  // linear through the old key
    GgufBuilder b = llama_2_7b();
    b.f32(b.key("rope.scale_linear"), 4.0f);
    const Result r = read_layer(b.build());
    ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
    EXPECT_EQ(r.cfg.scaling, ROTOR_SCALING_LINEAR);
    EXPECT_EQ(r.cfg.factor, 4.0f);
  }
  {  // plain YaRN: defaults 32 / 1, no mscale; attn_factor multiplies ggml's 0.1 ln s + 1
    GgufBuilder b = qwen2_7b();
    b.str(b.key("rope.scaling.type"), "yarn").f32(b.key("rope.scaling.factor"), 4.0f);
    b.u32(b.key("rope.scaling.original_context_length"), 32768);
    Result r = read_layer(b.build());
    ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
    EXPECT_EQ(r.cfg.scaling, ROTOR_SCALING_YARN);
    EXPECT_EQ(r.cfg.factor, 4.0f);
    EXPECT_EQ(r.cfg.original_max_len, 32768u);
    EXPECT_EQ(r.cfg.beta_fast, 32.0f);
    EXPECT_EQ(r.cfg.beta_slow, 1.0f);
    EXPECT_EQ(r.cfg.attention_factor, 0.0f);
    b.f32(b.key("rope.scaling.attn_factor"), 0.5f);
    r = read_layer(b.build());
    ASSERT_EQ(r.status, ROTOR_OK) << r.reason;
    EXPECT_FLOAT_EQ(r.cfg.attention_factor, float(0.5 * (0.1 * std::log(4.0) + 1.0)));
  }
  {  // "none" and linear 1 are no scaling
    GgufBuilder b = llama_2_7b();
    b.str(b.key("rope.scaling.type"), "none").f32(b.key("rope.scaling.factor"), 8.0f);
    EXPECT_EQ(read_layer(b.build()).cfg.scaling, ROTOR_SCALING_NONE);
  }
}

TEST(Gguf, WhatRotorCannotServeIsRefusedByName) {
  struct Case {
    const char *what;
    GgufBuilder builder;
    rotor_status status;
    const char *reason_part;
  };
  std::vector<Case> cases;
  {
    GgufBuilder b = llama_2_7b();
    b.str(b.key("rope.scaling.type"), "su-dynamic");
    cases.push_back({"unknown scaling type", b, ROTOR_ERR_UNSUPPORTED, "rope.scaling.type"});
  }
  {
    GgufBuilder b = qwen2_7b();
    b.str(b.key("rope.scaling.type"), "yarn").f32(b.key("rope.scaling.factor"), 4.0f).f32(b.key("rope.scaling.yarn_ext_factor"), 0.5f);
    cases.push_back({"yarn ext factor", b, ROTOR_ERR_UNSUPPORTED, "yarn_ext_factor"});
  }
  {
    GgufBuilder b = qwen2_vl_7b();
    b.drop(b.key("rope.dimension_sections")).i32_array(b.key("rope.dimension_sections"), {16, 24, 16, 8});
    cases.push_back({"fourth M-RoPE section", b, ROTOR_ERR_UNSUPPORTED, "fourth section"});
  }
  {
    GgufBuilder b = qwen2_vl_7b();
    b.drop(b.key("rope.dimension_sections"));
    cases.push_back({"M-RoPE without sections", b, ROTOR_ERR_INVALID_ARGUMENT, "dimension_sections"});
  }
  {
    GgufBuilder b("phi3");
    b.u32(b.key("context_length"), 131072).u32(b.key("rope.scaling.original_context_length"), 4096);
    b.u32(b.key("block_count"), 1).u32(b.key("rope.dimension_count"), 4);
    b.tensor("rope_factors_long.weight", 1, {2}, {0, 60, 0, 60});  // f16 1.0, 1.0
    b.tensor("rope_factors_short.weight", 1, {2}, {0, 60, 0, 60});
    cases.push_back({"f16 factors", b, ROTOR_ERR_UNSUPPORTED, "rope_factors_long.weight is not f32"});
  }
  {
    GgufBuilder b = phi_3_mini_128k();
    b.drop(b.key("rope.scaling.original_context_length"));
    cases.push_back({"LongRoPE without original length", b, ROTOR_ERR_INVALID_ARGUMENT, "original_context_length"});
  }
  {
    GgufBuilder b("phi3");
    b.u32(b.key("context_length"), 131072).u32(b.key("rope.scaling.original_context_length"), 4096);
    b.u32(b.key("block_count"), 1).u32(b.key("rope.dimension_count"), 4);
    b.tensor_f32("rope_factors_long.weight", {1.0f, 2.0f});
    cases.push_back({"one LongRoPE set", b, ROTOR_ERR_INVALID_ARGUMENT, "only one of"});
  }
  {
    GgufBuilder b = phi_3_mini_128k();
    b.drop(b.key("rope.dimension_count")).u32(b.key("rope.dimension_count"), 64);
    cases.push_back({"factor count", b, ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim / 2"});
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop("general.architecture").str("general.architecture", "some-new-arch");
    cases.push_back({"unknown architecture", b, ROTOR_ERR_UNSUPPORTED, "architecture"});
  }
  {
    GgufBuilder b("gpt2");
    b.u32(b.key("context_length"), 1024).u32(b.key("block_count"), 12);
    cases.push_back({"no rotary at all", b, ROTOR_ERR_NO_ROTARY, "no rotary"});
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop(b.key("context_length"));
    cases.push_back({"missing context length", b, ROTOR_ERR_INVALID_ARGUMENT, "lacks {arch}.context_length"});
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop(b.key("rope.dimension_count")).drop(b.key("embedding_length"));
    cases.push_back({"no way to the rotary dims", b, ROTOR_ERR_INVALID_ARGUMENT, "rope.dimension_count"});
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop(b.key("rope.dimension_count")).u32(b.key("rope.dimension_count"), 7);
    cases.push_back({"odd rotary dims", b, ROTOR_ERR_INVALID_ARGUMENT, "rotary_dim"});
  }
  {
    GgufBuilder b = llama_2_7b();
    b.u32(b.key("context_length"), 8192);
    cases.push_back({"a key twice", b, ROTOR_ERR_INVALID_ARGUMENT, "twice"});
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop("general.architecture");
    cases.push_back({"no architecture", b, ROTOR_ERR_INVALID_ARGUMENT, "general.architecture"});
  }
  for (Case &c : cases) {
    const Result r = read_layer(c.builder.build());
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.reason;
    EXPECT_NE(r.reason.find(c.reason_part), std::string::npos) << c.what << ": " << r.reason;
  }
}

TEST(Gguf, LayerArgumentsAndNoRotaryLeaveTheConfig) {
  GgufBuilder builder = llama_4_scout();
  const Mapped mapped(builder.build());
  EXPECT_EQ(read_layer(mapped, 47).status, ROTOR_ERR_NO_ROTARY);
  EXPECT_EQ(read_layer(mapped, 46).status, ROTOR_OK);
  const Result past = read_layer(mapped, 48);
  EXPECT_EQ(past.status, ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_NE(past.reason.find("block_count"), std::string::npos);
  EXPECT_STREQ(rotor_status_string(ROTOR_ERR_NO_ROTARY), "this layer has no rotary embedding: rotate nothing");

  rotor_config cfg;
  EXPECT_EQ(rotor_config_from_gguf(&cfg, nullptr, 10, 0), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_from_gguf_sized(nullptr, sizeof cfg, mapped.data(), mapped.size(), 0), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_config_from_gguf_sized(&cfg, 7, mapped.data(), mapped.size(), 0), ROTOR_ERR_INVALID_ARGUMENT);
  uint32_t layers = 77;
  EXPECT_EQ(rotor_gguf_layers(nullptr, 10, &layers), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_gguf_layers(mapped.data(), mapped.size(), nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(layers, 77u);
}

TEST(Gguf, OlderStructs) {
  // A 1.0-size struct cannot hold M-RoPE sections: refused, not filled without them.
  GgufBuilder vl = qwen2_vl_7b();
  const Mapped mapped(vl.build());
  const size_t size_1_0 = offsetof(rotor_config, short_factor) + sizeof(const float *);
  rotor_config cfg;
  std::memset(&cfg, 0x77, sizeof cfg);
  const rotor_config before = cfg;
  EXPECT_EQ(rotor_config_from_gguf_sized(&cfg, size_1_0, mapped.data(), mapped.size(), 0), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(std::memcmp(&cfg, &before, sizeof cfg), 0);
  // A 1-D model fits and is written only up to the caller's size.
  GgufBuilder llama = llama_2_7b();
  const Mapped plain(llama.build());
  EXPECT_EQ(rotor_config_from_gguf_sized(&cfg, size_1_0, plain.data(), plain.size(), 0), ROTOR_OK);
  EXPECT_EQ(cfg.struct_size, size_1_0);
  EXPECT_EQ(std::memcmp(reinterpret_cast<uint8_t *>(&cfg) + size_1_0, reinterpret_cast<const uint8_t *>(&before) + size_1_0,
                        sizeof cfg - size_1_0),
            0);
}

TEST(Gguf, MisalignedFactorsAreRefused) {
  GgufBuilder builder = phi_3_mini_128k();
  const Image image = builder.build();
  const Mapped shifted(image, 1);  // the factor tensors now sit at odd addresses
  const Result r = read_layer(shifted, 0);
  EXPECT_EQ(r.status, ROTOR_ERR_UNSUPPORTED);
  EXPECT_NE(r.reason.find("4-byte aligned"), std::string::npos) << r.reason;
}

// ---- Malformed images ------------------------------------------------------------------------

void expect_refused(const Image &image, const std::string &what, rotor_status want = ROTOR_ERR_INVALID_ARGUMENT) {
  const Mapped mapped(image);
  const Result r = read_layer(mapped, 0);
  EXPECT_EQ(r.status, want) << what << ": " << r.reason;
  uint32_t layers = 12345;
  const rotor_status layers_status = rotor_gguf_layers(mapped.data(), mapped.size(), &layers);
  if (layers_status != ROTOR_OK) {
    EXPECT_EQ(layers, 12345u) << what;
  }
}

TEST(GgufMalformed, TruncatedAtEveryLength) {
  for (GgufBuilder builder : {llama_3_1_8b(), phi_3_mini_128k(), qwen2_vl_7b()}) {
    builder.str_array("tokenizer.ggml.tokens", {"a", "bb", "ccc"});
    const Image image = builder.build();
    ASSERT_EQ(read_layer(image).status, ROTOR_OK);
    for (size_t length = 0; length < image.size(); ++length) {
      const Image cut(image.begin(), image.begin() + long(length));
      const Mapped mapped(cut);
      const Result r = read_layer(mapped, 0);
      ASSERT_NE(r.status, ROTOR_OK) << "accepted an image cut to " << length << " of " << image.size() << " bytes";
      uint32_t layers = 9;
      ASSERT_NE(rotor_gguf_layers(mapped.data(), mapped.size(), &layers), ROTOR_OK) << "cut to " << length;
      ASSERT_EQ(layers, 9u);
    }
  }
}

TEST(GgufMalformed, HeaderFields) {
  GgufBuilder builder = llama_2_7b();
  const Image good = builder.build();
  Image bad = good;
  bad[0] = 'X';
  expect_refused(bad, "bad magic");
  for (uint32_t version : {0u, 4u, 0xffffffffu}) {
    bad = good;
    GgufBuilder::put(bad, 4, version, 4);
    expect_refused(bad, "unknown version " + std::to_string(version), version == 0 ? ROTOR_ERR_UNSUPPORTED : ROTOR_ERR_INVALID_ARGUMENT);
  }
  bad = good;
  GgufBuilder::put(bad, 4, 1, 4);
  expect_refused(bad, "version 1", ROTOR_ERR_UNSUPPORTED);
  bad = good;
  GgufBuilder::put(bad, 4, 0x03000000u, 4);  // a big-endian file's version
  expect_refused(bad, "big-endian", ROTOR_ERR_UNSUPPORTED);
  expect_refused(Image{}, "empty image");
  expect_refused(Image{'G', 'G', 'U'}, "three bytes");
}

TEST(GgufMalformed, HugeCounts) {
  GgufBuilder builder = llama_2_7b();
  builder.str_array("tokenizer.ggml.tokens", {"a", "bb"});
  builder.i32_array("tokenizer.ggml.token_type", {1, 2, 3});
  const Image good = builder.build();
  const uint64_t huge[] = {UINT64_MAX, UINT64_MAX - 7, uint64_t(1) << 63, uint64_t(1) << 32,
                           (uint64_t(1) << 32) + 8, uint64_t(SIZE_MAX), uint64_t(SIZE_MAX) - 3, good.size(),
                           good.size() / 13 + 1};
  for (uint64_t count : huge) {
    const std::string n = std::to_string(count);
    Image bad = good;
    GgufBuilder::put(bad, 16, count, 8);
    expect_refused(bad, "kv count " + n);
    bad = good;
    GgufBuilder::put(bad, 8, count, 8);
    expect_refused(bad, "tensor count " + n);
    bad = good;  // the first key's length
    GgufBuilder::put(bad, builder.kv_at[0].key_length, count, 8);
    expect_refused(bad, "key length " + n);
    bad = good;  // a string value's length
    GgufBuilder::put(bad, builder.kv("general.architecture").value, count, 8);
    expect_refused(bad, "string length " + n);
    bad = good;  // array counts (strings, then fixed-size elements)
    GgufBuilder::put(bad, builder.kv("tokenizer.ggml.tokens").value + 4, count, 8);
    expect_refused(bad, "string array count " + n);
    bad = good;
    GgufBuilder::put(bad, builder.kv("tokenizer.ggml.token_type").value + 4, count, 8);
    expect_refused(bad, "i32 array count " + n);
    bad = good;  // a string inside an array
    GgufBuilder::put(bad, builder.kv("tokenizer.ggml.tokens").value + 12, count, 8);
    expect_refused(bad, "string in an array " + n);
  }
}

TEST(GgufMalformed, ValueTypes) {
  GgufBuilder builder = llama_2_7b();
  builder.i32_array("tokenizer.ggml.token_type", {1, 2});
  const Image good = builder.build();
  Image bad = good;
  GgufBuilder::put(bad, builder.kv(builder.key("block_count")).type, 13, 4);
  expect_refused(bad, "unknown value type");
  bad = good;
  GgufBuilder::put(bad, builder.kv("tokenizer.ggml.token_type").value, 9, 4);
  expect_refused(bad, "array of arrays");
  bad = good;
  GgufBuilder::put(bad, builder.kv("tokenizer.ggml.token_type").value, 99, 4);
  expect_refused(bad, "array of an unknown type");
}

TEST(GgufMalformed, WrongTypeForEveryKeyRead) {
  // Each key the reader uses, given as a string (and integer keys as a float, float keys as a
  // bool): refused, and the reason names the key.
  const char *const integer_keys[] = {"context_length", "block_count", "rope.dimension_count",
                                      "rope.scaling.original_context_length", "attention.sliding_window"};
  const char *const float_keys[] = {"rope.freq_base", "rope.scaling.factor", "rope.scaling.attn_factor",
                                    "rope.scaling.yarn_log_multiplier", "rope.scaling.yarn_beta_fast",
                                    "rope.scaling.yarn_beta_slow", "rope.scaling.yarn_ext_factor",
                                    "rope.scaling.yarn_attn_factor"};
  auto base = [] {
    GgufBuilder b = deepseek_v3();
    b.u32(b.key("attention.sliding_window"), 0);
    return b;
  };
  for (const char *suffix : integer_keys) {
    for (int variant = 0; variant < 3; ++variant) {
      GgufBuilder b = base();
      b.drop(b.key(suffix));
      if (variant == 0) b.str(b.key(suffix), "4096");
      if (variant == 1) b.f32(b.key(suffix), 4096.0f);
      if (variant == 2) b.i32(b.key(suffix), -1);
      const Result r = read_layer(b.build());
      EXPECT_EQ(r.status, ROTOR_ERR_INVALID_ARGUMENT) << suffix << " variant " << variant;
      EXPECT_NE(r.reason.find(suffix), std::string::npos) << suffix << ": " << r.reason;
    }
  }
  for (const char *suffix : float_keys) {
    for (int variant = 0; variant < 2; ++variant) {
      GgufBuilder b = base();
      b.drop(b.key(suffix));
      if (variant == 0) b.str(b.key(suffix), "1.0");
      if (variant == 1) b.boolean(b.key(suffix), true);
      const Result r = read_layer(b.build());
      EXPECT_EQ(r.status, ROTOR_ERR_INVALID_ARGUMENT) << suffix << " variant " << variant;
      EXPECT_NE(r.reason.find(suffix), std::string::npos) << suffix << ": " << r.reason;
    }
  }
  {
    GgufBuilder b = deepseek_v3();
    b.drop(b.key("rope.scaling.type")).u32(b.key("rope.scaling.type"), 1);
    const Result r = read_layer(b.build());
    EXPECT_EQ(r.status, ROTOR_ERR_INVALID_ARGUMENT);
    EXPECT_NE(r.reason.find("rope.scaling.type"), std::string::npos) << r.reason;
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop("general.architecture").u32("general.architecture", 1);
    EXPECT_EQ(read_layer(b.build()).status, ROTOR_ERR_INVALID_ARGUMENT);
  }
  {
    GgufBuilder b = qwen2_vl_7b();
    b.drop(b.key("rope.dimension_sections")).str(b.key("rope.dimension_sections"), "16,24,24");
    EXPECT_EQ(read_layer(b.build()).status, ROTOR_ERR_INVALID_ARGUMENT);
  }
  {
    GgufBuilder b = qwen2_7b();
    b.drop(b.key("attention.head_count")).str(b.key("attention.head_count"), "28");
    EXPECT_EQ(read_layer(b.build()).status, ROTOR_ERR_INVALID_ARGUMENT);
  }
  {
    GgufBuilder b = llama_2_7b();
    b.drop(b.key("rope.freq_base")).f32(b.key("rope.freq_base"), std::nanf(""));
    EXPECT_EQ(read_layer(b.build()).status, ROTOR_ERR_INVALID_ARGUMENT);
  }
}

TEST(GgufMalformed, Tensors) {
  GgufBuilder builder = phi_3_mini_128k();
  const Image good = builder.build();
  const GgufBuilder::TensorAt &t = builder.tensor_at[1];
  Image bad = good;
  GgufBuilder::put(bad, t.offset, uint64_t(1) << 40, 8);
  expect_refused(bad, "offset past the end");
  bad = good;
  GgufBuilder::put(bad, t.offset, UINT64_MAX - 31, 8);
  expect_refused(bad, "offset that overflows");
  bad = good;
  GgufBuilder::put(bad, t.offset, 256, 8);  // aligned, but the data runs past the end
  expect_refused(bad, "data past the end");
  bad = good;
  GgufBuilder::put(bad, t.offset, 4, 8);
  expect_refused(bad, "misaligned offset");
  bad = good;
  GgufBuilder::put(bad, t.extents, 1000000, 8);
  expect_refused(bad, "extent past the end");
  bad = good;
  GgufBuilder::put(bad, t.extents, UINT64_MAX, 8);
  expect_refused(bad, "negative extent");
  bad = good;
  GgufBuilder::put(bad, t.dims, 5, 4);
  expect_refused(bad, "five dims");
  bad = good;
  GgufBuilder::put(bad, t.dims, 0xffffffffu, 4);
  expect_refused(bad, "huge dims");
  bad = good;
  GgufBuilder::put(bad, t.type, 2, 4);  // q4_0 needs blocks of 32 elements
  expect_refused(bad, "extent not a multiple of the block");
  bad = good;
  GgufBuilder::put(bad, t.name_length, UINT64_MAX, 8);
  expect_refused(bad, "tensor name length");
  {  // element count overflow across dims
    GgufBuilder b = llama_2_7b();
    b.tensor("big", 0, {uint64_t(1) << 40, uint64_t(1) << 40}, {});
    expect_refused(b.build(), "element count overflow");
  }
  {  // a type rotor cannot size: accepted, but not read
    GgufBuilder b = llama_2_7b();
    b.tensor("future", 200, {8}, std::vector<uint8_t>(32, 0));
    EXPECT_EQ(read_layer(b.build()).status, ROTOR_OK);
  }
}

TEST(GgufMalformed, Alignment) {
  GgufBuilder builder = phi_3_mini_128k();
  Image image = builder.build(3, 64);
  EXPECT_EQ(read_layer(image).status, ROTOR_OK) << "general.alignment 64 is valid";
  builder = phi_3_mini_128k();
  expect_refused(builder.build(3, 3), "alignment 3");
  builder = phi_3_mini_128k();
  expect_refused(builder.build(3, 0), "alignment 0");
  GgufBuilder b = phi_3_mini_128k();
  b.str("general.alignment", "32");
  expect_refused(b.build(), "alignment as a string");
}

TEST(GgufMalformed, EveryByteChangedStaysSafe) {
  // Each byte set to 0x00, 0xff and 0x80 in turn: any status, and *cfg untouched unless OK.
  GgufBuilder builder = phi_3_mini_128k();
  builder.str_array("tokenizer.ggml.tokens", {"x", "yz"});
  const Image good = builder.build();
  for (size_t i = 0; i < good.size(); ++i)
    for (uint8_t value : {uint8_t(0x00), uint8_t(0xff), uint8_t(0x80)}) {
      Image bad = good;
      bad[i] = value;
      const Mapped mapped(bad);
      (void)read_layer(mapped, 0);
      uint32_t layers;
      (void)rotor_gguf_layers(mapped.data(), mapped.size(), &layers);
    }
}

}  // namespace
