// rotor_hf_config: from a Hugging Face config.json to a rotor table.
//
//   rotor_hf_config CONFIG.json [--max-len N] [--pairing half|interleaved] [--layer-type NAME]
//                               [--expect-preset NAME] [--expect-max-len N] [--expect-refusal]
//
// Reads the keys that decide a model's rotary embedding, prints the rotor_config they imply,
// builds the table and applies it to a small random tensor at positions across the table
// (original_max_position_embeddings and the top included), checking that every rotated pair
// keeps its norm times the attention factor and that the inverse rotation undoes it.
//   --expect-preset NAME  also compares the parsed config with rotor_config_preset(NAME).
//   --expect-refusal      succeeds only if the file is refused with a message (for tests).
//   --layer-type NAME     for models whose layers use different tables (transformers v5
//                         rope_parameters keyed by layer type, e.g. Gemma 3/4
//                         sliding_attention / full_attention): the table of that layer type.
//   --expect-max-len N    also checks the max_len the file implies (for tests).
//
// How keys map (Hugging Face transformers, modeling_rope_utils and the model configs):
//   rotary dims   qk_rope_head_dim (DeepSeek) | rotary_dim (GPT-J) |
//                 int(head_dim * partial_rotary_factor), partial_rotary_factor from
//                 partial_rotary_factor or rotary_pct (GPT-NeoX), default 1;
//                 head_dim from head_dim | hidden_size / num_attention_heads | n_embd / n_head
//   base          rope_theta | rotary_emb_base (GPT-NeoX) | 10000
//   max_len       what the scaling serves: max_position_embeddings | n_positions (GPT-J), or
//                 original_max_position_embeddings * factor when larger (yarn, llama3; linear
//                 when the file gives an original length:
//                 Qwen2.5's yarn factor 4 over 32768 serves 131072); for "dynamic" (no limit
//                 of its own) max_position_embeddings times the factor; --max-len overrides
//   rope_scaling  rope_scaling, or rope_parameters (transformers v5); its type from rope_type
//                 or type: default, linear, dynamic, yarn, llama3, longrope (or its old name su)
//   original len  rope_scaling.original_max_position_embeddings | the top-level key (Phi-3) |
//                 max_position_embeddings
//   LongRoPE      factor = max_position_embeddings / original_max_position_embeddings when the
//                 top-level original key exists (as Hugging Face does), else rope_scaling.factor
//   M-RoPE        rope_scaling / rope_parameters mrope_section [t, h, w] (Qwen2-VL, Qwen2.5-VL;
//                 type "mrope" is default RoPE), mrope_interleaved true (Qwen3-VL); the keys of
//                 text_config are read first (VL configs nest the language model there)
//   proportional  (Gemma 4) rotary_dim = head_dim, rope_pairs = int(partial_rotary_factor *
//                 head_dim // 2), factor (default 1)
//   pairing       interleaved for model_type gptj, deepseek_v2, deepseek_v3, cohere, cohere2,
//                 glm, llama4 (adjacent pairs); rotate_half for everything else
//   layers        layer_types / no_rope_layers are printed (per layer: which table, or none)
// A path ending in .gguf is read with rotor_config_from_gguf instead (the keys -> fields table:
// docs/gguf.md): --layer N picks the layer (default 0), the per-layer map of the file's tables
// is printed, and a layer without rotary embedding is reported as such (--expect-no-rotary for
// tests).
// Refused (exit 1, with a message): YaRN with truncate false, unknown types, missing keys,
// per-layer-type rope_parameters without --layer-type, sections that do not fill the rotary.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "rotor/rotor.h"

namespace {

using nlohmann::json;

struct Refusal : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A number under key, or nothing (absent or null).
bool number_at(const json &obj, const char *key, double *out) {
  if (!obj.is_object()) return false;
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return false;
  if (!it->is_number()) throw Refusal(std::string("\"") + key + "\" is not a number");
  *out = it->get<double>();
  return true;
}

double number_or(const json &obj, const char *key, double fallback) {
  double v;
  return number_at(obj, key, &v) ? v : fallback;
}

uint32_t positive_u32(double v, const char *what) {
  if (!(v >= 1.0) || v > 2147483647.0 || v != std::floor(v))
    throw Refusal(std::string(what) + " is not a positive integer");
  return static_cast<uint32_t>(v);
}

std::vector<float> float_list(const json &obj, const char *key) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_array()) throw Refusal(std::string("longrope needs \"") + key + "\"");
  std::vector<float> out;
  for (const json &v : *it) {
    if (!v.is_number()) throw Refusal(std::string("\"") + key + "\" holds a non-number");
    out.push_back(v.get<float>());
  }
  return out;
}

// Everything parsed from one file: the config plus what it points into.
struct Parsed {
  rotor_config cfg;
  std::string layers;  // a summary of layer_types / no_rope_layers, when the file has them
  uint32_t head_dim = 0;  // dims of the head the rotation applies to
  std::string model_type, scaling_name;
  std::vector<float> long_factor, short_factor;
};

// VL configs nest the language model's keys in text_config: those win, the top level fills in.
json text_model(const json &file) {
  if (!file.is_object() || !file.contains("text_config") || !file["text_config"].is_object()) return file;
  json merged = file["text_config"];
  for (auto it = file.begin(); it != file.end(); ++it)
    if (!merged.contains(it.key())) merged[it.key()] = it.value();
  return merged;
}

// "layers: 48, 12 without RoPE" etc., from no_rope_layers (Llama 4: 1 = uses RoPE) or
// layer_types (Gemma, Cohere2).
std::string layer_summary(const json &root) {
  std::string out;
  if (root.contains("no_rope_layers") && root["no_rope_layers"].is_array()) {
    size_t none = 0;
    for (const json &v : root["no_rope_layers"]) none += v.is_number() && v.get<double>() == 0;
    out = std::to_string(root["no_rope_layers"].size()) + " layers, " + std::to_string(none) +
          " without RoPE (no_rope_layers == 0)";
  } else if (root.contains("layer_types") && root["layer_types"].is_array()) {
    std::vector<std::pair<std::string, size_t>> counts;
    for (const json &v : root["layer_types"]) {
      const std::string name = v.is_string() ? v.get<std::string>() : "?";
      auto it = std::find_if(counts.begin(), counts.end(), [&](const auto &c) { return c.first == name; });
      if (it == counts.end()) counts.emplace_back(name, 1);
      else ++it->second;
    }
    out = std::to_string(root["layer_types"].size()) + " layers:";
    for (const auto &c : counts) out += " " + std::to_string(c.second) + " " + c.first;
  }
  return out;
}

Parsed parse(const json &file, int pairing_override, const std::string &layer_type) {
  if (!file.is_object()) throw Refusal("the file is not a JSON object");
  const json root = text_model(file);
  Parsed out;
  out.layers = layer_summary(root);
  if (root.contains("model_type") && root["model_type"].is_string()) out.model_type = root["model_type"];

  double head_dim = 0, v = 0;
  // Gemma 4's full-attention layers have heads of their own size.
  if (layer_type == "full_attention") number_at(root, "global_head_dim", &head_dim);
  if (head_dim <= 0 && !number_at(root, "head_dim", &head_dim)) {
    double hidden = 0, heads = 0;
    if ((number_at(root, "hidden_size", &hidden) || number_at(root, "n_embd", &hidden)) &&
        (number_at(root, "num_attention_heads", &heads) || number_at(root, "n_head", &heads)) && heads > 0)
      head_dim = std::floor(hidden / heads);
  }
  uint32_t rotary_dim;
  if (number_at(root, "qk_rope_head_dim", &v)) {
    // DeepSeek (MLA): only this slice of each query/key head rotates; it is its own view.
    rotary_dim = positive_u32(v, "qk_rope_head_dim");
    head_dim = rotary_dim;
  } else if (out.model_type == "gptj" && number_at(root, "rotary_dim", &v)) {
    rotary_dim = positive_u32(v, "rotary_dim");
  } else {
    double partial = 1.0;
    if (!number_at(root, "partial_rotary_factor", &partial)) number_at(root, "rotary_pct", &partial);
    if (head_dim <= 0) throw Refusal("no head_dim, hidden_size/num_attention_heads or n_embd/n_head");
    rotary_dim = static_cast<uint32_t>(head_dim * partial);  // int() as Hugging Face
  }
  out.head_dim = positive_u32(head_dim, "head_dim");

  rotor_config &cfg = out.cfg;
  rotor_config_init(&cfg, rotary_dim);
  const std::string &mt = out.model_type;
  const bool interleaved = mt == "gptj" || mt == "deepseek_v2" || mt == "deepseek_v3" || mt == "cohere" ||
                           mt == "cohere2" || mt == "glm" || mt == "llama4" || mt == "llama4_text";
  cfg.pairing = interleaved ? ROTOR_PAIRING_INTERLEAVED : ROTOR_PAIRING_HALF;
  if (pairing_override >= 0) cfg.pairing = static_cast<rotor_pairing>(pairing_override);

  json scaling = root.contains("rope_scaling") ? root["rope_scaling"] : json();
  if (scaling.is_null() && root.contains("rope_parameters")) scaling = root["rope_parameters"];
  // transformers v5 keys rope_parameters by layer type when layers differ (Gemma 3/4).
  if (scaling.is_object() && !scaling.contains("rope_type") && !scaling.contains("type") &&
      !scaling.contains("rope_theta")) {
    std::string names;
    for (auto it = scaling.begin(); it != scaling.end(); ++it) names += (names.empty() ? "" : ", ") + it.key();
    if (layer_type.empty())
      throw Refusal("rope_parameters differ per layer type (" + names + "): pass --layer-type NAME, one table each");
    if (!scaling.contains(layer_type)) throw Refusal("no rope_parameters for layer type " + layer_type + " (" + names + ")");
    scaling = json(scaling[layer_type]);
  } else if (!layer_type.empty() && layer_type != "full_attention") {
    // Gemma 3 in the v4 layout: the sliding layers' theta is rope_local_base_freq, unscaled.
    if (!root.contains("rope_local_base_freq")) throw Refusal("the file has one table for every layer type");
    scaling = json::object({{"rope_type", "default"}, {"rope_theta", root["rope_local_base_freq"]}});
  }
  cfg.base = number_or(root, "rope_theta", number_or(root, "rotary_emb_base", 10000.0));
  cfg.base = number_or(scaling, "rope_theta", cfg.base);  // v5 keeps theta in rope_parameters

  double max_pos = 0;
  if (!number_at(root, "max_position_embeddings", &max_pos) && !number_at(root, "n_positions", &max_pos))
    throw Refusal("no max_position_embeddings");
  const uint32_t max_positions = positive_u32(max_pos, "max_position_embeddings");
  cfg.max_len = max_positions;

  out.scaling_name = "default";
  if (scaling.is_object()) {
    for (const char *key : {"rope_type", "type"})
      if (scaling.contains(key) && scaling[key].is_string()) {
        out.scaling_name = scaling[key];
        break;
      }
  } else if (!scaling.is_null()) {
    throw Refusal("rope_scaling is neither an object nor null");
  }
  if (out.scaling_name == "mrope") out.scaling_name = "default";  // Qwen2-VL's name for it
  if (scaling.is_object() && scaling.contains("mrope_section")) {
    const json &sections = scaling["mrope_section"];
    if (!sections.is_array() || sections.size() != 3) throw Refusal("mrope_section must list 3 sections");
    for (uint32_t a = 0; a < 3; ++a) cfg.mrope_section[a] = positive_u32(sections[a].get<double>(), "mrope_section");
    const bool interleave = scaling.contains("mrope_interleaved") && scaling["mrope_interleaved"].is_boolean() &&
                            scaling["mrope_interleaved"].get<bool>();
    cfg.layout = interleave ? ROTOR_LAYOUT_MROPE_INTERLEAVED : ROTOR_LAYOUT_MROPE;
    if (uint64_t{cfg.mrope_section[0]} + cfg.mrope_section[1] + cfg.mrope_section[2] != rotary_dim / 2)
      throw Refusal("mrope_section does not sum to rotary_dim / 2 = " + std::to_string(rotary_dim / 2) + " pairs");
  }
  const std::string &type = out.scaling_name;
  if (type == "default") return out;
  if (type == "proportional") {
    // Gemma 4: the whole head is the rotary (the exponent divides by head_dim); the first
    // int(partial * head_dim // 2) pairs of each half rotate, the rest have frequency 0.
    double partial = number_or(scaling, "partial_rotary_factor", 1.0);
    cfg.rotary_dim = out.head_dim;
    cfg.scaling = ROTOR_SCALING_PROPORTIONAL;
    cfg.rope_pairs = static_cast<uint32_t>(std::floor(partial * out.head_dim / 2));
    if (cfg.rope_pairs == 0) throw Refusal("proportional with no rotated pair");
    cfg.factor = float(number_or(scaling, "factor", 1.0));
    return out;
  }

  double top_original = 0;
  const bool has_top_original = number_at(root, "original_max_position_embeddings", &top_original);
  double original = has_top_original ? top_original : max_pos;
  number_at(scaling, "original_max_position_embeddings", &original);
  cfg.original_max_len = positive_u32(original, "original_max_position_embeddings");
  cfg.factor = float(number_or(scaling, "factor", 1.0));
  cfg.attention_factor = float(number_or(scaling, "attention_factor", 0.0));

  // The length the scaling serves: the original context stretched by the factor, when the file's
  // max_position_embeddings is smaller (Qwen2.5 ships 32768 with yarn factor 4 for 131072).
  // Linear has no original length of its own: only one given explicitly counts (Gemma 3's
  // max_position_embeddings is already the scaled length).
  const bool explicit_original = scaling.contains("original_max_position_embeddings") || has_top_original;
  if (type == "linear" && !explicit_original) cfg.original_max_len = 0;
  const double served = std::ceil(double(cfg.original_max_len) * cfg.factor);
  if ((type == "yarn" || type == "llama3" || type == "linear") && served > cfg.max_len)
    cfg.max_len = static_cast<uint32_t>(std::min(2147483647.0, served));
  if (type == "linear") {
    cfg.scaling = ROTOR_SCALING_LINEAR;
  } else if (type == "dynamic") {
    cfg.scaling = ROTOR_SCALING_DYNAMIC_NTK;
    // Hugging Face's dynamic type measures growth from max_position_embeddings.
    cfg.original_max_len = max_positions;
    cfg.max_len = static_cast<uint32_t>(std::min(2147483647.0, std::ceil(max_pos * cfg.factor)));
  } else if (type == "yarn") {
    cfg.scaling = ROTOR_SCALING_YARN;
    if (scaling.contains("truncate") && scaling["truncate"].is_boolean() && !scaling["truncate"].get<bool>())
      throw Refusal("yarn with \"truncate\": false (unrounded correction range) is not supported");
    cfg.beta_fast = float(number_or(scaling, "beta_fast", 0.0));
    cfg.beta_slow = float(number_or(scaling, "beta_slow", 0.0));
    cfg.mscale = float(number_or(scaling, "mscale", 0.0));
    cfg.mscale_all_dim = float(number_or(scaling, "mscale_all_dim", 0.0));
  } else if (type == "llama3") {
    cfg.scaling = ROTOR_SCALING_LLAMA3;
    cfg.low_freq_factor = float(number_or(scaling, "low_freq_factor", 0.0));
    cfg.high_freq_factor = float(number_or(scaling, "high_freq_factor", 0.0));
  } else if (type == "longrope" || type == "su") {
    cfg.scaling = ROTOR_SCALING_LONGROPE;
    out.long_factor = float_list(scaling, "long_factor");
    out.short_factor = float_list(scaling, "short_factor");
    if (out.long_factor.size() != rotary_dim / 2 || out.short_factor.size() != rotary_dim / 2)
      throw Refusal("longrope factor lists must hold rotary_dim / 2 values each");
    cfg.long_factor = out.long_factor.data();
    cfg.short_factor = out.short_factor.data();
    if (has_top_original) cfg.factor = float(max_pos / top_original);
  } else {
    throw Refusal("rope type \"" + type + "\" is not one rotor implements");
  }
  return out;
}

// ---- GGUF files (llama.cpp, Ollama, LM Studio): rotor_config_from_gguf reads them ----------

// The whole file in 8-byte words: the library reads memory only, and the factor tensors keep
// the alignment they have in the file.
struct GgufFile {
  std::vector<uint64_t> words;
  size_t size = 0;
  const void *data() const { return words.data(); }
};

GgufFile read_gguf(const char *path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Refusal(std::string("cannot open ") + path);
  GgufFile file;
  file.size = static_cast<size_t>(in.tellg());
  file.words.assign(file.size / 8 + 1, 0);
  in.seekg(0);
  if (!in.read(reinterpret_cast<char *>(file.words.data()), static_cast<std::streamsize>(file.size)))
    throw Refusal(std::string("cannot read ") + path);
  return file;
}

// One letter per layer: layers with layer 0's config '0', the first other config 'a', the next
// 'b', ...; '-' for a layer without rotary embedding.
std::string gguf_layer_map(const GgufFile &file, uint32_t layers) {
  std::vector<rotor_config> seen;
  std::string map;
  for (uint32_t layer = 0; layer < layers; ++layer) {
    rotor_config cfg;
    const rotor_status st = rotor_config_from_gguf(&cfg, file.data(), file.size, layer);
    if (st != ROTOR_OK) {
      map += st == ROTOR_ERR_NO_ROTARY ? '-' : '?';
      continue;
    }
    size_t index = 0;
    while (index < seen.size() && std::memcmp(&seen[index], &cfg, sizeof cfg) != 0) ++index;
    if (index == seen.size()) seen.push_back(cfg);
    map += index == 0 ? '0' : char('a' + (index - 1) % 26);
  }
  return map;
}

// A layer of a GGUF file as the tool's Parsed; `no_rotary` when that layer has none.
Parsed parse_gguf(const char *path, uint32_t layer, int pairing_override, bool *no_rotary) {
  const GgufFile file = read_gguf(path);
  uint32_t layers = 0;
  if (rotor_gguf_layers(file.data(), file.size, &layers) != ROTOR_OK) throw Refusal(rotor_last_error_message());
  Parsed p;
  const rotor_status st = rotor_config_from_gguf(&p.cfg, file.data(), file.size, layer);
  *no_rotary = st == ROTOR_ERR_NO_ROTARY;
  if (st != ROTOR_OK && !*no_rotary) throw Refusal(rotor_last_error_message());
  p.model_type = "(GGUF file, layer " + std::to_string(layer) + " of " + std::to_string(layers) + ")";
  p.layers = std::to_string(layers) + " layers, per layer (0: layer 0's table, a, b: others, -: none): " +
             gguf_layer_map(file, layers);
  if (*no_rotary) return p;
  p.head_dim = p.cfg.rotary_dim;
  p.scaling_name = "from the GGUF keys";
  if (pairing_override >= 0) p.cfg.pairing = static_cast<rotor_pairing>(pairing_override);
  if (p.cfg.scaling == ROTOR_SCALING_LONGROPE) {  // copied: the file's buffer goes at return
    p.long_factor.assign(p.cfg.long_factor, p.cfg.long_factor + p.cfg.rotary_dim / 2);
    p.short_factor.assign(p.cfg.short_factor, p.cfg.short_factor + p.cfg.rotary_dim / 2);
  }
  return p;
}

const char *scaling_name(rotor_scaling s) {
  switch (s) {
    case ROTOR_SCALING_NONE: return "none";
    case ROTOR_SCALING_LINEAR: return "linear";
    case ROTOR_SCALING_NTK: return "ntk";
    case ROTOR_SCALING_DYNAMIC_NTK: return "dynamic_ntk";
    case ROTOR_SCALING_YARN: return "yarn";
    case ROTOR_SCALING_LLAMA3: return "llama3";
    case ROTOR_SCALING_LONGROPE: return "longrope";
    case ROTOR_SCALING_PROPORTIONAL: return "proportional";
    default: return "?";
  }
}

void print_config(const Parsed &p) {
  const rotor_config &c = p.cfg;
  std::printf("model_type        = %s\n", p.model_type.empty() ? "(none)" : p.model_type.c_str());
  std::printf("head_dim          = %u\n", p.head_dim);
  std::printf("rotary_dim        = %u\n", c.rotary_dim);
  std::printf("pairing           = %s\n", c.pairing == ROTOR_PAIRING_HALF ? "half" : "interleaved");
  std::printf("base              = %.17g\n", c.base);
  std::printf("max_len           = %u\n", c.max_len);
  std::printf("scaling           = %s (rope type \"%s\")\n", scaling_name(c.scaling), p.scaling_name.c_str());
  if (c.layout == ROTOR_LAYOUT_MROPE || c.layout == ROTOR_LAYOUT_MROPE_INTERLEAVED)
    std::printf("layout            = %s, mrope_section [%u, %u, %u] (pairs t, h, w)\n",
                c.layout == ROTOR_LAYOUT_MROPE ? "mrope" : "mrope_interleaved", c.mrope_section[0],
                c.mrope_section[1], c.mrope_section[2]);
  if (!p.layers.empty()) std::printf("layers            = %s\n", p.layers.c_str());
  if (c.scaling == ROTOR_SCALING_NONE) return;
  std::printf("factor            = %.9g\n", double(c.factor));
  std::printf("original_max_len  = %u\n", c.original_max_len);
  if (c.attention_factor > 0) std::printf("attention_factor  = %.9g (given)\n", double(c.attention_factor));
  if (c.scaling == ROTOR_SCALING_YARN)
    // The values in force: 0 in the config means the defaults, 32 and 1.
    std::printf("beta_fast         = %g%s\nbeta_slow         = %g%s\nmscale            = %g\n"
                "mscale_all_dim    = %g   (0 = unset: attention factor 0.1 ln(factor) + 1)\n",
                c.beta_fast > 0 ? double(c.beta_fast) : 32.0, c.beta_fast > 0 ? "" : " (default)",
                c.beta_slow > 0 ? double(c.beta_slow) : 1.0, c.beta_slow > 0 ? "" : " (default)",
                double(c.mscale), double(c.mscale_all_dim));
  if (c.scaling == ROTOR_SCALING_PROPORTIONAL)
    std::printf("rope_pairs        = %u of %u (the rest not rotated)\n", c.rope_pairs, c.rotary_dim / 2);
  if (c.scaling == ROTOR_SCALING_LLAMA3)
    std::printf("low_freq_factor   = %g\nhigh_freq_factor  = %g\n", double(c.low_freq_factor),
                double(c.high_freq_factor));
  if (c.scaling == ROTOR_SCALING_LONGROPE)
    std::printf("long_factor       = [%g .. %g] (%zu)\nshort_factor      = [%g .. %g] (%zu)\n",
                double(p.long_factor.front()), double(p.long_factor.back()), p.long_factor.size(),
                double(p.short_factor.front()), double(p.short_factor.back()), p.short_factor.size());
}

// Field-by-field comparison with a preset; prints every difference.
bool matches_preset(const rotor_config &a, const char *name) {
  rotor_config b;
  if (rotor_config_preset(&b, name) != ROTOR_OK) {
    std::printf("unknown preset %s\n", name);
    return false;
  }
  bool same = true;
  auto check = [&](const char *field, double x, double y) {
    if (x != y) {
      std::printf("differs from preset %s: %s %.17g vs %.17g\n", name, field, x, y);
      same = false;
    }
  };
  check("rotary_dim", a.rotary_dim, b.rotary_dim);
  check("pairing", a.pairing, b.pairing);
  check("base", a.base, b.base);
  check("max_len", a.max_len, b.max_len);
  check("scaling", a.scaling, b.scaling);
  check("factor", a.factor, b.factor);
  check("original_max_len", a.original_max_len, b.original_max_len);
  check("beta_fast", a.beta_fast, b.beta_fast);
  check("beta_slow", a.beta_slow, b.beta_slow);
  check("mscale", a.mscale, b.mscale);
  check("mscale_all_dim", a.mscale_all_dim, b.mscale_all_dim);
  check("attention_factor", a.attention_factor, b.attention_factor);
  check("low_freq_factor", a.low_freq_factor, b.low_freq_factor);
  check("high_freq_factor", a.high_freq_factor, b.high_freq_factor);
  check("layout", a.layout, b.layout);
  for (uint32_t i = 0; i < 3; ++i) check("mrope_section[i]", a.mrope_section[i], b.mrope_section[i]);
  check("rope_pairs", a.rope_pairs, b.rope_pairs);
  if (a.scaling == ROTOR_SCALING_LONGROPE && b.scaling == ROTOR_SCALING_LONGROPE)
    for (uint32_t i = 0; i < a.rotary_dim / 2; ++i) {
      check("long_factor[i]", a.long_factor[i], b.long_factor[i]);
      check("short_factor[i]", a.short_factor[i], b.short_factor[i]);
    }
  if (same) std::printf("matches preset    = %s\n", name);
  return same;
}

// Builds the table, rotates a random [1, s, 2, head_dim] tensor forward and back, and checks
// norms and the round trip. Returns false on any failure.
bool build_and_apply(const rotor_config &cfg, uint32_t head_dim) {
  rotor_table *table = nullptr;
  rotor_status st = rotor_table_create(&table, &cfg);
  if (st != ROTOR_OK) {
    std::printf("rotor_table_create: %s\n", rotor_status_string(st));
    return false;
  }
  // Positions across the table: the start, both sides of the original context, the top.
  std::vector<int32_t> positions = {0, 1, 2, 100};
  const uint32_t top = cfg.max_len - 1;
  for (uint32_t p : {cfg.original_max_len ? cfg.original_max_len - 1 : 0u, cfg.original_max_len, top / 2, top})
    if (p <= top) positions.push_back(int32_t(p));
  const uint32_t seq = uint32_t(positions.size()), heads = 2;
  std::vector<float> x(size_t{seq} * heads * head_dim);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (float &v : x) v = dist(rng);
  const std::vector<float> input = x;
  rotor_tensor view = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, seq, heads, head_dim);
  st = rotor_apply(table, &view, positions.data(), 0, ROTOR_FORWARD, nullptr);
  rotor_table_stats stats{};
  stats.struct_size = sizeof stats;
  rotor_table_stats_get(table, &stats);
  bool ok = st == ROTOR_OK;
  if (!ok) std::printf("rotor_apply: %s\n", rotor_status_string(st));
  const double af = stats.attention_factor;
  const uint32_t half = cfg.rotary_dim / 2;
  double worst_norm = 0, worst_round_trip = 0;
  for (size_t head = 0; ok && head < size_t{seq} * heads; ++head) {
    const float *in = &input[head * head_dim];
    const float *out = &x[head * head_dim];
    for (uint32_t i = 0; i < half; ++i) {
      const uint32_t a = cfg.pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
      const uint32_t b = cfg.pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
      const double before = std::hypot(double(in[a]), double(in[b]));
      const double after = std::hypot(double(out[a]), double(out[b]));
      worst_norm = std::max(worst_norm, std::fabs(after - af * before));
    }
  }
  if (ok) {
    st = rotor_apply(table, &view, positions.data(), 0, ROTOR_INVERSE, nullptr);
    ok = st == ROTOR_OK;
    // Forward then inverse multiplies by the attention factor twice.
    for (size_t i = 0; ok && i < x.size(); ++i) {
      const bool rotated = (i % head_dim) < cfg.rotary_dim;
      const double want = rotated ? af * af * double(input[i]) : double(input[i]);
      worst_round_trip = std::max(worst_round_trip, std::fabs(double(x[i]) - want));
    }
  }
  std::printf("applied           = %u tokens x %u heads, positions 0 .. %u\n", seq, heads, top);
  std::printf("attention factor  = %.9g (stats), factor %.9g, rows %u\n", af, double(stats.factor), stats.rows);
  std::printf("pair norm error   = %.3g (|rotated| - factor * |input|)\n", worst_norm);
  std::printf("round trip error  = %.3g (inverse after forward)\n", worst_round_trip);
  ok = ok && worst_norm < 1e-5 && worst_round_trip < 1e-5;
  rotor_table_destroy(table);
  return ok;
}

int usage() {
  std::fprintf(stderr,
               "usage: rotor_hf_config CONFIG.json [--max-len N] [--pairing half|interleaved]\n"
               "                       [--layer-type NAME] [--expect-preset NAME] [--expect-max-len N]\n"
               "                       [--expect-refusal]\n"
               "       rotor_hf_config MODEL.gguf [--layer N] [--max-len N] [--expect-preset NAME]\n"
               "                       [--expect-max-len N] [--expect-refusal] [--expect-no-rotary]\n");
  return 2;
}

}  // namespace

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  const char *path = argv[1];
  uint32_t max_len = 0;
  int pairing = -1;
  const char *preset = nullptr;
  bool expect_refusal = false;
  std::string layer_type;
  uint32_t expect_max_len = 0;
  uint32_t gguf_layer = 0;  // --layer: which layer of a GGUF file
  bool expect_no_rotary = false;
  const std::string path_name = path;
  const bool is_gguf = path_name.size() >= 5 && path_name.compare(path_name.size() - 5, 5, ".gguf") == 0;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--max-len" && i + 1 < argc) {
      max_len = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--pairing" && i + 1 < argc) {
      const std::string v = argv[++i];
      if (v != "half" && v != "interleaved") return usage();
      pairing = v == "half" ? ROTOR_PAIRING_HALF : ROTOR_PAIRING_INTERLEAVED;
    } else if (arg == "--expect-preset" && i + 1 < argc) {
      preset = argv[++i];
    } else if (arg == "--layer-type" && i + 1 < argc) {
      layer_type = argv[++i];
    } else if (arg == "--expect-max-len" && i + 1 < argc) {
      expect_max_len = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--layer" && i + 1 < argc) {
      gguf_layer = static_cast<uint32_t>(std::strtoul(argv[++i], nullptr, 10));
    } else if (arg == "--expect-no-rotary") {
      expect_no_rotary = true;
    } else if (arg == "--expect-refusal") {
      expect_refusal = true;
    } else {
      return usage();
    }
  }
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "cannot open %s\n", path);
    return 1;
  }
  Parsed parsed;
  bool no_rotary = false;
  try {
    parsed = is_gguf ? parse_gguf(path, gguf_layer, pairing, &no_rotary) : parse(json::parse(file), pairing, layer_type);
  } catch (const std::exception &e) {  // JSON syntax errors and refusals alike
    std::printf("refused: %s\n", e.what());
    return expect_refusal ? 0 : 1;
  }
  if (expect_refusal) {
    std::printf("expected a refusal, but the file was accepted\n");
    return 1;
  }
  if (no_rotary || expect_no_rotary) {
    std::printf("config            = %s\nlayers            = %s\n", path, parsed.layers.c_str());
    std::printf(no_rotary ? "layer %u has no rotary embedding: rotate nothing there\n"
                          : "expected layer %u without rotary embedding, but it has one\n",
                gguf_layer);
    return no_rotary == expect_no_rotary ? 0 : 1;
  }
  if (expect_max_len != 0 && parsed.cfg.max_len != expect_max_len) {
    std::printf("max_len %u, expected %u\n", parsed.cfg.max_len, expect_max_len);
    return 1;
  }
  if (max_len != 0) parsed.cfg.max_len = max_len;
  // The factor lists moved with `parsed`: point the config at them again.
  if (parsed.cfg.scaling == ROTOR_SCALING_LONGROPE) {
    parsed.cfg.long_factor = parsed.long_factor.data();
    parsed.cfg.short_factor = parsed.short_factor.data();
  }
  std::printf("config            = %s\n", path);
  print_config(parsed);
  bool ok = build_and_apply(parsed.cfg, parsed.head_dim);
  if (preset != nullptr) ok = matches_preset(parsed.cfg, preset) && ok;
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}
