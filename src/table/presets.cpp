// rotor_config_preset: the RoPE part of well-known models' Hugging Face config.json files.
//
// Each entry says where its values come from. "config.json" means the model's file on the
// Hugging Face Hub (the names in brackets); the values were read from copies of those files
// found in public code (the stored-code index) and match the model cards. Only what decides the
// rotation is kept: rotary dims, pairing, base, context lengths and the rope_scaling block.
// max_len (the table's hard maximum) is the model's max_position_embeddings: the longest
// context the model is meant to serve. Callers that need less memory may lower it.
#include <cctype>
#include <cstring>

#include "table/presets.hpp"

#include "table/config.hpp"

namespace rotor {
namespace {

// Phi-3 mini 128k: rope_scaling "longrope" (named "su" before the June 2024 update), 48 pairs
// (head_dim 96 = 3072 / 32 heads). Meant to be the factors of the updated checkpoint
// (microsoft/Phi-3-mini-128k-instruct after commit 10d25df, July 2024, which llama.cpp PR #8262
// re-converted for); the April 2024 release ("su") had different lists. The values were read
// from public copies of the config (a Phi-3 128k passkey-evaluation script and a model table
// that labels them Phi-3.5-mini-instruct, which shares them), not from the Hub itself.
const float kPhi3LongFactor[48] = {
    1.0800000429153442f, 1.1100000143051147f, 1.1399999856948853f, 1.340000033378601f,
    1.5899999141693115f, 1.600000023841858f,  1.6200000047683716f, 2.620000123977661f,
    3.2300000190734863f, 3.2300000190734863f, 4.789999961853027f,  7.400000095367432f,
    7.700000286102295f,  9.09000015258789f,   12.199999809265137f, 17.670000076293945f,
    24.46000099182129f,  28.57000160217285f,  30.420001983642578f, 30.840002059936523f,
    32.590003967285156f, 32.93000411987305f,  42.320003509521484f, 44.96000289916992f,
    50.340003967285156f, 50.45000457763672f,  57.55000305175781f,  57.93000411987305f,
    58.21000289916992f,  60.1400032043457f,   62.61000442504883f,  62.62000274658203f,
    62.71000289916992f,  63.1400032043457f,   63.1400032043457f,   63.77000427246094f,
    63.93000411987305f,  63.96000289916992f,  63.970001220703125f, 64.02999877929688f,
    64.06999969482422f,  64.08000183105469f,  64.12000274658203f,  64.41000366210938f,
    64.4800033569336f,   64.51000213623047f,  64.52999877929688f,  64.83999633789062f};

const float kPhi3ShortFactor[48] = {
    1.0f,                1.0199999809265137f, 1.0299999713897705f, 1.0299999713897705f,
    1.0499999523162842f, 1.0499999523162842f, 1.0499999523162842f, 1.0499999523162842f,
    1.0499999523162842f, 1.0699999332427979f, 1.0999999046325684f, 1.1099998950958252f,
    1.1599998474121094f, 1.1599998474121094f, 1.1699998378753662f, 1.2899998426437378f,
    1.339999794960022f,  1.679999828338623f,  1.7899998426437378f, 1.8199998140335083f,
    1.8499997854232788f, 1.8799997568130493f, 1.9099997282028198f, 1.9399996995925903f,
    1.9899996519088745f, 2.0199997425079346f, 2.0199997425079346f, 2.0199997425079346f,
    2.0199997425079346f, 2.0199997425079346f, 2.0199997425079346f, 2.0299997329711914f,
    2.0299997329711914f, 2.0299997329711914f, 2.0299997329711914f, 2.0299997329711914f,
    2.0299997329711914f, 2.0299997329711914f, 2.0299997329711914f, 2.0299997329711914f,
    2.0799996852874756f, 2.0899996757507324f, 2.189999580383301f,  2.2199995517730713f,
    2.5899994373321533f, 2.729999542236328f,  2.749999523162842f,  2.8399994373321533f};

bool same_name(const char *a, const char *b) {
  for (; *a != '\0' && *b != '\0'; ++a, ++b)
    if (std::tolower(static_cast<unsigned char>(*a)) != std::tolower(static_cast<unsigned char>(*b)))
      return false;
  return *a == *b;
}

// Plain RoPE over rotary_dim dims.
rotor_config plain(uint32_t rotary_dim, rotor_pairing pairing, double base, uint32_t max_len) {
  rotor_config cfg;
  cfg = default_config(rotary_dim);
  cfg.pairing = pairing;
  cfg.base = base;
  cfg.max_len = max_len;
  return cfg;
}

void preset_llama_2_7b(rotor_config *out) {
  // meta-llama/Llama-2-7b-hf config.json: hidden_size 4096, 32 heads (head_dim 128),
  // rope_theta 10000 (the default; the key is absent in early files), max_position_embeddings
  // 4096, rope_scaling null. Hugging Face's checkpoints are permuted for rotate_half (HALF);
  // Meta's original checkpoints pair adjacent dims instead.
  *out = plain(128, ROTOR_PAIRING_HALF, 10000.0, 4096);
}

void preset_llama_3_1_8b(rotor_config *out) {
  // meta-llama/Llama-3.1-8B config.json: head_dim 128, rope_theta 500000,
  // max_position_embeddings 131072, rope_scaling {rope_type "llama3", factor 8.0,
  // low_freq_factor 1.0, high_freq_factor 4.0, original_max_position_embeddings 8192}.
  *out = plain(128, ROTOR_PAIRING_HALF, 500000.0, 131072);
  out->scaling = ROTOR_SCALING_LLAMA3;
  out->factor = 8.0f;
  out->low_freq_factor = 1.0f;
  out->high_freq_factor = 4.0f;
  out->original_max_len = 8192;
}

void preset_mistral_7b(rotor_config *out) {
  // mistralai/Mistral-7B-v0.1 config.json: hidden_size 4096, 32 heads (head_dim 128),
  // rope_theta 10000.0, max_position_embeddings 32768 (sliding window 4096 is attention's
  // business). v0.2 and later instruct models use rope_theta 1e6: see "mistral-7b-v0.3".
  *out = plain(128, ROTOR_PAIRING_HALF, 10000.0, 32768);
}

void preset_mistral_7b_v0_3(rotor_config *out) {
  // mistralai/Mistral-7B-v0.3 config.json: head_dim 128, rope_theta 1000000.0,
  // max_position_embeddings 32768.
  *out = plain(128, ROTOR_PAIRING_HALF, 1000000.0, 32768);
}

void preset_qwen2_7b(rotor_config *out) {
  // Qwen/Qwen2-7B-Instruct config.json: hidden_size 3584, 28 heads (head_dim 128),
  // rope_theta 1000000.0, max_position_embeddings 32768, rope_scaling null (the model card
  // suggests adding YaRN factor 4 for 128k; that is the user's choice, not the checkpoint's).
  *out = plain(128, ROTOR_PAIRING_HALF, 1000000.0, 32768);
}

void preset_phi_3_mini_128k(rotor_config *out) {
  // microsoft/Phi-3-mini-128k-instruct config.json: hidden_size 3072, 32 heads (head_dim 96),
  // rope_theta 10000.0, max_position_embeddings 131072, original_max_position_embeddings 4096,
  // rope_scaling {type "longrope", long_factor, short_factor}. Hugging Face takes the factor
  // as 131072 / 4096 = 32, so the attention factor is sqrt(1 + ln 32 / ln 4096).
  *out = plain(96, ROTOR_PAIRING_HALF, 10000.0, 131072);
  out->scaling = ROTOR_SCALING_LONGROPE;
  out->factor = 32.0f;
  out->original_max_len = 4096;
  out->long_factor = kPhi3LongFactor;
  out->short_factor = kPhi3ShortFactor;
}

void preset_deepseek_v3(rotor_config *out) {
  // deepseek-ai/DeepSeek-V3 config.json: qk_rope_head_dim 64 (only that slice of each
  // query/key head is rotated; the caller passes it as its own tensor view), rope_theta
  // 10000, max_position_embeddings 163840, rope_scaling {type "yarn", factor 40,
  // original_max_position_embeddings 4096, beta_fast 32, beta_slow 1, mscale 1.0,
  // mscale_all_dim 1.0}. mscale / mscale_all_dim = 1: the rows carry no attention factor;
  // the model's softmax scale gets yarn_get_mscale(40, 1.0)^2 instead (model code).
  // Pairing: DeepSeek's apply_rotary_pos_emb views the 64 dims as [32, 2], transposes them to
  // [2, 32] and then applies rotate_half, so dims (2i, 2i+1) rotate together with frequency
  // i: that is INTERLEAVED (vLLM: is_neox_style=False). Hugging Face leaves its output in the
  // de-interleaved order; rotor leaves it in place. The two differ by the same fixed
  // permutation for queries and keys, so q.k, and hence attention, is the same.
  *out = plain(64, ROTOR_PAIRING_INTERLEAVED, 10000.0, 163840);
  out->scaling = ROTOR_SCALING_YARN;
  out->factor = 40.0f;
  out->original_max_len = 4096;
  out->beta_fast = 32.0f;
  out->beta_slow = 1.0f;
  out->mscale = 1.0f;
  out->mscale_all_dim = 1.0f;
}

void preset_gpt_j_6b(rotor_config *out) {
  // EleutherAI/gpt-j-6b config.json: n_embd 4096, n_head 16 (head_dim 256), rotary_dim 64,
  // n_positions 2048; GPT-J rotates adjacent pairs (rotate_every_two): INTERLEAVED, base
  // 10000 (fixed in its modeling code).
  *out = plain(64, ROTOR_PAIRING_INTERLEAVED, 10000.0, 2048);
}

void preset_gpt_neox_20b(rotor_config *out) {
  // EleutherAI/gpt-neox-20b config.json: hidden_size 6144, 64 heads (head_dim 96),
  // rotary_pct 0.25 (24 rotated dims), rotary_emb_base 10000, max_position_embeddings 2048;
  // rotate_half pairing.
  *out = plain(24, ROTOR_PAIRING_HALF, 10000.0, 2048);
}

void preset_qwen2_vl_family(bool v25, rotor_config *out) {
  // Qwen/Qwen2-VL-7B-Instruct and Qwen/Qwen2.5-VL-7B-Instruct config.json: hidden_size 3584,
  // 28 heads (head_dim 128), rope_theta 1000000.0, rope_scaling {type "mrope",
  // mrope_section [16, 24, 24]} (pairs: t, h, w), max_position_embeddings 32768 (Qwen2-VL)
  // and 128000 (Qwen2.5-VL). Transformers' Qwen2VLRotaryEmbedding: sections over the 64
  // frequency pairs, the same map for both rotate_half halves.
  *out = plain(128, ROTOR_PAIRING_HALF, 1000000.0, v25 ? 128000 : 32768);
  out->layout = ROTOR_LAYOUT_MROPE;
  out->mrope_section[0] = 16;
  out->mrope_section[1] = 24;
  out->mrope_section[2] = 24;
}

void preset_qwen2_vl_7b(rotor_config *out) { preset_qwen2_vl_family(false, out); }

void preset_qwen2_5_vl_7b(rotor_config *out) { preset_qwen2_vl_family(true, out); }

void preset_qwen3_vl_8b(rotor_config *out) {
  // Qwen/Qwen3-VL-8B-Instruct config.json (text_config): head_dim 128, rope_theta 5000000,
  // rope_scaling {mrope_interleaved true, mrope_section [24, 20, 20]},
  // max_position_embeddings 262144. Qwen3VLTextRotaryEmbedding always interleaves.
  *out = plain(128, ROTOR_PAIRING_HALF, 5000000.0, 262144);
  out->layout = ROTOR_LAYOUT_MROPE_INTERLEAVED;
  out->mrope_section[0] = 24;
  out->mrope_section[1] = 20;
  out->mrope_section[2] = 20;
}

void preset_qwen2_vl_vision(rotor_config *out) {
  // The vision tower of Qwen2-VL and Qwen2.5-VL (vision_config: embed_dim / hidden_size 1280,
  // 16 heads, head_dim 80): VisionRotaryEmbedding(head_dim / 2) with theta 10000, patch
  // (row, column) ids, rows on pairs [0, 20), columns on [20, 40), rotate_half over 80 dims.
  // max_len bounds the row/column ids (an image of 16384 patches a side at most).
  *out = plain(80, ROTOR_PAIRING_HALF, 10000.0, 16384);
  out->layout = ROTOR_LAYOUT_VISION_HALVES;
}

void preset_pixtral_12b_vision(rotor_config *out) {
  // mistral-community/pixtral-12b vision_config: hidden_size 1024, 16 heads (head_dim 64),
  // rope_theta 10000, image_size 1024, patch_size 16: 64 patches a side (max_len 64).
  // PixtralRotaryEmbedding: rows take the even frequencies, columns the odd ones.
  *out = plain(64, ROTOR_PAIRING_HALF, 10000.0, 64);
  out->layout = ROTOR_LAYOUT_VISION_ALTERNATE;
}

void preset_gemma_3_4b_family(bool global, rotor_config *out) {
  // google/gemma-3-4b-it text_config: head_dim 256, max_position_embeddings 131072,
  // rope_local_base_freq 10000 (sliding-window layers), rope_theta 1000000 with rope_scaling
  // {rope_type "linear", factor 8.0} (global layers).
  *out = plain(256, ROTOR_PAIRING_HALF, global ? 1000000.0 : 10000.0, 131072);
  if (global) {
    out->scaling = ROTOR_SCALING_LINEAR;
    out->factor = 8.0f;
  }
}

void preset_gemma_3_4b_local(rotor_config *out) { preset_gemma_3_4b_family(false, out); }

void preset_gemma_3_4b_global(rotor_config *out) { preset_gemma_3_4b_family(true, out); }

void preset_gemma_4_family(bool full, rotor_config *out) {
  // Transformers' Gemma4TextConfig defaults (configuration_gemma4.py): sliding layers
  // head_dim 256, rope "default" theta 10000; full-attention layers global_head_dim 512,
  // rope "proportional", partial_rotary_factor 0.25 (64 of 256 pairs rotate), theta 1e6;
  // max_position_embeddings 131072.
  *out = plain(full ? 512 : 256, ROTOR_PAIRING_HALF, full ? 1000000.0 : 10000.0, 131072);
  if (full) {
    out->scaling = ROTOR_SCALING_PROPORTIONAL;
    out->rope_pairs = 64;
  }
}

void preset_gemma_4_sliding(rotor_config *out) { preset_gemma_4_family(false, out); }

void preset_gemma_4_full(rotor_config *out) { preset_gemma_4_family(true, out); }

void preset_llama_4_scout(rotor_config *out) {
  // meta-llama/Llama-4-Scout-17B-16E-Instruct text_config: head_dim 128, rope_theta 500000,
  // rope_scaling {rope_type "llama3", factor 16, low_freq_factor 1, high_freq_factor 1,
  // original_max_position_embeddings 8192}, max_position_embeddings 10485760. Llama 4
  // rotates adjacent pairs (view_as_complex): INTERLEAVED. The table's arena for 10M
  // positions is ~5 GiB of address space (only the rows used become resident).
  *out = plain(128, ROTOR_PAIRING_INTERLEAVED, 500000.0, 10485760);
  out->scaling = ROTOR_SCALING_LLAMA3;
  out->factor = 16.0f;
  out->low_freq_factor = 1.0f;
  out->high_freq_factor = 1.0f;
  out->original_max_len = 8192;
}

void preset_command_r7b(rotor_config *out) {
  // CohereForAI/c4ai-command-r7b-12-2024 (Cohere2): hidden_size 4096, 32 heads (head_dim 128),
  // rope_theta 50000, max_position_embeddings 8192 (transformers' Cohere2Config default);
  // Cohere rotates adjacent pairs (repeat_interleave of the frequencies): INTERLEAVED.
  *out = plain(128, ROTOR_PAIRING_INTERLEAVED, 50000.0, 8192);
}

void preset_command_r(rotor_config *out) {
  // CohereForAI/c4ai-command-r-v01: hidden_size 8192, 64 heads (head_dim 128), rope_theta
  // 8000000, max_position_embeddings 131072; INTERLEAVED as every Cohere model.
  *out = plain(128, ROTOR_PAIRING_INTERLEAVED, 8000000.0, 131072);
}

void preset_glm_4_9b(rotor_config *out) {
  // THUDM/glm-4-9b-chat-hf (Glm): head_dim 128, partial_rotary_factor 0.5 (the first 64 dims
  // rotate), rope_theta 10000, max_position_embeddings 131072; GLM rotates adjacent pairs
  // of the rotary part (rotate_half on x[0::2], x[1::2]): INTERLEAVED.
  *out = plain(64, ROTOR_PAIRING_INTERLEAVED, 10000.0, 131072);
}

// Common names of models whose RoPE equals a preset's family but with their own values.
void preset_llama_3_8b(rotor_config *out) {
  // meta-llama/Meta-Llama-3-8B config.json: head_dim 128, rope_theta 500000,
  // max_position_embeddings 8192, rope_scaling null (Llama 3.1 added the llama3 scaling).
  *out = plain(128, ROTOR_PAIRING_HALF, 500000.0, 8192);
}

// Llama 3.2 1B and 3B: the llama3 rope_scaling of Llama 3.1 with factor 32.
void preset_llama_3_2(uint32_t head_dim, rotor_config *out) {
  *out = plain(head_dim, ROTOR_PAIRING_HALF, 500000.0, 131072);
  out->scaling = ROTOR_SCALING_LLAMA3;
  out->factor = 32.0f;
  out->low_freq_factor = 1.0f;
  out->high_freq_factor = 4.0f;
  out->original_max_len = 8192;
}
// meta-llama/Llama-3.2-1B config.json: head_dim 64 (hidden 2048, 32 heads), rope_theta
// 500000, max_position_embeddings 131072, rope_scaling {rope_type "llama3", factor 32.0,
// low_freq_factor 1.0, high_freq_factor 4.0, original_max_position_embeddings 8192}.
void preset_llama_3_2_1b(rotor_config *out) { preset_llama_3_2(64, out); }
// meta-llama/Llama-3.2-3B: the same with head_dim 128 (hidden 3072, 24 heads).
void preset_llama_3_2_3b(rotor_config *out) { preset_llama_3_2(128, out); }

// Qwen/Qwen2.5-7B config.json: head_dim 128 (hidden 3584, 28 heads), rope_theta 1000000.0,
// max_position_embeddings 131072, rope_scaling null; the -Instruct checkpoint's file says
// max_position_embeddings 32768 (its card adds YaRN for longer contexts, the user's choice).
void preset_qwen2_5_7b(rotor_config *out) { *out = plain(128, ROTOR_PAIRING_HALF, 1000000.0, 131072); }
void preset_qwen2_5_7b_instruct(rotor_config *out) { *out = plain(128, ROTOR_PAIRING_HALF, 1000000.0, 32768); }

// The one list of single-table presets: lookup, the per-layer functions and rotor_preset_name
// all read it, so a preset added here is known everywhere.
struct Preset {
  const char *name;
  void (*fill)(rotor_config *out);
};
const Preset kPresets[] = {
    {"llama-2-7b", preset_llama_2_7b},
    {"llama-3.1-8b", preset_llama_3_1_8b},
    {"mistral-7b", preset_mistral_7b},
    {"mistral-7b-v0.3", preset_mistral_7b_v0_3},
    {"qwen2-7b", preset_qwen2_7b},
    {"phi-3-mini-128k", preset_phi_3_mini_128k},
    {"deepseek-v3", preset_deepseek_v3},
    {"gpt-j-6b", preset_gpt_j_6b},
    {"gpt-neox-20b", preset_gpt_neox_20b},
    {"qwen2-vl-7b", preset_qwen2_vl_7b},
    {"qwen2.5-vl-7b", preset_qwen2_5_vl_7b},
    {"qwen3-vl-8b", preset_qwen3_vl_8b},
    {"qwen2-vl-vision", preset_qwen2_vl_vision},
    {"pixtral-12b-vision", preset_pixtral_12b_vision},
    {"gemma-3-4b/local", preset_gemma_3_4b_local},
    {"gemma-3-4b/global", preset_gemma_3_4b_global},
    {"gemma-4/sliding", preset_gemma_4_sliding},
    {"gemma-4/full", preset_gemma_4_full},
    {"llama-4-scout", preset_llama_4_scout},
    {"command-r7b", preset_command_r7b},
    {"command-r", preset_command_r},
    {"glm-4-9b", preset_glm_4_9b},
    {"llama-3-8b", preset_llama_3_8b},
    {"llama-3.2-1b", preset_llama_3_2_1b},
    {"llama-3.2-3b", preset_llama_3_2_3b},
    {"qwen2.5-7b", preset_qwen2_5_7b},
    {"qwen2.5-7b-instruct", preset_qwen2_5_7b_instruct},
};

const Preset *find_preset(const char *name) {
  for (const Preset &preset : kPresets)
    if (same_name(name, preset.name)) return &preset;
  return nullptr;
}

}  // namespace

bool lookup_preset(const char *name, rotor_config *out) {
  const Preset *preset = find_preset(name);
  if (preset == nullptr) return false;
  preset->fill(out);
  if (out->scaling == ROTOR_SCALING_LONGROPE) out->factor_count = out->rotary_dim / 2;
  return true;
}

bool preset_factor_length(const float *factors, uint32_t *length_out) {
  if (factors != kPhi3LongFactor && factors != kPhi3ShortFactor) return false;
  *length_out = sizeof kPhi3LongFactor / sizeof kPhi3LongFactor[0];
  return true;
}

}  // namespace rotor

namespace rotor {
namespace {

// Models whose layers use different tables. A layer's table is tables[rule(layer)], or none
// when rule returns kNoRope.
constexpr int kNoRope = -1;
struct LayeredModel {
  const char *name;
  uint32_t layers;
  const char *tables[2];
  uint32_t table_count;
  int (*table_of_layer)(uint32_t layer);
};

// Gemma 3 and 4: every sixth (Gemma 3) layer is global ((i + 1) % 6 == 0), the rest local.
int gemma3_layer(uint32_t i) { return (i + 1) % 6 == 0 ? 1 : 0; }
// Gemma 4 (Gemma4TextConfig defaults: 30 layers, five sliding then one full; the last layer is
// forced to full, which it already is at 30).
int gemma4_layer(uint32_t i) { return (i + 1) % 6 == 0 || i + 1 == 30 ? 1 : 0; }
// Llama 4: no_rope_layers[i] == 0 (no RoPE) for every fourth layer; Cohere2: the full-attention
// layers ((i + 1) % 4 == 0) have no positional embedding.
int every_fourth_nope(uint32_t i) { return (i + 1) % 4 == 0 ? kNoRope : 0; }

const LayeredModel kLayeredModels[] = {
    {"gemma-3-4b", 34, {"gemma-3-4b/local", "gemma-3-4b/global"}, 2, gemma3_layer},
    {"gemma-4", 30, {"gemma-4/sliding", "gemma-4/full"}, 2, gemma4_layer},
    {"llama-4-scout", 48, {"llama-4-scout", nullptr}, 1, every_fourth_nope},
    {"command-r7b", 32, {"command-r7b", nullptr}, 1, every_fourth_nope},
};

const LayeredModel *find_layered(const char *name) {
  for (const LayeredModel &model : kLayeredModels)
    if (same_name(name, model.name)) return &model;
  return nullptr;
}

// A single-table preset's own name, in the library's static storage (names handed out must
// outlive the caller's string).
const char *find_single(const char *name) {
  const Preset *preset = find_preset(name);
  return preset == nullptr ? nullptr : preset->name;
}

}  // namespace

bool model_table_name(const char *model_name, uint32_t index, const char **name_out) {
  if (const LayeredModel *model = find_layered(model_name)) {
    if (index >= model->table_count) return false;
    *name_out = model->tables[index];
    return true;
  }
  const char *single = find_single(model_name);
  if (single == nullptr || index != 0) return false;
  *name_out = single;
  return true;
}

bool model_layers(const char *model_name, uint32_t *layers_out) {
  if (const LayeredModel *model = find_layered(model_name)) {
    *layers_out = model->layers;
    return true;
  }
  if (find_single(model_name) == nullptr) return false;
  *layers_out = 0;  // one table for every layer, whatever their number
  return true;
}

bool model_layer_table(const char *model_name, uint32_t layer, const char **name_out) {
  if (const LayeredModel *model = find_layered(model_name)) {
    if (layer >= model->layers) return false;
    const int table = model->table_of_layer(layer);
    *name_out = table == kNoRope ? nullptr : model->tables[table];
    return true;
  }
  const char *single = find_single(model_name);
  if (single == nullptr) return false;
  *name_out = single;
  return true;
}

}  // namespace rotor

namespace rotor {

// Names: every single-table preset, then the per-layer models that are not also one.
uint32_t preset_name_count() {
  uint32_t count = sizeof kPresets / sizeof kPresets[0];
  for (const LayeredModel &model : kLayeredModels)
    if (find_preset(model.name) == nullptr) ++count;
  return count;
}

const char *preset_name_at(uint32_t index) {
  constexpr uint32_t kSingles = sizeof kPresets / sizeof kPresets[0];
  if (index < kSingles) return kPresets[index].name;
  index -= kSingles;
  for (const LayeredModel &model : kLayeredModels) {
    if (find_preset(model.name) != nullptr) continue;
    if (index == 0) return model.name;
    --index;
  }
  return nullptr;
}

}  // namespace rotor
