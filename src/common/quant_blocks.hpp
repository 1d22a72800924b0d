// ggml's block quantizations Q8_0 and Q4_0 of 32 elements, written once: the quantizer every
// cache write goes through (the reference rule of ggml's quantize_row_q8_0_ref /
// quantize_row_q4_0_ref, so the numbers are ggml's bit for bit), the dequantized value of one
// element, ggml's row layout (the layout of quantized values in a KV cache) and the
// dimension-major placement of the same numbers (the KV cache's key blocks). Header-only: the
// kernel sets under arch/ include it inside their own namespace (as common/half.hpp), so their
// dequantization loops compile with their instruction set.
//
// Q8_0: d = amax / 127, q = round_half_away(x / d) in [-127, 127], x' = q * d.
// Q4_0: m = the element of largest magnitude (its sign kept), d = m / -8,
//       q = min(15, trunc(x / d + 8.5)) in [0, 15], x' = (q - 8) * d.
// d is stored as f16 (rounded to nearest even) but the quotients use the unrounded float d, as
// ggml does. x' = q * f16(d) is exact in float (an int of at most 8 bits times an 11-bit
// significand), so a dequantized element is the same float on every path.
#pragma once
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/half.hpp"
#include "rotor/rotor.h"

namespace rotor {

constexpr uint32_t kQuantGroup = 32;  // elements per block (per f16 scale)

// Bytes of one ggml block: the f16 scale, then 32 int8 (Q8_0) or 16 bytes of nibbles (Q4_0).
constexpr size_t quant_block_bytes(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_Q8_0 ? 34 : 18; }

// Bits of one quantized element (8 or 4): the key blocks' sizes follow from it.
constexpr uint32_t quant_bits(rotor_dtype dtype) { return dtype == ROTOR_DTYPE_Q8_0 ? 8 : 4; }

// One group: x[32] -> *scale (f16 bits) and q[32] (Q8_0: the int8's bits; Q4_0: 0..15).
// Non-finite input cannot reach an undefined float-to-int conversion: a quotient that is NaN or
// past the range is clamped first (finite input never is: the clamps are then no-ops).
//
// Q8_0 is written without branches or library calls so that the compiler vectorizes it (the
// append path quantizes every new key and value): the maximum in 8 lanes (each lane's maximum
// of non-negative, non-NaN values, so the lanes combine to the same number in any order), and
// round-half-away-from-zero as truncation plus one step where the dropped fraction is half or
// more. The clamp comes before the rounding: for every input that gives the same integer as
// ggml's round-then-clamp (|x * id| exceeds 127 only by a rounding error, and a NaN becomes 0).
inline void quantize_group(rotor_dtype dtype, const float *x, uint16_t *scale, uint8_t *q) {
  if (dtype == ROTOR_DTYPE_Q8_0) {
    constexpr uint32_t kLanes = 8;
    float lane[kLanes] = {};
    for (uint32_t j = 0; j < kQuantGroup; ++j) {
      const float a = std::fabs(x[j]);
      lane[j % kLanes] = a > lane[j % kLanes] ? a : lane[j % kLanes];  // a NaN never replaces
    }
    float amax = 0.0f;
    for (uint32_t l = 0; l < kLanes; ++l) amax = lane[l] > amax ? lane[l] : amax;
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    *scale = float_to_f16(d);
    for (uint32_t j = 0; j < kQuantGroup; ++j) {
      float v = x[j] * id;
      v = v == v ? (v < -127.0f ? -127.0f : (v > 127.0f ? 127.0f : v)) : 0.0f;
      const int truncated = static_cast<int>(v);
      const float fraction = v - float(truncated);  // exact
      const int rounded = truncated + (fraction >= 0.5f ? 1 : 0) - (fraction <= -0.5f ? 1 : 0);
      q[j] = static_cast<uint8_t>(static_cast<int8_t>(rounded));
    }
    return;
  }
  float amax = 0.0f, max = 0.0f;
  for (uint32_t j = 0; j < kQuantGroup; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  *scale = float_to_f16(d);
  for (uint32_t j = 0; j < kQuantGroup; ++j) {
    float v = x[j] * id + 8.5f;
    v = v == v ? (v < 0.0f ? 0.0f : (v > 15.0f ? 15.0f : v)) : 8.0f;
    q[j] = static_cast<uint8_t>(static_cast<int>(v));  // truncation, as ggml's (int8_t) cast
  }
}

// The value of quantized element q (as quantize_group stored it) under scale d (as float).
inline float dequantized(rotor_dtype dtype, uint8_t q, float d) {
  return dtype == ROTOR_DTYPE_Q8_0 ? float(static_cast<int8_t>(q)) * d : float(int(q) - 8) * d;
}

// ---- ggml's row layout: n / 32 blocks, one after the other --------------------------------

inline size_t quant_row_bytes(rotor_dtype dtype, uint32_t n) { return size_t{n / kQuantGroup} * quant_block_bytes(dtype); }

// n floats (a multiple of 32) into ggml blocks at `row`.
inline void quantize_row(rotor_dtype dtype, const float *x, uint32_t n, unsigned char *row) {
  for (uint32_t g = 0; g < n / kQuantGroup; ++g, row += quant_block_bytes(dtype)) {
    uint16_t scale;
    uint8_t q[kQuantGroup];
    quantize_group(dtype, x + g * kQuantGroup, &scale, q);
    std::memcpy(row, &scale, sizeof scale);
    if (dtype == ROTOR_DTYPE_Q8_0) {
      std::memcpy(row + 2, q, kQuantGroup);
      continue;
    }
    // ggml's nibble order: byte j holds element j (low) and element j + 16 (high).
    for (uint32_t j = 0; j < kQuantGroup / 2; ++j) row[2 + j] = uint8_t(q[j] | (q[j + kQuantGroup / 2] << 4));
  }
}

// count rows of n elements (each quant_row_bytes apart) back to floats, row-major.
inline void dequantize_rows(rotor_dtype dtype, const unsigned char *rows, uint32_t count, uint32_t n, float *out) {
  const uint32_t groups = count * (n / kQuantGroup);
  const size_t block = quant_block_bytes(dtype);
  for (uint32_t g = 0; g < groups; ++g, rows += block, out += kQuantGroup) {
    uint16_t scale;
    std::memcpy(&scale, rows, sizeof scale);
    const float d = f16_to_float(scale);
    const unsigned char *q = rows + 2;
    if (dtype == ROTOR_DTYPE_Q8_0) {
      for (uint32_t j = 0; j < kQuantGroup; ++j) out[j] = float(static_cast<int8_t>(q[j])) * d;
      continue;
    }
    for (uint32_t j = 0; j < kQuantGroup / 2; ++j) {
      out[j] = float(int(q[j] & 15u) - 8) * d;
      out[j + kQuantGroup / 2] = float(int(q[j] >> 4) - 8) * d;
    }
  }
}

// ---- dimension-major placement: a block of `columns` vectors (the KV cache's key blocks,
// attention/quantized_keys.hpp) ----------------------------------------------------------------
//   Q8_0: numbers [d][columns] int8;  Q4_0: numbers [d][columns / 2] bytes, byte t of row i
//   holding column t (low nibble) and column t + columns / 2 (high); then, for both, the f16
//   scales [d / 32][columns].

inline size_t dimension_major_numbers_bytes(rotor_dtype dtype, uint32_t d, uint32_t columns) {
  return size_t{d} * columns * quant_bits(dtype) / 8;
}

// The whole block as floats, [d][columns]: straight loops over the columns of a dimension,
// which the compiler vectorizes with whatever instruction set the including file has.
inline void dequantize_dimension_major(rotor_dtype dtype, uint32_t d, uint32_t columns, const unsigned char *block,
                                       float *out) {
  const unsigned char *scale_bytes = block + dimension_major_numbers_bytes(dtype, d, columns);
  float scale[256];  // columns <= 256 (the cache's blocks have 64)
  for (uint32_t g = 0; g < d / kQuantGroup; ++g) {
    for (uint32_t t = 0; t < columns; ++t) {
      uint16_t bits;
      std::memcpy(&bits, scale_bytes + (size_t{g} * columns + t) * sizeof bits, sizeof bits);
      scale[t] = f16_to_float(bits);
    }
    for (uint32_t i = g * kQuantGroup; i < (g + 1) * kQuantGroup; ++i) {
      float *row = out + size_t{i} * columns;
      if (dtype == ROTOR_DTYPE_Q8_0) {
        const signed char *q = reinterpret_cast<const signed char *>(block + size_t{i} * columns);
        for (uint32_t t = 0; t < columns; ++t) row[t] = float(q[t]) * scale[t];
        continue;
      }
      const unsigned char *q = block + size_t{i} * (columns / 2);
      const uint32_t half = columns / 2;
      for (uint32_t t = 0; t < half; ++t) row[t] = float(int(q[t] & 15u) - 8) * scale[t];
      for (uint32_t t = 0; t < half; ++t) row[t + half] = float(int(q[t] >> 4) - 8) * scale[t + half];
    }
  }
}

}  // namespace rotor
