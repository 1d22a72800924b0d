// The KV cache of one sequence: a header and two head-major arrays in the caller's arena.
//
// Layout, each array 64-byte aligned, head-major so the keys one kv head's queries scan are
// contiguous:
//   keys   [kv_heads][ceil(max_len / kKeyBlock)][head_dim][kKeyBlock]: key blocks, the layout the
//          score kernels read (src/kernels/attention_kernels.hpp). Stored this way so that neither
//          a prefill nor a decode step transposes keys: a decode step uses each key for only the
//          group's few query rows, and transposing cost it more than scoring (docs/performance-history.md, first and second passes).
//   values [kv_heads][max_len][head_dim]: rows, the layout the value kernels read.
// Quantized keys keep the block order with their own block contents (attention/quantized_keys.hpp);
// quantized values are ggml's block rows (common/quant_blocks.hpp). The forward path reads both
// through floats dequantized into the calling thread's workspace slot.
// A block's columns past the cache length hold zeros (cleared by the call that starts the block)
// or keys a context shift moved away; kernels compute scores for them and never read them.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/dtype.hpp"
#include "kernels/attention_kernels.hpp"  // kKeyBlock
#include "table/scaling.hpp"
#include "rotor/rotor.h"

namespace rotor {

struct KvCache {
  uint32_t kv_heads;
  uint32_t head_dim;
  uint32_t max_len;
  rotor_dtype key_dtype;    // f32, f16, bf16, or quantized (attention/quantized_keys.hpp)
  rotor_dtype value_dtype;  // f32, f16, bf16, or quantized (ggml rows, common/quant_blocks.hpp)
  uint32_t flags;           // ROTOR_KV_UNROTATED_KEYS or 0
  uint32_t length;       // tokens appended so far
  void *keys;            // keys (rotated unless unrotated()), key_dtype
  void *values;          // values, value_dtype
  size_t key_block_bytes;  // one head's block of kKeyBlock keys
  size_t value_row_bytes;  // one head's value of one token
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
  // Bytes of the arena the cache uses, from this header (the arena's first byte) to the end of
  // its values: what a forward call may write, so no tensor or workspace of the call may share a
  // byte with it (src/capi/attention.cpp). Set by build_kv_cache.
  size_t arena_bytes = 0;
  const void *arena() const { return this; }

  // Keys stored before rotation: rotated by every call that reads them (ROTOR_KV_UNROTATED_KEYS).
  bool unrotated() const { return (flags & ROTOR_KV_UNROTATED_KEYS) != 0; }
  static uint32_t key_blocks(uint32_t tokens) { return (tokens + kKeyBlock - 1) / kKeyBlock; }

  // The one address computation of the cache's arrays. Keys [kv_heads][key_blocks(max_len)]
  // blocks of key_block_bytes; values [kv_heads][max_len] rows of value_row_bytes.
  unsigned char *key_block_at(uint32_t head, uint32_t block) const {
    return static_cast<unsigned char *>(keys) + (uint64_t{head} * key_blocks(max_len) + block) * key_block_bytes;
  }
  // Dimension 0 of key (head, token) of an f32/f16/bf16 cache; dimension i is kKeyBlock * i
  // elements further.
  unsigned char *key_at(uint32_t head, uint32_t token) const {
    return key_block_at(head, token / kKeyBlock) + size_t{token % kKeyBlock} * dtype_size(key_dtype);
  }
  unsigned char *value_at(uint32_t head, uint32_t token) const {
    return static_cast<unsigned char *>(values) + (uint64_t{head} * max_len + token) * value_row_bytes;
  }
};

// Bytes of the header (the struct, then its frequency and pair-rotation scratch), of the keys
// and of the values (each rounded up to 64), or false when an argument is invalid or a size does
// not fit.
struct KvCacheSizes {
  size_t header, keys, values;
  size_t freqs_at, coeff_at;  // where KvCache::freqs and KvCache::pair_coeff start in the header
  size_t total() const { return header + keys + values; }
};
// What a cache stores: the internal form of rotor_kv_cache_config.
struct KvStorage {
  rotor_dtype key_dtype, value_dtype;
  uint32_t flags;
};
// Why a storage cannot serve head_dim (a reason for fail()), or nullptr when it can.
const char *kv_storage_problem(const KvStorage &storage, uint32_t head_dim);
bool kv_cache_sizes(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, const KvStorage &storage,
                    KvCacheSizes *sizes);

// Places an empty cache (length 0) at arena, whose size kv_cache_sizes gave; arguments valid.
KvCache *build_kv_cache(void *arena, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                        const KvStorage &storage, const KvCacheSizes &sizes);

// Clears the columns past first + count of the key block that key first + count - 1 falls in,
// when keys [first, first + count) start that block: with the keys about to be written, every
// column of every started block is then defined (a block started earlier had its tail cleared
// then). Called before the keys are appended.
void clear_key_block_tail(KvCache &cache, uint32_t first, uint32_t count);

// Copies the keys of tokens [first, first + n) of one head, all in one key block, into their
// columns: `keys` holds n keys of head_dim elements of the cache's key type, one after the
// other (floats for a quantized cache, which quantizes them here).
void store_keys(KvCache &cache, uint32_t head, uint32_t first, uint32_t n, const void *keys);

}  // namespace rotor

inline rotor::KvCache *as_cache(rotor_kv_cache *c) { return reinterpret_cast<rotor::KvCache *>(c); }
inline const rotor::KvCache *as_cache(const rotor_kv_cache *c) {
  return reinterpret_cast<const rotor::KvCache *>(c);
}
