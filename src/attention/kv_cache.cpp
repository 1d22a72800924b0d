// KV caches: their size and their construction in the caller's arena (the C entry points: src/capi/attention.cpp).
#include "attention/kv_cache.hpp"

#include <cstring>
#include <new>

#include "common/dtype.hpp"
#include "common/checked_math.hpp"
#include "table/config.hpp"
#include "apply/tensor_view.hpp"
#include "attention/quantized_keys.hpp"
#include "common/enum_bits.hpp"
#include "common/quant_blocks.hpp"

namespace rotor {

namespace {

bool array_bytes(uint64_t bytes_per_head, uint32_t kv_heads, uint64_t *aligned) {
  uint64_t bytes;
  return !mul_overflows(bytes_per_head, kv_heads, &bytes) && align_up(bytes, ROTOR_ARENA_ALIGNMENT, aligned);
}

// In 64 bits: head_dim * 64 * 4 may not fit a 32-bit size_t (kv_cache_sizes checks the total).
// Quantized types have head_dim <= ROTOR_KV_MAX_QUANTIZED_HEAD_DIM (kv_storage_problem).
uint64_t key_block_bytes_of(rotor_dtype dtype, uint32_t head_dim) {
  return dtype_is_quantized(dtype) ? quantized_key_block_bytes(dtype, head_dim)
                                   : uint64_t{head_dim} * kKeyBlock * dtype_size(dtype);
}
uint64_t value_row_bytes_of(rotor_dtype dtype, uint32_t head_dim) {
  return dtype_is_quantized(dtype) ? quant_row_bytes(dtype, head_dim) : uint64_t{head_dim} * dtype_size(dtype);
}

// n keys of d elements (of Word's size, key-major) into columns [0, n) of a key block row by
// row: each row of the block is written in one stretch. Typed per size so each copy is one load
// and one store.
template <typename Word>
void scatter_columns(const void *keys, uint32_t n, uint32_t d, unsigned char *columns) {
  const unsigned char *src = static_cast<const unsigned char *>(keys);
  for (uint32_t i = 0; i < d; ++i) {
    unsigned char *row = columns + size_t{i} * kKeyBlock * sizeof(Word);
    for (uint32_t j = 0; j < n; ++j) {
      Word w;
      std::memcpy(&w, src + (size_t{j} * d + i) * sizeof(Word), sizeof(Word));
      std::memcpy(row + size_t{j} * sizeof(Word), &w, sizeof(Word));
    }
  }
}

}  // namespace

const char *kv_storage_problem(const KvStorage &storage, uint32_t head_dim) {
  if (!valid_cache_dtype(enum_bits(storage.key_dtype)) || !valid_cache_dtype(enum_bits(storage.value_dtype)))
    return "a cache dtype is not a rotor_dtype value";
  if ((storage.flags & ~uint32_t{ROTOR_KV_UNROTATED_KEYS}) != 0) return "unknown rotor_kv_cache_config flags";
  if ((dtype_is_quantized(storage.key_dtype) || dtype_is_quantized(storage.value_dtype)) &&
      (head_dim % kQuantGroup != 0 || head_dim > ROTOR_KV_MAX_QUANTIZED_HEAD_DIM))
    return "a Q8_0/Q4_0 cache needs head_dim a multiple of 32, at most ROTOR_KV_MAX_QUANTIZED_HEAD_DIM";
  return nullptr;
}

bool kv_cache_sizes(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, const KvStorage &storage,
                    KvCacheSizes *sizes) {
  if (kv_heads == 0 || head_dim == 0 || max_len == 0 || max_len > uint32_t{INT32_MAX}) return false;
  if (kv_storage_problem(storage, head_dim) != nullptr) return false;
  // Keys fill whole blocks: max_len rounded up to kKeyBlock.
  uint64_t key_bytes_per_head, value_bytes_per_head, keys, values, header;
  if (mul_overflows(KvCache::key_blocks(max_len), key_block_bytes_of(storage.key_dtype, head_dim), &key_bytes_per_head) ||
      mul_overflows(max_len, value_row_bytes_of(storage.value_dtype, head_dim), &value_bytes_per_head) ||
      !array_bytes(key_bytes_per_head, kv_heads, &keys) || !array_bytes(value_bytes_per_head, kv_heads, &values))
    return false;
  uint64_t structure, freqs, coeff;  // the scratch of rescales and shifts (KvCache::freqs, KvCache::pair_coeff)
  if (!align_up(sizeof(KvCache), ROTOR_ARENA_ALIGNMENT, &structure) ||
      !align_up((uint64_t{head_dim} / 2 + 1) * sizeof(double), ROTOR_ARENA_ALIGNMENT, &freqs) ||
      !align_up(uint64_t{head_dim} * sizeof(double), ROTOR_ARENA_ALIGNMENT, &coeff))
    return false;
  header = structure + freqs + coeff;
  uint64_t total;
  if (add_overflows(header, keys, &total) || add_overflows(total, values, &total) || total > SIZE_MAX) return false;
  sizes->header = static_cast<size_t>(header);
  sizes->keys = static_cast<size_t>(keys);
  sizes->values = static_cast<size_t>(values);
  sizes->freqs_at = static_cast<size_t>(structure);
  sizes->coeff_at = static_cast<size_t>(structure + freqs);
  return true;
}

KvCache *build_kv_cache(void *arena, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                        const KvStorage &storage, const KvCacheSizes &sizes) {
  unsigned char *base = static_cast<unsigned char *>(arena);
  KvCache *cache = new (base) KvCache;
  cache->kv_heads = kv_heads;
  cache->head_dim = head_dim;
  cache->max_len = max_len;
  cache->key_dtype = storage.key_dtype;
  cache->value_dtype = storage.value_dtype;
  cache->flags = storage.flags;
  cache->length = 0;
  cache->keys = base + sizes.header;
  cache->values = base + sizes.header + sizes.keys;
  cache->key_block_bytes = static_cast<size_t>(key_block_bytes_of(storage.key_dtype, head_dim));
  cache->value_row_bytes = static_cast<size_t>(value_row_bytes_of(storage.value_dtype, head_dim));
  cache->freqs = reinterpret_cast<double *>(base + sizes.freqs_at);
  cache->pair_coeff = reinterpret_cast<double *>(base + sizes.coeff_at);
  cache->arena_bytes = sizes.total();
  return cache;
}

void clear_key_block_tail(KvCache &cache, uint32_t first, uint32_t count) {
  const uint32_t end = first + count;  // <= max_len, checked by the caller
  const uint32_t used = end % kKeyBlock;
  if (count == 0 || used == 0 || end - used < first) return;  // a whole block, or one started earlier
  for (uint32_t h = 0; h < cache.kv_heads; ++h) {
    if (dtype_is_quantized(cache.key_dtype)) {
      // Nibbles share bytes across columns: the whole block is cleared (its first `used`
      // columns are written next by this call); zero scales make zero keys.
      std::memset(cache.key_block_at(h, end / kKeyBlock), 0, cache.key_block_bytes);
      continue;
    }
    const size_t elem = dtype_size(cache.key_dtype);
    unsigned char *tail = cache.key_at(h, end);
    for (uint32_t i = 0; i < cache.head_dim; ++i)
      std::memset(tail + size_t{i} * kKeyBlock * elem, 0, size_t{kKeyBlock - used} * elem);
  }
}

void store_keys(KvCache &cache, uint32_t head, uint32_t first, uint32_t n, const void *keys) {
  if (dtype_is_quantized(cache.key_dtype)) {
    quantize_keys_into_block(cache.key_dtype, cache.head_dim, static_cast<const float *>(keys), n,
                             cache.key_block_at(head, first / kKeyBlock), first % kKeyBlock);
    return;
  }
  unsigned char *columns = cache.key_at(head, first);
  if (dtype_size(cache.key_dtype) == sizeof(float)) scatter_columns<float>(keys, n, cache.head_dim, columns);
  else scatter_columns<uint16_t>(keys, n, cache.head_dim, columns);
}

}  // namespace rotor
