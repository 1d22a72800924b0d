// The KV cache of one sequence: a header and two head-major arrays in the caller's arena.
//
// Layout: keys [kv_heads][max_len][head_dim], then values with the same shape, each 64-byte
// aligned. Head-major so the keys one kv head's queries scan are contiguous.
#pragma once
#include <cstddef>
#include <cstdint>

#include "table/scaling.hpp"
#include "rotor/rotor.h"

namespace rotor {

struct KvCache {
  uint32_t kv_heads;
  uint32_t head_dim;
  uint32_t max_len;
  rotor_dtype dtype;
  uint32_t length;       // tokens appended so far
  void *keys;            // rotated keys, dtype
  void *values;          // values, dtype
  // Which rows the keys carry (src/attention/rerotate_keys.hpp), set when the first token is appended.
  ScaleState state;
  uint64_t epoch = 0;          // the table epoch of those rows
  uint64_t rerotations = 0;    // times the keys were brought to new rows
  bool own_rows = false;       // during a call: new tokens use `state`'s rows, per token (PIN)
  double *freqs = nullptr;     // head_dim / 2 + 1 doubles after the header: scratch holding the
  double freq_factor = 1.0;    // frequencies and factor of `state` while re-rotating or pinned
  // head_dim doubles after `freqs`: a context shift's per-pair rotation (cos, sin of the angle
  // difference), computed once per shift and read by every thread. Held here rather than in a
  // caller's workspace because a cache is used by one call at a time anyway.
  double *pair_coeff = nullptr;

  // Elements between consecutive heads of keys (and of values).
  uint64_t head_stride() const { return uint64_t{max_len} * head_dim; }
  // Element offset of (head, token) in keys or values.
  uint64_t offset(uint32_t head, uint32_t token) const {
    return head * head_stride() + uint64_t{token} * head_dim;
  }
};

// Bytes of the header (the struct, then its frequency and pair-rotation scratch), and of each of keys and values (rounded up to 64), or false when an
// argument is invalid or a size does not fit.
bool kv_cache_sizes(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, rotor_dtype dtype,
                    size_t *header_bytes, size_t *array_bytes);

// Places an empty cache (length 0) at arena, whose size kv_cache_sizes gave; arguments valid.
KvCache *build_kv_cache(void *arena, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                        rotor_dtype dtype, size_t header_bytes, size_t array_bytes);

}  // namespace rotor

inline rotor::KvCache *as_cache(rotor_kv_cache *c) { return reinterpret_cast<rotor::KvCache *>(c); }
inline const rotor::KvCache *as_cache(const rotor_kv_cache *c) {
  return reinterpret_cast<const rotor::KvCache *>(c);
}
