// The scaling formulas (Hugging Face's rope_scaling types, in double precision) and the rule
// for when an adaptive type changes its frequencies. See docs/scaling.md for the derivations.
#include "table/scaling.hpp"

#include <algorithm>
#include <cmath>

#include "common/last_error.hpp"
#include "table/layout.hpp"
#include "table/presets.hpp"

namespace rotor {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Factors outside [2^-16, 2^24] are not scalings any model uses, and near FLT_MIN or FLT_MAX
// they turn frequencies into inf or 0 (NaN rows): refuse them at validation.
bool usable_factor(float v) { return std::isfinite(v) && v >= 0x1p-16f && v <= 0x1p24f; }
bool finite_nonnegative(float v) { return std::isfinite(v) && v >= 0.0f; }

// base^(-2i/r) for pair i: the unscaled inverse frequency.
double plain_inv_freq(double base, uint32_t rotary_dim, uint32_t i) {
  return std::pow(base, -2.0 * double(i) / double(rotary_dim));
}

// YaRN's magnitude correction: 0.1 * m * ln(s) + 1 for s > 1.
double yarn_mscale(double scale, double m) {
  if (scale <= 1.0) return 1.0;
  return 0.1 * m * std::log(scale) + 1.0;
}

double yarn_beta_fast(const rotor_config &cfg) { return cfg.beta_fast > 0.0f ? cfg.beta_fast : 32.0; }
double yarn_beta_slow(const rotor_config &cfg) { return cfg.beta_slow > 0.0f ? cfg.beta_slow : 1.0; }

// The pair index whose wavelength makes `rotations` turns over the original context.
double yarn_correction_dim(const rotor_config &cfg, double rotations) {
  return double(cfg.rotary_dim) * std::log(double(cfg.original_max_len) / (rotations * 2.0 * kPi)) /
         (2.0 * std::log(cfg.base));
}

void yarn_frequencies(const rotor_config &cfg, double *inv_freq, double *attention_factor) {
  const uint32_t half = cfg.rotary_dim / 2;
  const double s = cfg.factor;
  double low = std::floor(yarn_correction_dim(cfg, yarn_beta_fast(cfg)));
  double high = std::ceil(yarn_correction_dim(cfg, yarn_beta_slow(cfg)));
  low = std::max(low, 0.0);
  high = std::min(high, double(cfg.rotary_dim - 1));
  if (low == high) high += 0.001;  // avoids a zero-width ramp, as the reference does
  for (uint32_t i = 0; i < half; ++i) {
    double ramp = std::clamp((double(i) - low) / (high - low), 0.0, 1.0);
    double extrapolation = 1.0 - ramp;  // 1: keep the original frequency; 0: divide by s
    double original = plain_inv_freq(cfg.base, cfg.rotary_dim, i);
    inv_freq[i] = (original / s) * (1.0 - extrapolation) + original * extrapolation;
  }
  if (cfg.attention_factor > 0.0f) {
    *attention_factor = cfg.attention_factor;
  } else if (cfg.mscale > 0.0f && cfg.mscale_all_dim > 0.0f) {
    // DeepSeek-V2/V3: the ratio of two corrections (1.0 when they are equal).
    *attention_factor = yarn_mscale(s, cfg.mscale) / yarn_mscale(s, cfg.mscale_all_dim);
  } else {
    *attention_factor = yarn_mscale(s, 1.0);
  }
}

void llama3_frequencies(const rotor_config &cfg, double *inv_freq) {
  const uint32_t half = cfg.rotary_dim / 2;
  const double s = cfg.factor;
  const double low_ff = cfg.low_freq_factor > 0.0f ? cfg.low_freq_factor : 1.0;
  const double high_ff = cfg.high_freq_factor > 0.0f ? cfg.high_freq_factor : 4.0;
  const double original_len = cfg.original_max_len;
  const double low_freq_wavelen = original_len / low_ff;
  const double high_freq_wavelen = original_len / high_ff;
  for (uint32_t i = 0; i < half; ++i) {
    double f = plain_inv_freq(cfg.base, cfg.rotary_dim, i);
    double wavelen = 2.0 * kPi / f;
    if (wavelen < high_freq_wavelen) {
      inv_freq[i] = f;
    } else if (wavelen > low_freq_wavelen) {
      inv_freq[i] = f / s;
    } else if (high_ff == low_ff) {
      // The blended band is empty: only wavelen == L0 / low lands here, where Hugging Face's
      // formula divides by zero (NaN). The limit from above keeps the frequency.
      inv_freq[i] = f;
    } else {
      double smooth = (original_len / wavelen - low_ff) / (high_ff - low_ff);
      inv_freq[i] = (1.0 - smooth) * f / s + smooth * f;
    }
  }
}

void longrope_frequencies(const rotor_config &cfg, bool long_set, double *inv_freq,
                          double *attention_factor) {
  const uint32_t half = cfg.rotary_dim / 2;
  const float *ext = long_set ? cfg.long_factor : cfg.short_factor;
  for (uint32_t i = 0; i < half; ++i)
    inv_freq[i] = 1.0 / (double(ext[i]) * std::pow(cfg.base, 2.0 * double(i) / double(cfg.rotary_dim)));
  const double s = cfg.factor;
  if (cfg.attention_factor > 0.0f)
    *attention_factor = cfg.attention_factor;
  else if (s <= 1.0)
    *attention_factor = 1.0;
  else
    *attention_factor = std::sqrt(1.0 + std::log(s) / std::log(double(cfg.original_max_len)));
}

// NTK-aware base for ratio k: base * k^(r / (r - 2)).
double ntk_base(const rotor_config &cfg, double k) {
  const double r = cfg.rotary_dim;
  return cfg.base * std::pow(k, r / (r - 2.0));
}

// Hugging Face dynamic NTK: base * (s * L / L0 - (s - 1))^(r / (r - 2)), L >= L0.
double dynamic_ntk_base(const rotor_config &cfg, uint32_t seq_len) {
  const double r = cfg.rotary_dim;
  const double s = cfg.factor;
  const double len = std::max<double>(seq_len, cfg.original_max_len);
  const double bracket = s * len / double(cfg.original_max_len) - (s - 1.0);
  return cfg.base * std::pow(bracket, r / (r - 2.0));
}

// The smallest even integer k' with original_max_len * k' >= seq_len.
double ntk_outlier_k(const rotor_config &cfg, uint32_t seq_len) {
  uint64_t k = (uint64_t{seq_len} + cfg.original_max_len - 1) / cfg.original_max_len;
  if (k % 2 != 0) ++k;
  return double(k);
}

}  // namespace

rotor_status validate_scaling(const rotor_config &cfg) {
  const bool needs_original = cfg.scaling != ROTOR_SCALING_NONE && cfg.scaling != ROTOR_SCALING_LINEAR;
  switch (cfg.scaling) {
    case ROTOR_SCALING_NONE:
      return ROTOR_OK;
    case ROTOR_SCALING_LINEAR:
      return usable_factor(cfg.factor) ? ROTOR_OK : ROTOR_ERR_INVALID_ARGUMENT;
    case ROTOR_SCALING_NTK:
    case ROTOR_SCALING_DYNAMIC_NTK:
      // r = 2 would put r - 2 = 0 in the exponent's denominator.
      if (cfg.rotary_dim < 4) return ROTOR_ERR_INVALID_ARGUMENT;
      if (!usable_factor(cfg.factor) || cfg.factor < 1.0f) return ROTOR_ERR_INVALID_ARGUMENT;
      // ntk_dynamic only means something to NTK; DYNAMIC_NTK always follows Hugging Face.
      if (cfg.scaling == ROTOR_SCALING_NTK && cfg.ntk_dynamic != 0 && cfg.ntk_dynamic != 1)
        return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    case ROTOR_SCALING_YARN:
      if (!usable_factor(cfg.factor)) return ROTOR_ERR_INVALID_ARGUMENT;
      if (!finite_nonnegative(cfg.beta_fast) || !finite_nonnegative(cfg.beta_slow) ||
          !finite_nonnegative(cfg.mscale) || !finite_nonnegative(cfg.mscale_all_dim) ||
          !finite_nonnegative(cfg.attention_factor))
        return ROTOR_ERR_INVALID_ARGUMENT;
      if (cfg.base == 1.0) return ROTOR_ERR_INVALID_ARGUMENT;  // ln(base) divides
      // beta_fast counts the rotations of the fast end of the ramp: a value below beta_slow
      // turns the ramp around (Hugging Face only warns; the result is meaningless).
      if (yarn_beta_fast(cfg) < yarn_beta_slow(cfg)) return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    case ROTOR_SCALING_LLAMA3: {
      if (!usable_factor(cfg.factor)) return ROTOR_ERR_INVALID_ARGUMENT;
      if (!finite_nonnegative(cfg.low_freq_factor) || !finite_nonnegative(cfg.high_freq_factor))
        return ROTOR_ERR_INVALID_ARGUMENT;
      double low = cfg.low_freq_factor > 0.0f ? cfg.low_freq_factor : 1.0;
      double high = cfg.high_freq_factor > 0.0f ? cfg.high_freq_factor : 4.0;
      // Equal factors are Llama 4 Scout's (low 1, high 1): no blended band. Reversed ones make
      // no sense (Hugging Face only warns).
      if (!(high >= low)) return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    }
    case ROTOR_SCALING_PROPORTIONAL:
      if (!usable_factor(cfg.factor) || cfg.rope_pairs > cfg.rotary_dim / 2) return ROTOR_ERR_INVALID_ARGUMENT;
      return ROTOR_OK;
    case ROTOR_SCALING_LONGROPE: {
      if (cfg.long_factor == nullptr || cfg.short_factor == nullptr)
        return fail(ROTOR_ERR_INVALID_ARGUMENT, "LONGROPE needs long_factor and short_factor");
      // The arrays are read for rotary_dim / 2 floats each: refuse before the first read when
      // they are known to hold another number (factor_count, or a preset's own arrays, whose
      // length the library knows even when an older caller's struct has no factor_count).
      const uint32_t half = cfg.rotary_dim / 2;
      if (cfg.factor_count != 0 && cfg.factor_count != half)
        return fail(ROTOR_ERR_INVALID_ARGUMENT, "factor_count is not rotary_dim / 2 (the LongRoPE factor arrays "
                                                "would be read past their end)");
      uint32_t known_length = 0;
      if ((preset_factor_length(cfg.long_factor, &known_length) && known_length != half) ||
          (preset_factor_length(cfg.short_factor, &known_length) && known_length != half))
        return fail(ROTOR_ERR_INVALID_ARGUMENT, "a preset's LongRoPE factors hold the preset's rotary_dim / 2 values, "
                                                "not this rotary_dim / 2");
      if (!usable_factor(cfg.factor) || !finite_nonnegative(cfg.attention_factor))
        return ROTOR_ERR_INVALID_ARGUMENT;
      for (uint32_t i = 0; i < cfg.rotary_dim / 2; ++i)
        if (!usable_factor(cfg.long_factor[i]) || !usable_factor(cfg.short_factor[i]))
          return ROTOR_ERR_INVALID_ARGUMENT;
      break;
    }
    default:
      return ROTOR_ERR_INVALID_ARGUMENT;
  }
  if (needs_original && cfg.original_max_len == 0) return ROTOR_ERR_INVALID_ARGUMENT;
  return ROTOR_OK;
}

bool scaling_is_adaptive(const rotor_config &cfg) {
  return (cfg.scaling == ROTOR_SCALING_NTK && cfg.ntk_dynamic) ||
         cfg.scaling == ROTOR_SCALING_DYNAMIC_NTK || cfg.scaling == ROTOR_SCALING_LONGROPE;
}

bool scaling_has_one_off(const rotor_config &cfg) {
  return cfg.scaling == ROTOR_SCALING_NTK && !cfg.ntk_dynamic;
}

ScaleState initial_scale_state(const rotor_config &cfg) {
  ScaleState state;
  if (cfg.scaling == ROTOR_SCALING_NTK) state.ntk_k = cfg.factor;
  if (cfg.scaling == ROTOR_SCALING_DYNAMIC_NTK) state.dynamic_len = cfg.original_max_len;
  return state;
}

ScalePlan plan_scale(const rotor_config &cfg, const ScaleState &current, uint32_t seq_len) {
  ScalePlan plan;
  switch (cfg.scaling) {
    case ROTOR_SCALING_NTK: {
      double served = double(cfg.original_max_len) * current.ntk_k;  // es
      if (double(seq_len) <= served) break;
      plan.state = current;
      plan.state.ntk_k = ntk_outlier_k(cfg, seq_len);
      plan.kind = cfg.ntk_dynamic ? ScalePlanKind::kAdopt : ScalePlanKind::kOneOff;
      break;
    }
    case ROTOR_SCALING_DYNAMIC_NTK:
      // Hugging Face's rule: grow the base past the longest length seen; return to the
      // original base when a sequence shorter than the original context comes.
      if (seq_len > current.dynamic_len) {
        plan.kind = ScalePlanKind::kAdopt;
        plan.state = current;
        plan.state.dynamic_len = seq_len;
      } else if (seq_len < cfg.original_max_len && current.dynamic_len > cfg.original_max_len) {
        plan.kind = ScalePlanKind::kAdopt;
        plan.state = current;
        plan.state.dynamic_len = cfg.original_max_len;
      }
      break;
    case ROTOR_SCALING_LONGROPE: {
      bool want_long = seq_len > cfg.original_max_len;
      if (want_long != current.long_factors) {
        plan.kind = ScalePlanKind::kAdopt;
        plan.state = current;
        plan.state.long_factors = want_long;
      }
      break;
    }
    default:
      break;
  }
  return plan;
}

void compute_frequencies(const rotor_config &cfg, const ScaleState &state, double *inv_freq,
                         double *attention_factor) {
  const uint32_t half = cfg.rotary_dim / 2;
  *attention_factor = 1.0;
  switch (cfg.scaling) {
    case ROTOR_SCALING_YARN:
      yarn_frequencies(cfg, inv_freq, attention_factor);
      return;
    case ROTOR_SCALING_LLAMA3:
      llama3_frequencies(cfg, inv_freq);
      return;
    case ROTOR_SCALING_LONGROPE:
      longrope_frequencies(cfg, state.long_factors, inv_freq, attention_factor);
      return;
    default:
      break;
  }
  double base = cfg.base;
  if (cfg.scaling == ROTOR_SCALING_NTK) base = ntk_base(cfg, state.ntk_k);
  if (cfg.scaling == ROTOR_SCALING_DYNAMIC_NTK) base = dynamic_ntk_base(cfg, state.dynamic_len);
  // Position interpolation divides every frequency by the factor (positions p / s).
  // (Proportional divides by it too.)
  const bool divides = cfg.scaling == ROTOR_SCALING_LINEAR || cfg.scaling == ROTOR_SCALING_PROPORTIONAL;
  const double divisor = divides ? double(cfg.factor) : 1.0;
  for (uint32_t i = 0; i < half; ++i)
    inv_freq[i] = plain_inv_freq(base, cfg.rotary_dim, pair_frequency_index(cfg, i)) / divisor;
  // Proportional: pairs past rope_pairs are not rotated (frequency 0: cos 1, sin 0 at every
  // position, so the kernel passes them through unchanged).
  if (cfg.scaling == ROTOR_SCALING_PROPORTIONAL && cfg.rope_pairs != 0)
    for (uint32_t i = cfg.rope_pairs; i < half; ++i) inv_freq[i] = 0.0;
}

double reported_factor(const rotor_config &cfg, const ScaleState &state) {
  if (cfg.scaling == ROTOR_SCALING_NONE) return 1.0;  // (PROPORTIONAL reports its divisor)
  if (cfg.scaling == ROTOR_SCALING_NTK) return state.ntk_k;
  return cfg.factor;
}

// DeepSeek-V2/V3 fold mscale(s, mscale) / mscale(s, mscale_all_dim) into cos and sin (the
// table does that) and, separately, multiply the attention scale by mscale(s, mscale_all_dim)^2
// (modeling_deepseek.py: softmax_scale = q_head_dim^-0.5 * m * m when mscale_all_dim is set).
// Ports that forget the second part are off by about 1.59x (V2-Lite) to 1.87x (V3) at every
// position but 0. See docs/scaling.md.
double attention_softmax_scale(const rotor_config &cfg, uint32_t head_dim) {
  double scale = 1.0 / std::sqrt(double(head_dim));
  const double s = cfg.factor;
  // DeepSeek applies it whenever mscale_all_dim is set (their configs set mscale too).
  if (cfg.scaling == ROTOR_SCALING_YARN && cfg.mscale_all_dim > 0.0f && s > 1.0) {
    const double m = 0.1 * double(cfg.mscale_all_dim) * std::log(s) + 1.0;
    scale *= m * m;
  }
  return scale;
}

}  // namespace rotor
