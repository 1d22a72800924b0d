// GGUF keys and tensors -> rotor_config, per architecture and layer (docs/gguf.md).
#include "model/gguf_config.hpp"

#include <cmath>
#include <cstring>

#include "common/last_error.hpp"
#include "table/config.hpp"

namespace rotor {
namespace {

constexpr rotor_status kInvalid = ROTOR_ERR_INVALID_ARGUMENT;
constexpr rotor_status kUnsupported = ROTOR_ERR_UNSUPPORTED;

// ---- Architectures ---------------------------------------------------------------------------

// How an architecture rotates (llama.cpp's llama_model_rope_type): NORM rotates adjacent pairs
// (rotor INTERLEAVED), NEOX halves (HALF), MROPE / IMROPE the Qwen2-VL / Qwen3-VL sections
// (rotor's M-RoPE layouts, halves), NONE no rotary embedding at all. GLM4 is NORM unless the file
// carries M-RoPE sections (GLM-4V), as llama.cpp's hparams.use_mrope() decides.
enum class Rotation { kNone, kNorm, kNeox, kMrope, kImrope, kGlm4 };

// Which layers differ (llama.cpp load_hparams and the model graphs):
//   kSame     every layer rotates alike (Gemma 2's sliding layers too: same base, no scaling)
//   kGemma3   with attention.sliding_window > 0, layer i is sliding when i % P < P - 1
//             (P = attention.sliding_window_pattern, default 6): base rope.freq_base_swa
//             (default 10000), no scaling; the others use freq_base and the file's scaling
//   kCohere2  layers with i % P == P - 1 (P as above, default 4) are full attention without
//             rotary embedding
//   kLlama4   layers with (i + 1) % 4 == 0 have no rotary embedding, unless
//             attention.sliding_window is present and 0 (llama.cpp: every layer rotates)
//   kEvery4th layers with (i + 1) % 4 == 0 have no rotary embedding (SmolLM3; llama.cpp sets
//             n_no_rope_layer_step = 4 without a key)
enum class LayerRule { kSame, kGemma3, kCohere2, kLlama4, kEvery4th };

struct Architecture {
  const char *name;  // general.architecture, as gguf-py's MODEL_ARCH_NAMES spells it
  Rotation rotation;
  LayerRule layers;
};

const Architecture kArchitectures[] = {
    // NORM: adjacent pairs. llama.cpp's converter permutes the Q/K weights of llama-family
    // checkpoints (Llama 2/3, Mistral, ...) so that they rotate adjacent pairs.
    {"llama", Rotation::kNorm, LayerRule::kSame},
    {"llama4", Rotation::kNorm, LayerRule::kLlama4},
    {"smollm3", Rotation::kNorm, LayerRule::kEvery4th},
    {"deci", Rotation::kNorm, LayerRule::kSame},
    {"baichuan", Rotation::kNorm, LayerRule::kSame},
    {"starcoder", Rotation::kNorm, LayerRule::kSame},
    {"internlm2", Rotation::kNorm, LayerRule::kSame},
    {"minicpm", Rotation::kNorm, LayerRule::kSame},
    {"xverse", Rotation::kNorm, LayerRule::kSame},
    {"command-r", Rotation::kNorm, LayerRule::kSame},
    {"cohere2", Rotation::kNorm, LayerRule::kCohere2},
    {"olmo", Rotation::kNorm, LayerRule::kSame},
    {"arctic", Rotation::kNorm, LayerRule::kSame},
    {"deepseek", Rotation::kNorm, LayerRule::kSame},
    {"deepseek2", Rotation::kNorm, LayerRule::kSame},
    {"plm", Rotation::kNorm, LayerRule::kSame},
    {"chatglm", Rotation::kNorm, LayerRule::kSame},
    {"glm4", Rotation::kGlm4, LayerRule::kSame},
    {"granite", Rotation::kNorm, LayerRule::kSame},
    {"granitemoe", Rotation::kNorm, LayerRule::kSame},
    {"chameleon", Rotation::kNorm, LayerRule::kSame},
    {"bailingmoe", Rotation::kNorm, LayerRule::kSame},
    {"arcee", Rotation::kNorm, LayerRule::kSame},
    {"ernie4_5", Rotation::kNorm, LayerRule::kSame},
    {"ernie4_5-moe", Rotation::kNorm, LayerRule::kSame},
    {"mistral3", Rotation::kNorm, LayerRule::kSame},
    // GPT-J: llama.cpp has no GPT-J graph (its table lists gptj without RoPE); GPT-J's own code
    // (rotate_every_two) rotates adjacent pairs over rope.dimension_count dims.
    {"gptj", Rotation::kNorm, LayerRule::kSame},
    // NEOX: halves.
    {"falcon", Rotation::kNeox, LayerRule::kSame},
    {"grok", Rotation::kNeox, LayerRule::kSame},
    {"dbrx", Rotation::kNeox, LayerRule::kSame},
    {"stablelm", Rotation::kNeox, LayerRule::kSame},
    {"bitnet", Rotation::kNeox, LayerRule::kSame},
    {"qwen", Rotation::kNeox, LayerRule::kSame},
    {"qwen2", Rotation::kNeox, LayerRule::kSame},
    {"qwen2moe", Rotation::kNeox, LayerRule::kSame},
    {"qwen3", Rotation::kNeox, LayerRule::kSame},
    {"qwen3moe", Rotation::kNeox, LayerRule::kSame},
    {"olmo2", Rotation::kNeox, LayerRule::kSame},
    {"olmoe", Rotation::kNeox, LayerRule::kSame},
    {"phi2", Rotation::kNeox, LayerRule::kSame},
    {"phi3", Rotation::kNeox, LayerRule::kSame},
    {"phimoe", Rotation::kNeox, LayerRule::kSame},
    {"gemma", Rotation::kNeox, LayerRule::kSame},
    {"gemma2", Rotation::kNeox, LayerRule::kSame},
    {"gemma3", Rotation::kNeox, LayerRule::kGemma3},
    {"starcoder2", Rotation::kNeox, LayerRule::kSame},
    {"openelm", Rotation::kNeox, LayerRule::kSame},
    {"gptneox", Rotation::kNeox, LayerRule::kSame},
    {"codeshell", Rotation::kNeox, LayerRule::kSame},
    {"nemotron", Rotation::kNeox, LayerRule::kSame},
    {"exaone", Rotation::kNeox, LayerRule::kSame},
    {"minicpm3", Rotation::kNeox, LayerRule::kSame},
    {"dots1", Rotation::kNeox, LayerRule::kSame},
    {"hunyuan-moe", Rotation::kNeox, LayerRule::kSame},
    {"hunyuan-dense", Rotation::kNeox, LayerRule::kSame},
    {"seed_oss", Rotation::kNeox, LayerRule::kSame},
    // M-RoPE.
    {"qwen2vl", Rotation::kMrope, LayerRule::kSame},
    {"qwen3vl", Rotation::kImrope, LayerRule::kSame},
    {"qwen3vlmoe", Rotation::kImrope, LayerRule::kSame},
    // No rotary embedding (learned or ALiBi positions, recurrent models).
    {"gpt2", Rotation::kNone, LayerRule::kSame},
    {"mpt", Rotation::kNone, LayerRule::kSame},
    {"refact", Rotation::kNone, LayerRule::kSame},
    {"bloom", Rotation::kNone, LayerRule::kSame},
    {"jais", Rotation::kNone, LayerRule::kSame},
    {"mamba", Rotation::kNone, LayerRule::kSame},
};

// ---- Keys ------------------------------------------------------------------------------------

// The {arch}.* keys read, each with the reasons rotor_last_error_message gives (static strings
// that name the key, since the library never formats text).
enum Key {
  kContextLength,
  kBlockCount,
  kEmbeddingLength,
  kHeadCount,
  kKeyLength,
  kKeyLengthSwa,
  kDimensionCount,
  kDimensionCountSwa,
  kDimensionSections,
  kFreqBase,
  kFreqBaseSwa,
  kScalingType,
  kScalingFactor,
  kScaleLinear,
  kAttnFactor,
  kOriginalContext,
  kYarnLogMultiplier,
  kYarnExtFactor,
  kYarnAttnFactor,
  kYarnBetaFast,
  kYarnBetaSlow,
  kSlidingWindow,
  kSlidingWindowPattern,
  kKeyCount
};

struct KeySpec {
  const char *suffix;      // after "{arch}."
  const char *missing;     // the reason when a required key is absent
  const char *wrong_type;  // the reason when its value has a type that does not fit
};

const KeySpec kKeys[kKeyCount] = {
    {"context_length", "the GGUF file lacks {arch}.context_length", "{arch}.context_length is not a u32"},
    {"block_count", "the GGUF file lacks {arch}.block_count", "{arch}.block_count is not a u32"},
    {"embedding_length", "", "{arch}.embedding_length is not a u32"},
    {"attention.head_count", "", "{arch}.attention.head_count is not a u32 (or an array of them with one per layer)"},
    {"attention.key_length", "", "{arch}.attention.key_length is not a u32"},
    {"attention.key_length_swa", "", "{arch}.attention.key_length_swa is not a u32"},
    {"rope.dimension_count",
     "the GGUF file lacks {arch}.rope.dimension_count (and attention.key_length, and embedding_length / "
     "attention.head_count)",
     "{arch}.rope.dimension_count is not a u32"},
    {"rope.dimension_count_swa", "", "{arch}.rope.dimension_count_swa is not a u32"},
    {"rope.dimension_sections", "the GGUF file lacks {arch}.rope.dimension_sections (M-RoPE)",
     "{arch}.rope.dimension_sections is not an array of 3 or 4 non-negative integers"},
    {"rope.freq_base", "", "{arch}.rope.freq_base is not a float"},
    {"rope.freq_base_swa", "", "{arch}.rope.freq_base_swa is not a float"},
    {"rope.scaling.type", "", "{arch}.rope.scaling.type is not a string"},
    {"rope.scaling.factor", "", "{arch}.rope.scaling.factor is not a float"},
    {"rope.scale_linear", "", "{arch}.rope.scale_linear is not a float"},
    {"rope.scaling.attn_factor", "", "{arch}.rope.scaling.attn_factor is not a float"},
    {"rope.scaling.original_context_length",
     "the GGUF file lacks {arch}.rope.scaling.original_context_length (LongRoPE needs it)",
     "{arch}.rope.scaling.original_context_length is not a u32"},
    {"rope.scaling.yarn_log_multiplier", "", "{arch}.rope.scaling.yarn_log_multiplier is not a float"},
    {"rope.scaling.yarn_ext_factor", "", "{arch}.rope.scaling.yarn_ext_factor is not a float"},
    {"rope.scaling.yarn_attn_factor", "", "{arch}.rope.scaling.yarn_attn_factor is not a float"},
    {"rope.scaling.yarn_beta_fast", "", "{arch}.rope.scaling.yarn_beta_fast is not a float"},
    {"rope.scaling.yarn_beta_slow", "", "{arch}.rope.scaling.yarn_beta_slow is not a float"},
    {"attention.sliding_window", "", "{arch}.attention.sliding_window is not a u32"},
    {"attention.sliding_window_pattern", "",
     "{arch}.attention.sliding_window_pattern is not a u32 (or an array with one entry per layer)"},
};

// The tensors read (llama.cpp's LLM_TENSOR_ROPE_FREQS, _ROPE_FACTORS_LONG, _ROPE_FACTORS_SHORT).
enum Tensor { kRopeFreqs, kFactorsLong, kFactorsShort, kTensorCount };
const char *const kTensorNames[kTensorCount] = {"rope_freqs.weight", "rope_factors_long.weight",
                                                "rope_factors_short.weight"};

// What one pass over the pairs and one over the tensor infos found.
struct Found {
  const Architecture *architecture = nullptr;
  GgufValue values[kKeyCount];
  bool has[kKeyCount] = {};
  GgufTensor tensors[kTensorCount];
  bool has_tensor[kTensorCount] = {};
};

// "{arch}.suffix" == key, without building the string.
bool is_arch_key(const GgufString &key, const GgufString &arch, const char *suffix) {
  const size_t suffix_length = std::strlen(suffix);
  if (key.length != arch.length + 1 + suffix_length) return false;
  // Both strings lie inside the image, so their lengths fit in size_t (32-bit targets too).
  const size_t arch_length = static_cast<size_t>(arch.length);
  return std::memcmp(key.chars, arch.chars, arch_length) == 0 && key.chars[arch_length] == '.' &&
         std::memcmp(key.chars + arch_length + 1, suffix, suffix_length) == 0;
}

rotor_status find_architecture(const GgufImage &image, GgufString *arch_out, const Architecture **out) {
  GgufValue value;
  int seen = 0;
  image.each_kv([&](const GgufString &key, const GgufValue &v) {
    if (key.equals("general.architecture")) {
      value = v;
      ++seen;
    }
    return true;
  });
  if (seen == 0) return fail(kInvalid, "the GGUF file lacks general.architecture");
  if (seen > 1) return fail(kInvalid, "the GGUF file holds general.architecture twice");
  if (!gguf_string(value, arch_out)) return fail(kInvalid, "general.architecture is not a string");
  for (const Architecture &architecture : kArchitectures)
    if (arch_out->equals(architecture.name)) {
      *out = &architecture;
      return ROTOR_OK;
    }
  return fail(kUnsupported, "general.architecture names an architecture rotor does not know (docs/gguf.md lists them)");
}

rotor_status find_everything(const GgufImage &image, Found *found) {
  GgufString arch;
  const rotor_status status = find_architecture(image, &arch, &found->architecture);
  if (status != ROTOR_OK) return status;
  bool duplicate = false;
  image.each_kv([&](const GgufString &key, const GgufValue &value) {
    for (int k = 0; k < kKeyCount; ++k)
      if (is_arch_key(key, arch, kKeys[k].suffix)) {
        duplicate = duplicate || found->has[k];
        found->has[k] = true;
        found->values[k] = value;
      }
    return true;
  });
  if (duplicate) return fail(kInvalid, "the GGUF file holds one of the {arch}.* keys rotor reads twice");
  image.each_tensor([&](const GgufTensor &tensor) {
    for (int t = 0; t < kTensorCount; ++t)
      if (tensor.name.equals(kTensorNames[t])) {
        duplicate = duplicate || found->has_tensor[t];
        found->has_tensor[t] = true;
        found->tensors[t] = tensor;
      }
    return true;
  });
  if (duplicate) return fail(kInvalid, "the GGUF file holds one of the rope_* tensors twice");
  return ROTOR_OK;
}

// ---- Typed reads of the keys -----------------------------------------------------------------

rotor_status read_u32(const Found &found, Key key, bool required, uint32_t fallback, uint32_t *out) {
  if (!found.has[key]) {
    if (required) return fail(kInvalid, kKeys[key].missing);
    *out = fallback;
    return ROTOR_OK;
  }
  return gguf_u32(found.values[key], out) ? ROTOR_OK : fail(kInvalid, kKeys[key].wrong_type);
}

rotor_status read_float(const Found &found, Key key, double fallback, double *out) {
  if (!found.has[key]) {
    *out = fallback;
    return ROTOR_OK;
  }
  if (!gguf_float(found.values[key], out) || !std::isfinite(*out)) return fail(kInvalid, kKeys[key].wrong_type);
  return ROTOR_OK;
}

// A scalar u32, or element `layer` of an array of integers (per-layer values).
rotor_status read_per_layer(const Found &found, Key key, uint32_t layer, uint32_t *out) {
  const GgufValue &value = found.values[key];
  if (value.type == kGgufArray) {
    if (!gguf_array_u32(value, layer, out)) return fail(kInvalid, kKeys[key].wrong_type);
    return ROTOR_OK;
  }
  return gguf_u32(value, out) ? ROTOR_OK : fail(kInvalid, kKeys[key].wrong_type);
}

// ---- Layers ----------------------------------------------------------------------------------

enum class LayerKind { kRotary, kSliding, kNoRotary };

rotor_status sliding_pattern(const Found &found, uint32_t layer, uint32_t default_period, bool *sliding) {
  if (!found.has[kSlidingWindowPattern]) {
    *sliding = layer % default_period < default_period - 1;
    return ROTOR_OK;
  }
  const GgufValue &value = found.values[kSlidingWindowPattern];
  if (value.type == kGgufArray) {  // one flag per layer (true: sliding window)
    if (layer >= value.count || (value.element_type != kGgufBool && value.element_type != kGgufU8 &&
                                 value.element_type != kGgufI8))
      return fail(kInvalid, kKeys[kSlidingWindowPattern].wrong_type);
    *sliding = value.at[layer] != 0;
    return ROTOR_OK;
  }
  uint32_t period;
  if (!gguf_u32(value, &period) || period == 0) return fail(kInvalid, kKeys[kSlidingWindowPattern].wrong_type);
  *sliding = layer % period < period - 1;
  return ROTOR_OK;
}

rotor_status layer_kind(const Found &found, uint32_t layer, LayerKind *kind) {
  *kind = LayerKind::kRotary;
  uint32_t window = 0;
  rotor_status status = read_u32(found, kSlidingWindow, false, 0, &window);
  if (status != ROTOR_OK) return status;
  bool sliding = false;
  switch (found.architecture->layers) {
    case LayerRule::kSame:
      return ROTOR_OK;
    case LayerRule::kGemma3:
      if (window == 0) return ROTOR_OK;  // no sliding window: every layer is global
      status = sliding_pattern(found, layer, 6, &sliding);
      if (sliding) *kind = LayerKind::kSliding;
      return status;
    case LayerRule::kCohere2:
      status = sliding_pattern(found, layer, 4, &sliding);
      if (!sliding) *kind = LayerKind::kNoRotary;
      return status;
    case LayerRule::kLlama4:
      // attention.sliding_window = 0: no chunked attention, and llama.cpp sets
      // n_no_rope_layer_step = n_layer (every layer rotates).
      if (found.has[kSlidingWindow] && window == 0) return ROTOR_OK;
      if ((layer + 1) % 4 == 0) *kind = LayerKind::kNoRotary;
      return ROTOR_OK;
    case LayerRule::kEvery4th:
      if ((layer + 1) % 4 == 0) *kind = LayerKind::kNoRotary;
      return ROTOR_OK;
  }
  return ROTOR_OK;
}

rotor_status rotary_dims(const Found &found, uint32_t layer, bool sliding, uint32_t *out) {
  if (sliding && found.has[kDimensionCountSwa]) return read_u32(found, kDimensionCountSwa, true, 0, out);
  if (found.has[kDimensionCount]) return read_u32(found, kDimensionCount, true, 0, out);
  if (sliding && found.has[kKeyLengthSwa]) return read_u32(found, kKeyLengthSwa, true, 0, out);
  if (found.has[kKeyLength]) return read_u32(found, kKeyLength, true, 0, out);
  if (!found.has[kEmbeddingLength] || !found.has[kHeadCount]) return fail(kInvalid, kKeys[kDimensionCount].missing);
  uint32_t embedding, heads;
  rotor_status status = read_u32(found, kEmbeddingLength, true, 0, &embedding);
  if (status == ROTOR_OK) status = read_per_layer(found, kHeadCount, layer, &heads);
  if (status != ROTOR_OK) return status;
  if (heads == 0) return fail(kInvalid, "{arch}.attention.head_count is 0: the head size cannot be derived");
  *out = embedding / heads;
  return ROTOR_OK;
}

// ---- Factor tensors --------------------------------------------------------------------------

// A factor tensor the config may point at: f32, rotary_dim / 2 values, 4-byte aligned in the
// image (the config holds `const float *`; the library allocates no converted copy).
rotor_status factor_tensor(const Found &found, Tensor which, uint32_t rotary_dim, const float **out) {
  static const char *const kNotF32[kTensorCount] = {
      "rope_freqs.weight is not f32 (f16 / bf16 factor tensors are not converted: rotor points at the file's "
      "floats and allocates nothing)",
      "rope_factors_long.weight is not f32 (f16 / bf16 factor tensors are not converted: rotor points at the "
      "file's floats and allocates nothing)",
      "rope_factors_short.weight is not f32 (f16 / bf16 factor tensors are not converted: rotor points at the "
      "file's floats and allocates nothing)"};
  static const char *const kWrongCount[kTensorCount] = {
      "rope_freqs.weight does not hold rotary_dim / 2 values", "rope_factors_long.weight does not hold rotary_dim / 2 values",
      "rope_factors_short.weight does not hold rotary_dim / 2 values"};
  static const char *const kMisaligned[kTensorCount] = {
      "rope_freqs.weight is not 4-byte aligned in memory (map the file at an aligned address)",
      "rope_factors_long.weight is not 4-byte aligned in memory (map the file at an aligned address)",
      "rope_factors_short.weight is not 4-byte aligned in memory (map the file at an aligned address)"};
  const GgufTensor &tensor = found.tensors[which];
  if (tensor.type != kGgmlF32) return fail(kUnsupported, kNotF32[which]);
  if (tensor.data == nullptr || tensor.bytes != uint64_t{rotary_dim / 2} * sizeof(float))
    return fail(kInvalid, kWrongCount[which]);
  if (reinterpret_cast<uintptr_t>(tensor.data) % alignof(float) != 0) return fail(kUnsupported, kMisaligned[which]);
  *out = reinterpret_cast<const float *>(tensor.data);
  return ROTOR_OK;
}

// ---- Scaling ---------------------------------------------------------------------------------

constexpr double kPi = 3.14159265358979323846;

// The divisor llama.cpp's converter bakes into rope_freqs for pair i under Llama 3.1's rule
// (theta_i / divisor is the scaled frequency), computed in double.
double llama3_divisor(double base, uint32_t rotary_dim, uint32_t i, double factor, double original, double low,
                      double high) {
  const double theta = std::pow(base, -2.0 * double(i) / double(rotary_dim));
  const double wavelen = 2.0 * kPi / theta;
  if (wavelen < original / high) return 1.0;
  if (wavelen > original / low) return factor;
  if (high == low) return 1.0;  // the empty band's edge (rotor's llama3 keeps the frequency there)
  const double smooth = (original / wavelen - low) / (high - low);
  return 1.0 / ((1.0 - smooth) / factor + smooth);
}

// Recognises rope_freqs as Llama 3.1's rule: the converter computed the divisors in float32
// (torch), so each value is compared with the double-precision one within 1e-5 relative, far
// below what a different original length or frequency factor changes (whole steps of the
// blended band). Candidates: the file's original_context_length, then the lengths and factor
// pairs of the known models (Llama 3.x: 8192, low 1, high 4; Llama 4 Scout: 8192, 1, 1).
bool recognise_llama3(const rotor_config &cfg, const float *divisors, double factor, uint32_t file_original,
                      rotor_config *out) {
  const uint32_t half = cfg.rotary_dim / 2;
  const uint32_t originals[] = {file_original, 8192, 4096, 16384, 32768, 2048};
  const double pairs[][2] = {{1.0, 4.0}, {1.0, 1.0}, {1.0, 2.0}, {2.0, 4.0}};
  for (uint32_t original : originals) {
    if (original == 0) continue;
    for (const auto &pair : pairs) {
      bool same = true;
      for (uint32_t i = 0; i < half && same; ++i) {
        const double want = llama3_divisor(cfg.base, cfg.rotary_dim, i, factor, original, pair[0], pair[1]);
        same = std::fabs(double(divisors[i]) - want) <= 1e-5 * want;
      }
      if (!same) continue;
      *out = cfg;
      out->scaling = ROTOR_SCALING_LLAMA3;
      out->factor = float(factor);
      out->original_max_len = original;
      out->low_freq_factor = float(pair[0]);
      out->high_freq_factor = float(pair[1]);
      return true;
    }
  }
  return false;
}

rotor_status apply_rope_freqs(const Found &found, uint32_t context_length, rotor_config *cfg) {
  const float *divisors = nullptr;
  rotor_status status = factor_tensor(found, kRopeFreqs, cfg->rotary_dim, &divisors);
  if (status != ROTOR_OK) return status;
  double largest = 0.0;
  bool all_one = true;
  for (uint32_t i = 0; i < cfg->rotary_dim / 2; ++i) {
    if (!(divisors[i] > 0.0f) || !std::isfinite(divisors[i]))
      return fail(kInvalid, "rope_freqs.weight holds a value that is not finite and positive");
    largest = std::fmax(largest, double(divisors[i]));
    all_one = all_one && divisors[i] == 1.0f;
  }
  if (all_one) return ROTOR_OK;  // divisors of 1 change nothing
  uint32_t original = 0;
  status = read_u32(found, kOriginalContext, false, 0, &original);
  if (status != ROTOR_OK) return status;
  if (recognise_llama3(*cfg, divisors, largest, original, cfg)) return ROTOR_OK;
  // Divisors of another rule: served as they are, which is what llama.cpp does (theta_i /
  // divisor_i at every length): LONGROPE with both sets the file's divisors, factor 1 (no
  // attention factor) and L0 = the context length (the sets never switch).
  cfg->scaling = ROTOR_SCALING_LONGROPE;
  cfg->factor = 1.0f;
  cfg->original_max_len = context_length;
  cfg->long_factor = divisors;
  cfg->short_factor = divisors;
  cfg->factor_count = cfg->rotary_dim / 2;
  return ROTOR_OK;
}

rotor_status apply_longrope(const Found &found, uint32_t context_length, rotor_config *cfg) {
  if (found.has_tensor[kFactorsLong] != found.has_tensor[kFactorsShort])
    return fail(kInvalid, "the GGUF file holds only one of rope_factors_long.weight and rope_factors_short.weight");
  uint32_t original;
  rotor_status status = read_u32(found, kOriginalContext, true, 0, &original);
  if (status == ROTOR_OK) status = factor_tensor(found, kFactorsLong, cfg->rotary_dim, &cfg->long_factor);
  if (status == ROTOR_OK) status = factor_tensor(found, kFactorsShort, cfg->rotary_dim, &cfg->short_factor);
  if (status != ROTOR_OK) return status;
  if (original == 0) return fail(kInvalid, "{arch}.rope.scaling.original_context_length is 0");
  cfg->scaling = ROTOR_SCALING_LONGROPE;
  cfg->original_max_len = original;
  cfg->factor_count = cfg->rotary_dim / 2;
  // Hugging Face's factor: max_position_embeddings / original_max_position_embeddings.
  const double s = double(context_length) / double(original);
  cfg->factor = float(s);
  // The converter stores the attention factor it computed (Phi-3: sqrt(1 + ln s / ln L0)); when
  // it is that default (to float rounding), leave it computed, as the presets do.
  double attention;
  status = read_float(found, kAttnFactor, 0.0, &attention);
  if (status != ROTOR_OK) return status;
  const double computed = s > 1.0 ? std::sqrt(1.0 + std::log(s) / std::log(double(original))) : 1.0;
  if (found.has[kAttnFactor] && std::fabs(attention - computed) > 1e-6 * computed) cfg->attention_factor = float(attention);
  return ROTOR_OK;
}

rotor_status apply_yarn(const Found &found, uint32_t context_length, double factor, rotor_config *cfg) {
  double ext_factor, yarn_attn, beta_fast, beta_slow, log_multiplier, attn;
  rotor_status status = read_float(found, kYarnExtFactor, 1.0, &ext_factor);
  if (status == ROTOR_OK) status = read_float(found, kYarnAttnFactor, 1.0, &yarn_attn);
  if (status == ROTOR_OK) status = read_float(found, kYarnBetaFast, 32.0, &beta_fast);
  if (status == ROTOR_OK) status = read_float(found, kYarnBetaSlow, 1.0, &beta_slow);
  if (status == ROTOR_OK) status = read_float(found, kYarnLogMultiplier, 0.0, &log_multiplier);
  if (status == ROTOR_OK) status = read_float(found, kAttnFactor, 1.0, &attn);
  if (status == ROTOR_OK) status = read_u32(found, kOriginalContext, false, context_length, &cfg->original_max_len);
  if (status != ROTOR_OK) return status;
  if (ext_factor != 1.0)
    return fail(kUnsupported, "{arch}.rope.scaling.yarn_ext_factor is not 1 (rotor's YaRN blends the whole ramp)");
  if (yarn_attn != 1.0) return fail(kUnsupported, "{arch}.rope.scaling.yarn_attn_factor is not 1 (rotor has no such knob)");
  cfg->scaling = ROTOR_SCALING_YARN;
  cfg->factor = float(factor);
  cfg->beta_fast = float(beta_fast);
  cfg->beta_slow = float(beta_slow);
  if (log_multiplier != 0.0) {
    // DeepSeek-V2/V3: the converter writes 0.1 * mscale_all_dim; llama.cpp's rows then carry
    // mscale(s, mscale) / mscale(s, mscale_all_dim) with mscale == mscale_all_dim (= 1), and the
    // softmax scale the rest (rotor_attention_scale).
    cfg->mscale_all_dim = float(log_multiplier / 0.1);
    cfg->mscale = cfg->mscale_all_dim;
  } else if (attn != 1.0) {
    // ggml multiplies its own YaRN magnitude 0.1 ln s + 1 by attn_factor.
    cfg->attention_factor = float(attn * (factor > 1.0 ? 0.1 * std::log(factor) + 1.0 : 1.0));
  }
  return ROTOR_OK;
}

// The global (non-sliding) scaling from the keys and tensors.
rotor_status apply_scaling(const Found &found, uint32_t context_length, rotor_config *cfg) {
  GgufString type{"linear", 6};  // llama.cpp's default when the key is absent
  if (found.has[kScalingType] && !gguf_string(found.values[kScalingType], &type))
    return fail(kInvalid, kKeys[kScalingType].wrong_type);
  double factor = 0.0;
  rotor_status status = found.has[kScalingFactor] ? read_float(found, kScalingFactor, 0.0, &factor)
                                                  : read_float(found, kScaleLinear, 0.0, &factor);
  if (status != ROTOR_OK) return status;
  if (factor == 0.0) factor = 1.0;  // llama.cpp: 0 or absent means no scaling
  if (!(factor > 0.0)) return fail(kInvalid, "{arch}.rope.scaling.factor is negative");
  const bool longrope_tensors = found.has_tensor[kFactorsLong] || found.has_tensor[kFactorsShort];
  const bool scaled_linear = type.equals("linear") && factor != 1.0;
  if (found.has_tensor[kRopeFreqs]) {
    if (longrope_tensors || type.equals("yarn") || type.equals("longrope") || scaled_linear)
      return fail(kUnsupported, "rope_freqs.weight together with another scaling (rotor serves one at a time)");
    return apply_rope_freqs(found, context_length, cfg);
  }
  if (longrope_tensors) {
    if (type.equals("yarn") || scaled_linear)
      return fail(kUnsupported, "LongRoPE factor tensors together with another scaling (rotor serves one at a time)");
    return apply_longrope(found, context_length, cfg);
  }
  if (type.equals("none") || (type.equals("linear") && factor == 1.0)) return ROTOR_OK;
  if (type.equals("linear")) {
    cfg->scaling = ROTOR_SCALING_LINEAR;
    cfg->factor = float(factor);
    return ROTOR_OK;
  }
  if (type.equals("yarn")) return apply_yarn(found, context_length, factor, cfg);
  if (type.equals("longrope"))
    return fail(kInvalid, "{arch}.rope.scaling.type is longrope but the file holds no rope_factors_long / _short tensors");
  return fail(kUnsupported, "{arch}.rope.scaling.type is not none, linear, yarn or longrope");
}

rotor_status apply_sections(const Found &found, Rotation rotation, rotor_config *cfg) {
  const bool glm4 = rotation == Rotation::kGlm4;
  if (!found.has[kDimensionSections]) {
    if (glm4) return ROTOR_OK;  // GLM-4 without sections: plain NORM rotation
    return fail(kInvalid, kKeys[kDimensionSections].missing);
  }
  const GgufValue &value = found.values[kDimensionSections];
  uint32_t sections[4] = {0, 0, 0, 0};
  if (value.type != kGgufArray || value.count < 3 || value.count > 4)
    return fail(kInvalid, kKeys[kDimensionSections].wrong_type);
  for (uint32_t i = 0; i < value.count; ++i)
    if (!gguf_array_u32(value, i, &sections[i])) return fail(kInvalid, kKeys[kDimensionSections].wrong_type);
  // llama.cpp's use_mrope(): GLM-4 is M-RoPE only with the first two sections set.
  if (glm4 && (sections[0] == 0 || sections[1] == 0)) return ROTOR_OK;
  if (sections[3] != 0)
    return fail(kUnsupported, "{arch}.rope.dimension_sections has a fourth section (rotor's M-RoPE has three axes)");
  cfg->pairing = ROTOR_PAIRING_HALF;
  cfg->layout = rotation == Rotation::kImrope ? ROTOR_LAYOUT_MROPE_INTERLEAVED : ROTOR_LAYOUT_MROPE;
  for (int i = 0; i < 3; ++i) cfg->mrope_section[i] = sections[i];
  return ROTOR_OK;
}

}  // namespace

rotor_status gguf_block_count(const GgufImage &image, uint32_t *out) {
  // Any architecture has a layer count, known to rotor or not: only general.architecture and
  // {arch}.block_count are read.
  GgufString arch;
  int architectures = 0;
  image.each_kv([&](const GgufString &key, const GgufValue &value) {
    if (key.equals("general.architecture")) {
      ++architectures;
      if (!gguf_string(value, &arch)) architectures = 2;  // refused below, as a wrong type
    }
    return true;
  });
  if (architectures != 1 || arch.chars == nullptr)
    return fail(kInvalid, "general.architecture is missing, not a string or given twice");
  int blocks = 0;
  GgufValue value;
  image.each_kv([&](const GgufString &key, const GgufValue &v) {
    if (is_arch_key(key, arch, kKeys[kBlockCount].suffix)) {
      ++blocks;
      value = v;
    }
    return true;
  });
  if (blocks == 0) return fail(kInvalid, kKeys[kBlockCount].missing);
  if (blocks > 1) return fail(kInvalid, "the GGUF file holds {arch}.block_count twice");
  return gguf_u32(value, out) ? ROTOR_OK : fail(kInvalid, kKeys[kBlockCount].wrong_type);
}

rotor_status gguf_layer_config(const GgufImage &image, uint32_t layer, rotor_config *out) {
  Found found;
  rotor_status status = find_everything(image, &found);
  if (status != ROTOR_OK) return status;
  const Architecture &architecture = *found.architecture;
  uint32_t blocks, context_length;
  status = read_u32(found, kBlockCount, true, 0, &blocks);
  if (status == ROTOR_OK) status = read_u32(found, kContextLength, true, 0, &context_length);
  if (status != ROTOR_OK) return status;
  if (layer >= blocks) return fail(kInvalid, "layer is not below the file's {arch}.block_count");
  if (architecture.rotation == Rotation::kNone)
    return fail(ROTOR_ERR_NO_ROTARY, "the GGUF file's architecture has no rotary embedding (llama.cpp: rope type NONE)");
  LayerKind kind;
  status = layer_kind(found, layer, &kind);
  if (status != ROTOR_OK) return status;
  if (kind == LayerKind::kNoRotary)
    return fail(ROTOR_ERR_NO_ROTARY, "this layer of the GGUF file's model has no rotary embedding");
  const bool sliding = kind == LayerKind::kSliding;

  uint32_t rotary_dim;
  status = rotary_dims(found, layer, sliding, &rotary_dim);
  if (status != ROTOR_OK) return status;
  rotor_config cfg = default_config(rotary_dim);
  cfg.max_len = context_length;
  cfg.pairing = architecture.rotation == Rotation::kNeox ? ROTOR_PAIRING_HALF : ROTOR_PAIRING_INTERLEAVED;
  status = read_float(found, kFreqBase, 10000.0, &cfg.base);
  if (status != ROTOR_OK) return status;
  if (sliding) {
    // Gemma 3's sliding layers: base 10000 (or rope.freq_base_swa), no scaling.
    status = read_float(found, kFreqBaseSwa, 10000.0, &cfg.base);
  } else {
    status = apply_scaling(found, context_length, &cfg);
  }
  if (status != ROTOR_OK) return status;
  const Rotation rotation = architecture.rotation;
  if (rotation == Rotation::kMrope || rotation == Rotation::kImrope || rotation == Rotation::kGlm4) {
    status = apply_sections(found, rotation, &cfg);
    if (status != ROTOR_OK) return status;
  }
  status = validate_config(&cfg);
  if (status != ROTOR_OK) return fail(kInvalid, "the GGUF file's rotary settings do not make a valid rotor_config");
  *out = cfg;
  return ROTOR_OK;
}

}  // namespace rotor
