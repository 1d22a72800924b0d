// Test helpers: an independent double-precision RoPE reference written plainly from the
// formulas (it shares no code with the library), tensors with random contents, and ulp
// distances.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "elements.hpp"
#include "rotor/rotor.h"

namespace ref {

// theta_i = base^(-2i/r) for the unscaled table.
inline double inv_freq(double base, uint32_t rotary_dim, uint32_t i) {
  return std::pow(base, -2.0 * double(i) / double(rotary_dim));
}

// Pair i's two dims in a head.
inline void pair_dims(rotor_pairing pairing, uint32_t rotary_dim, uint32_t i, uint32_t *a, uint32_t *b) {
  if (pairing == ROTOR_PAIRING_HALF) {
    *a = i;
    *b = i + rotary_dim / 2;
  } else {
    *a = 2 * i;
    *b = 2 * i + 1;
  }
}

// Rotates one head (double in, double out) by angles p * freqs[i].
inline void rotate_head(std::vector<double> &head, uint32_t rotary_dim, rotor_pairing pairing,
                        const std::vector<double> &freqs, double position, bool inverse,
                        double attention_factor = 1.0) {
  for (uint32_t i = 0; i < rotary_dim / 2; ++i) {
    uint32_t ia, ib;
    pair_dims(pairing, rotary_dim, i, &ia, &ib);
    const double angle = position * freqs[i];
    const double c = std::cos(angle) * attention_factor;
    const double s = (inverse ? -1.0 : 1.0) * std::sin(angle) * attention_factor;
    const double a = head[ia], b = head[ib];
    head[ia] = a * c - b * s;
    head[ib] = b * c + a * s;
  }
}

inline std::vector<double> plain_freqs(double base, uint32_t rotary_dim) {
  std::vector<double> f(rotary_dim / 2);
  for (uint32_t i = 0; i < rotary_dim / 2; ++i) f[i] = inv_freq(base, rotary_dim, i);
  return f;
}

// Plain decoders, written from the formats (support/elements.hpp).
using test_support::bf16_value;
using test_support::f16_value;

// Distance in units in the last place between two floats (0 when equal).
inline int64_t ulp_distance(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = int32_t(0x80000000u - uint32_t(ia));
  if (ib < 0) ib = int32_t(0x80000000u - uint32_t(ib));
  return std::llabs(int64_t(ia) - int64_t(ib));
}

inline rotor_config config(uint32_t rotary_dim, rotor_pairing pairing = ROTOR_PAIRING_HALF,
                           uint32_t max_len = 4096, uint32_t initial_len = 16) {
  rotor_config cfg;
  rotor_config_init(&cfg, rotary_dim);
  cfg.pairing = pairing;
  cfg.max_len = max_len;
  cfg.initial_len = initial_len;
  return cfg;
}

// A table that destroys itself.
struct Table {
  rotor_table *t = nullptr;
  explicit Table(const rotor_config &cfg) {
    if (rotor_table_create(&t, &cfg) != ROTOR_OK) t = nullptr;
  }
  ~Table() { rotor_table_destroy(t); }
  Table(const Table &) = delete;
  Table &operator=(const Table &) = delete;
  operator rotor_table *() const { return t; }
  rotor_table_stats stats() const {
    rotor_table_stats s{};
    s.struct_size = sizeof s;
    rotor_table_stats_get(t, &s);
    return s;
  }
};

inline std::vector<float> random_floats(size_t n, uint32_t seed, float lo = -2.0f, float hi = 2.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float &x : v) x = dist(rng);
  return v;
}

}  // namespace ref
