// rotor_hf_config: from a Hugging Face config.json to a rotor table.
//
//   rotor_hf_config CONFIG.json [--max-len N] [--pairing half|interleaved]
//                               [--expect-preset NAME] [--expect-refusal]
//
// Reads the keys that decide a model's rotary embedding, prints the rotor_config they imply,
// builds the table and applies it to a small random tensor at positions across the table
// (original_max_position_embeddings and the top included), checking that every rotated pair
// keeps its norm times the attention factor and that the inverse rotation undoes it.
//   --expect-preset NAME  also compares the parsed config with rotor_config_preset(NAME).
//   --expect-refusal      succeeds only if the file is refused with a message (for tests).
//
// How keys map (Hugging Face transformers, modeling_rope_utils and the model configs):
//   rotary dims   qk_rope_head_dim (DeepSeek) | rotary_dim (GPT-J) |
//                 int(head_dim * partial_rotary_factor), partial_rotary_factor from
//                 partial_rotary_factor or rotary_pct (GPT-NeoX), default 1;
//                 head_dim from head_dim | hidden_size / num_attention_heads | n_embd / n_head
//   base          rope_theta | rotary_emb_base (GPT-NeoX) | 10000
//   max_len       max_position_embeddings | n_positions (GPT-J); for "dynamic" (which has no
//                 limit of its own) that times the factor; --max-len overrides
//   rope_scaling  rope_scaling, or rope_parameters (transformers v5); its type from rope_type
//                 or type: default, linear, dynamic, yarn, llama3, longrope (or its old name su)
//   original len  rope_scaling.original_max_position_embeddings | the top-level key (Phi-3) |
//                 max_position_embeddings
//   LongRoPE      factor = max_position_embeddings / original_max_position_embeddings when the
//                 top-level original key exists (as Hugging Face does), else rope_scaling.factor
//   pairing       interleaved for model_type gptj, deepseek_v2, deepseek_v3 (adjacent pairs);
//                 rotate_half for everything else
// Refused (exit 1, with a message): YaRN with truncate false, unknown types, missing keys.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
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
  uint32_t head_dim = 0;  // dims of the head the rotation applies to
  std::string model_type, scaling_name;
  std::vector<float> long_factor, short_factor;
};

Parsed parse(const json &root, int pairing_override) {
  if (!root.is_object()) throw Refusal("the file is not a JSON object");
  Parsed out;
  if (root.contains("model_type") && root["model_type"].is_string()) out.model_type = root["model_type"];

  double head_dim = 0, v = 0;
  if (!number_at(root, "head_dim", &head_dim)) {
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
  const bool interleaved = out.model_type == "gptj" || out.model_type == "deepseek_v2" ||
                           out.model_type == "deepseek_v3";
  cfg.pairing = interleaved ? ROTOR_PAIRING_INTERLEAVED : ROTOR_PAIRING_HALF;
  if (pairing_override >= 0) cfg.pairing = static_cast<rotor_pairing>(pairing_override);

  json scaling = root.contains("rope_scaling") ? root["rope_scaling"] : json();
  if (scaling.is_null() && root.contains("rope_parameters")) scaling = root["rope_parameters"];
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
  const std::string &type = out.scaling_name;
  if (type == "default") return out;

  double top_original = 0;
  const bool has_top_original = number_at(root, "original_max_position_embeddings", &top_original);
  double original = has_top_original ? top_original : max_pos;
  number_at(scaling, "original_max_position_embeddings", &original);
  cfg.original_max_len = positive_u32(original, "original_max_position_embeddings");
  cfg.factor = float(number_or(scaling, "factor", 1.0));
  cfg.attention_factor = float(number_or(scaling, "attention_factor", 0.0));

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

const char *scaling_name(rotor_scaling s) {
  switch (s) {
    case ROTOR_SCALING_NONE: return "none";
    case ROTOR_SCALING_LINEAR: return "linear";
    case ROTOR_SCALING_NTK: return "ntk";
    case ROTOR_SCALING_DYNAMIC_NTK: return "dynamic_ntk";
    case ROTOR_SCALING_YARN: return "yarn";
    case ROTOR_SCALING_LLAMA3: return "llama3";
    case ROTOR_SCALING_LONGROPE: return "longrope";
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
  if (c.scaling == ROTOR_SCALING_NONE) return;
  std::printf("factor            = %.9g\n", double(c.factor));
  std::printf("original_max_len  = %u\n", c.original_max_len);
  if (c.attention_factor > 0) std::printf("attention_factor  = %.9g (given)\n", double(c.attention_factor));
  if (c.scaling == ROTOR_SCALING_YARN)
    std::printf("beta_fast         = %g\nbeta_slow         = %g\nmscale            = %g\n"
                "mscale_all_dim    = %g   (0 = model default)\n",
                double(c.beta_fast), double(c.beta_slow), double(c.mscale), double(c.mscale_all_dim));
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
               "                       [--expect-preset NAME] [--expect-refusal]\n");
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
  try {
    parsed = parse(json::parse(file), pairing);
  } catch (const std::exception &e) {  // JSON syntax errors and refusals alike
    std::printf("refused: %s\n", e.what());
    return expect_refusal ? 0 : 1;
  }
  if (expect_refusal) {
    std::printf("expected a refusal, but the file was accepted\n");
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
