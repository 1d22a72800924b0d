// Inputs of the attention programs that count allocations: one sequence of `prompt` tokens of
// deterministic values (no RNG state, so every program sees the same numbers), f32 views for a
// prefill of all of them and for a decode step of one, the adaptive config of those that cross
// a rescale, and the one way those programs report a failure.
#pragma once
#include <cstdint>
#include <cstdio>
#include <vector>

#include "rotor/rotor.h"
#include "scaling_reference.hpp"

namespace test_support {

struct AttentionInputs {
  std::vector<float> q, k, v, out;
  rotor_tensor tq, tk, tv, to;      // [1, prompt, heads, d]: a prefill
  rotor_tensor dq, dk, dv, dout;    // [1, 1, heads, d]: one decode step (the first token's data)

  AttentionInputs(uint32_t prompt, uint32_t q_heads, uint32_t kv_heads, uint32_t d)
      : q(size_t{prompt} * q_heads * d), k(size_t{prompt} * kv_heads * d), v(k.size()), out(q.size()) {
    for (size_t i = 0; i < q.size(); ++i) q[i] = float((i * 7919) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < k.size(); ++i) k[i] = v[i] = float((i * 104729) % 1000) / 1000.0f - 0.5f;
    tq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, prompt, q_heads, d);
    tk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, prompt, kv_heads, d);
    tv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, prompt, kv_heads, d);
    to = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, prompt, q_heads, d);
    dq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, 1, q_heads, d);
    dk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, 1, kv_heads, d);
    dv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, 1, kv_heads, d);
    dout = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, 1, q_heads, d);
  }
  AttentionInputs(const AttentionInputs &) = delete;
  AttentionInputs &operator=(const AttentionInputs &) = delete;
};

// The adaptive table of the programs that count allocations across rescales and context
// shifts: rotary_dim r (at most 128), initial_len 16, factor 4, and LongRoPE factors far apart
// (short 1 + 0.05 i, long 1 + 0.5 i) so a switch between them re-rotates every cached key.
inline rotor_config adaptive_config(uint32_t r, rotor_scaling scaling, uint32_t max_len, uint32_t original_max_len) {
  static float short_factor[64], long_factor[64];  // the config points at them: they outlive it
  for (uint32_t i = 0; i < 64; ++i) {
    short_factor[i] = 1.0f + 0.05f * float(i);
    long_factor[i] = 1.0f + 0.5f * float(i);
  }
  rotor_config cfg = sref::base_config(r, scaling, max_len, original_max_len, 4.0f);
  cfg.short_factor = short_factor;
  cfg.long_factor = long_factor;
  return cfg;
}

// Prints "<program>: <what>" to stderr; returns the exit status of a failed check.
inline int report_failure(const char *program, const char *what) {
  std::fprintf(stderr, "%s: %s\n", program, what);
  return 1;
}

}  // namespace test_support
