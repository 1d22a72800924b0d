// KV caches: their size and their construction in the caller's arena (the C entry points: src/capi/attention.cpp).
#include "attention/kv_cache.hpp"

#include <cstring>
#include <new>

#include "common/dtype.hpp"
#include "common/checked_math.hpp"
#include "table/config.hpp"
#include "apply/tensor_view.hpp"

namespace rotor {

namespace {

bool array_bytes(uint64_t elements_per_head, uint32_t kv_heads, rotor_dtype dtype, uint64_t *aligned) {
  uint64_t elements, bytes;
  return !mul_overflows(elements_per_head, kv_heads, &elements) &&
         !mul_overflows(elements, dtype_size(dtype), &bytes) && align_up(bytes, ROTOR_ARENA_ALIGNMENT, aligned);
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

bool kv_cache_sizes(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, rotor_dtype dtype, KvCacheSizes *sizes) {
  if (kv_heads == 0 || head_dim == 0 || max_len == 0 || max_len > uint32_t{INT32_MAX}) return false;
  if (!valid_dtype(dtype)) return false;
  // Keys fill whole blocks: max_len rounded up to kKeyBlock (< 2^31 + 64, no overflow).
  const uint64_t key_slots = uint64_t{KvCache::key_blocks(max_len)} * kKeyBlock;
  uint64_t keys, values, header;
  if (!array_bytes(key_slots * head_dim, kv_heads, dtype, &keys) ||
      !array_bytes(uint64_t{max_len} * head_dim, kv_heads, dtype, &values))
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
                        rotor_dtype dtype, const KvCacheSizes &sizes) {
  unsigned char *base = static_cast<unsigned char *>(arena);
  KvCache *cache = new (base) KvCache;
  cache->kv_heads = kv_heads;
  cache->head_dim = head_dim;
  cache->max_len = max_len;
  cache->dtype = dtype;
  cache->length = 0;
  cache->keys = base + sizes.header;
  cache->values = base + sizes.header + sizes.keys;
  cache->freqs = reinterpret_cast<double *>(base + sizes.freqs_at);
  cache->pair_coeff = reinterpret_cast<double *>(base + sizes.coeff_at);
  cache->arena_bytes = sizes.total();
  return cache;
}

void clear_key_block_tail(KvCache &cache, uint32_t first, uint32_t count) {
  const uint32_t end = first + count;  // <= max_len, checked by the caller
  const uint32_t used = end % kKeyBlock;
  if (count == 0 || used == 0 || end - used < first) return;  // a whole block, or one started earlier
  const size_t elem = dtype_size(cache.dtype);
  for (uint32_t h = 0; h < cache.kv_heads; ++h) {
    unsigned char *tail = cache.key_at(h, end);
    for (uint32_t i = 0; i < cache.head_dim; ++i)
      std::memset(tail + size_t{i} * kKeyBlock * elem, 0, size_t{kKeyBlock - used} * elem);
  }
}

void store_keys(KvCache &cache, uint32_t head, uint32_t first, uint32_t n, const void *keys) {
  unsigned char *columns = cache.key_at(head, first);
  if (dtype_size(cache.dtype) == sizeof(float)) scatter_columns<float>(keys, n, cache.head_dim, columns);
  else scatter_columns<uint16_t>(keys, n, cache.head_dim, columns);
}

}  // namespace rotor
