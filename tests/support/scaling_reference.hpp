// Independent reference of the scaling formulas for the scaling tests, in long double.
//
// Written from the published formulas (Hugging Face modeling_rope_utils: _compute_*_parameters
// and dynamic_rope_update; the NTK rule of rotor's contract), sharing no code with
// src/table/scaling.cpp. The structure follows Hugging Face's rather than the library's (YaRN from
// pos_freqs, Llama 3 with torch.where's two passes), so a slip copied from one into the other
// is unlikely. Long double (64-bit mantissa on x86) gives angles p * theta exact to ~2^-44 at
// p = 2^20, far below a float ulp; where long double is just double (32-bit ARM), the accuracy
// test says so and widens nothing (it then checks against a double reference).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "rotor/rotor.h"

namespace sref {

using LD = long double;
const LD kPi = 3.141592653589793238462643383279502884L;

// The adaptive part of a table's state, as the tests track it themselves.
struct State {
  LD ntk_k = 1;              // NTK: the k in use
  uint32_t dynamic_len = 0;  // DYNAMIC_NTK: Hugging Face's max_seq_len_cached
  bool long_set = false;     // LONGROPE
};

inline LD pow_base(LD base, uint32_t i, uint32_t r) {
  return std::pow(base, LD(2 * i) / LD(r));  // base^(2i/r): Hugging Face's pos_freqs
}

inline LD yarn_get_mscale(LD scale, LD m) {
  if (scale <= 1) return 1;
  return LD(0.1) * m * std::log(scale) + 1;
}

// Inverse frequencies theta_i (r/2 of them) of a config in a given state.
inline std::vector<LD> inv_freq(const rotor_config &cfg, const State &st) {
  const uint32_t r = cfg.rotary_dim, half = r / 2;
  const LD base = cfg.base;
  const LD s = cfg.factor;
  std::vector<LD> out(half);
  switch (cfg.scaling) {
    case ROTOR_SCALING_NONE:
      for (uint32_t i = 0; i < half; ++i) out[i] = 1 / pow_base(base, i, r);
      break;
    case ROTOR_SCALING_LINEAR:
      for (uint32_t i = 0; i < half; ++i) out[i] = 1 / pow_base(base, i, r) / s;
      break;
    case ROTOR_SCALING_NTK: {
      const LD b = base * std::pow(st.ntk_k, LD(r) / LD(r - 2));
      for (uint32_t i = 0; i < half; ++i) out[i] = 1 / pow_base(b, i, r);
      break;
    }
    case ROTOR_SCALING_DYNAMIC_NTK: {
      const LD L0 = cfg.original_max_len;
      const LD seq = st.dynamic_len > cfg.original_max_len ? LD(st.dynamic_len) : L0;
      const LD b = base * std::pow(s * seq / L0 - (s - 1), LD(r) / LD(r - 2));
      for (uint32_t i = 0; i < half; ++i) out[i] = 1 / pow_base(b, i, r);
      break;
    }
    case ROTOR_SCALING_YARN: {
      const LD beta_fast = cfg.beta_fast > 0 ? LD(cfg.beta_fast) : 32;
      const LD beta_slow = cfg.beta_slow > 0 ? LD(cfg.beta_slow) : 1;
      const LD L0 = cfg.original_max_len;
      auto correction_dim = [&](LD rotations) {
        return LD(r) * std::log(L0 / (rotations * 2 * kPi)) / (2 * std::log(base));
      };
      LD low = std::floor(correction_dim(beta_fast));
      LD high = std::ceil(correction_dim(beta_slow));
      if (low < 0) low = 0;
      if (high > LD(r - 1)) high = LD(r - 1);
      if (low == high) high += LD(0.001);
      for (uint32_t i = 0; i < half; ++i) {
        const LD pos_freq = pow_base(base, i, r);
        const LD extrapolation = 1 / pos_freq;
        const LD interpolation = 1 / (s * pos_freq);
        LD ramp = (LD(i) - low) / (high - low);
        ramp = ramp < 0 ? 0 : (ramp > 1 ? 1 : ramp);
        const LD extrapolation_factor = 1 - ramp;
        out[i] = interpolation * (1 - extrapolation_factor) + extrapolation * extrapolation_factor;
      }
      break;
    }
    case ROTOR_SCALING_LLAMA3: {
      const LD low_ff = cfg.low_freq_factor > 0 ? LD(cfg.low_freq_factor) : 1;
      const LD high_ff = cfg.high_freq_factor > 0 ? LD(cfg.high_freq_factor) : 4;
      const LD old_len = cfg.original_max_len;
      const LD low_wavelen = old_len / low_ff, high_wavelen = old_len / high_ff;
      for (uint32_t i = 0; i < half; ++i) {
        const LD f = 1 / pow_base(base, i, r);
        const LD wavelen = 2 * kPi / f;
        // First pass: long wavelengths divided by the factor.
        const LD scaled = wavelen > low_wavelen ? f / s : f;
        // Second pass: the medium band blends the first pass's value.
        const LD smooth = (old_len / wavelen - low_ff) / (high_ff - low_ff);
        const bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        out[i] = medium ? (1 - smooth) * scaled / s + smooth * scaled : scaled;
      }
      break;
    }
    case ROTOR_SCALING_LONGROPE: {
      const float *ext = st.long_set ? cfg.long_factor : cfg.short_factor;
      for (uint32_t i = 0; i < half; ++i) out[i] = 1 / (LD(ext[i]) * pow_base(base, i, r));
      break;
    }
  }
  return out;
}

// The factor that multiplies cos and sin.
inline LD attention_factor(const rotor_config &cfg) {
  const LD s = cfg.factor;
  if (cfg.scaling == ROTOR_SCALING_YARN) {
    if (cfg.attention_factor > 0) return cfg.attention_factor;
    if (cfg.mscale > 0 && cfg.mscale_all_dim > 0)
      return yarn_get_mscale(s, cfg.mscale) / yarn_get_mscale(s, cfg.mscale_all_dim);
    return yarn_get_mscale(s, 1);
  }
  if (cfg.scaling == ROTOR_SCALING_LONGROPE) {
    if (cfg.attention_factor > 0) return cfg.attention_factor;
    if (s <= 1) return 1;
    return std::sqrt(1 + std::log(s) / std::log(LD(cfg.original_max_len)));
  }
  return 1;
}

// The state a table starts in, and the state after a call whose largest position + 1 is
// seq_len (Hugging Face's dynamic_rope_update and longrope_frequency_update; rotor's NTK rule
// with ntk_dynamic). For NTK without ntk_dynamic the table's state never changes; the k a
// single call uses is call_state().
inline State initial_state(const rotor_config &cfg) {
  State st;
  st.ntk_k = cfg.factor;
  st.dynamic_len = cfg.original_max_len;
  return st;
}

inline LD ntk_outlier_k(const rotor_config &cfg, uint32_t seq_len) {
  // Smallest even integer k' with original_max_len * k' >= seq_len, found by counting up.
  uint64_t k = 2;
  while (uint64_t{cfg.original_max_len} * k < seq_len) k += 2;
  return LD(k);
}

inline State call_state(const rotor_config &cfg, const State &table, uint32_t seq_len) {
  State st = table;
  switch (cfg.scaling) {
    case ROTOR_SCALING_NTK:
      if (LD(seq_len) > LD(cfg.original_max_len) * table.ntk_k) st.ntk_k = ntk_outlier_k(cfg, seq_len);
      break;
    case ROTOR_SCALING_DYNAMIC_NTK:
      if (seq_len > table.dynamic_len) st.dynamic_len = seq_len;
      if (seq_len < cfg.original_max_len && st.dynamic_len > cfg.original_max_len)
        st.dynamic_len = cfg.original_max_len;
      break;
    case ROTOR_SCALING_LONGROPE:
      st.long_set = seq_len > cfg.original_max_len;
      break;
    default:
      break;
  }
  return st;
}

inline State after_call(const rotor_config &cfg, const State &table, uint32_t seq_len) {
  if (cfg.scaling == ROTOR_SCALING_NTK && !cfg.ntk_dynamic) return table;
  return call_state(cfg, table, seq_len);
}

// cos or sin of p * theta times the attention factor, in long double.
inline LD entry(LD theta, uint32_t p, LD af, bool sine) {
  const LD angle = LD(p) * theta;
  return (sine ? std::sin(angle) : std::cos(angle)) * af;
}

// Whether a float table entry meets the contract against the exact value: within 1 ulp of
// the correctly rounded float, or (near zeros of cos and sin) within 2^-26 absolute.
inline bool within_contract(float got, LD exact) {
  const float rounded = static_cast<float>(exact);
  if (std::fabs(LD(got) - exact) <= std::ldexp(LD(1), -26)) return true;
  if (got == rounded) return true;
  return std::nextafter(rounded, INFINITY) == got || std::nextafter(rounded, -INFINITY) == got;
}

inline rotor_config base_config(uint32_t rotary_dim, rotor_scaling scaling, uint32_t max_len,
                                uint32_t original_max_len, float factor) {
  rotor_config cfg;
  rotor_config_init(&cfg, rotary_dim);
  cfg.scaling = scaling;
  cfg.max_len = max_len;
  cfg.initial_len = 16;
  cfg.original_max_len = original_max_len;
  cfg.factor = factor;
  return cfg;
}

// Deterministic LongRoPE factors for r/2 pairs: short near 1, long growing to ~factor.
struct LongRopeFactors {
  std::vector<float> long_f, short_f;
  explicit LongRopeFactors(uint32_t half) : long_f(half), short_f(half) {
    for (uint32_t i = 0; i < half; ++i) {
      short_f[i] = 1.0f + 0.03f * float(i);
      long_f[i] = 1.0f + 2.5f * float(i) * float(i) / float(half);
    }
  }
};

}  // namespace sref
