// KV caches: their size and their construction in the caller's arena (the C entry points: src/capi/attention.cpp).
#include "attention/kv_cache.hpp"

#include <new>

#include "common/checked_math.hpp"
#include "table/config.hpp"
#include "apply/tensor_view.hpp"

namespace rotor {

bool kv_cache_sizes(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, rotor_dtype dtype,
                    size_t *header_bytes, size_t *array_bytes) {
  if (kv_heads == 0 || head_dim == 0 || max_len == 0 || max_len > uint32_t{INT32_MAX}) return false;
  if (!valid_dtype(dtype)) return false;
  uint64_t elements, bytes, aligned, header;
  if (mul_overflows(uint64_t{kv_heads} * head_dim, max_len, &elements)) return false;
  if (mul_overflows(elements, dtype_size(dtype), &bytes) || !align_up(bytes, ROTOR_ARENA_ALIGNMENT, &aligned))
    return false;
  uint64_t freqs, coeff;  // the scratch of rescales and shifts (KvCache::freqs, KvCache::pair_coeff)
  if (!align_up(sizeof(KvCache), ROTOR_ARENA_ALIGNMENT, &header) ||
      !align_up((uint64_t{head_dim} / 2 + 1) * sizeof(double), ROTOR_ARENA_ALIGNMENT, &freqs) ||
      !align_up(uint64_t{head_dim} * sizeof(double), ROTOR_ARENA_ALIGNMENT, &coeff))
    return false;
  header += freqs + coeff;
  uint64_t total;
  if (add_overflows(header, aligned, &total) || add_overflows(total, aligned, &total) || total > SIZE_MAX)
    return false;
  *header_bytes = static_cast<size_t>(header);
  *array_bytes = static_cast<size_t>(aligned);
  return true;
}

KvCache *build_kv_cache(void *arena, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                        rotor_dtype dtype, size_t header_bytes, size_t array_bytes) {
  unsigned char *base = static_cast<unsigned char *>(arena);
  KvCache *cache = new (base) KvCache;
  cache->kv_heads = kv_heads;
  cache->head_dim = head_dim;
  cache->max_len = max_len;
  cache->dtype = dtype;
  cache->length = 0;
  cache->keys = base + header_bytes;
  cache->values = base + header_bytes + array_bytes;
  const size_t struct_bytes = (sizeof(KvCache) + ROTOR_ARENA_ALIGNMENT - 1) / ROTOR_ARENA_ALIGNMENT * ROTOR_ARENA_ALIGNMENT;
  const size_t freqs_bytes = ((size_t{head_dim} / 2 + 1) * sizeof(double) + ROTOR_ARENA_ALIGNMENT - 1) /
                             ROTOR_ARENA_ALIGNMENT * ROTOR_ARENA_ALIGNMENT;
  cache->freqs = reinterpret_cast<double *>(base + struct_bytes);
  cache->pair_coeff = reinterpret_cast<double *>(base + struct_bytes + freqs_bytes);
  return cache;
}

}  // namespace rotor
