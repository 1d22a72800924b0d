// The C entry points of KV caches: size, build in the caller's arena, length, reset.
#include "kv_cache.hpp"

#include <new>

#include "../checked_math.hpp"
#include "../config.hpp"
#include "../tensor_view.hpp"

namespace rotor {

bool kv_cache_sizes(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, rotor_dtype dtype,
                    size_t *header_bytes, size_t *array_bytes) {
  if (kv_heads == 0 || head_dim == 0 || max_len == 0 || max_len > uint32_t{INT32_MAX}) return false;
  if (!valid_dtype(dtype)) return false;
  uint64_t elements, bytes, aligned, header;
  if (mul_overflows(uint64_t{kv_heads} * head_dim, max_len, &elements)) return false;
  if (mul_overflows(elements, dtype_size(dtype), &bytes) || !align_up(bytes, ROTOR_ARENA_ALIGNMENT, &aligned))
    return false;
  uint64_t freqs;  // the frequency scratch of rescales: head_dim / 2 + 1 doubles
  if (!align_up(sizeof(KvCache), ROTOR_ARENA_ALIGNMENT, &header) ||
      !align_up((uint64_t{head_dim} / 2 + 1) * sizeof(double), ROTOR_ARENA_ALIGNMENT, &freqs))
    return false;
  header += freqs;
  uint64_t total;
  if (add_overflows(header, aligned, &total) || add_overflows(total, aligned, &total) || total > SIZE_MAX)
    return false;
  *header_bytes = static_cast<size_t>(header);
  *array_bytes = static_cast<size_t>(aligned);
  return true;
}

}  // namespace rotor

using namespace rotor;

extern "C" {

ROTOR_API size_t rotor_kv_cache_arena_size(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                                           rotor_dtype dtype) {
  size_t header, array;
  if (!valid_dtype(enum_bits(dtype))) return 0;  // read as int until valid (any int may come from C)
  if (!kv_cache_sizes(kv_heads, head_dim, max_len, dtype, &header, &array)) return 0;
  return header + 2 * array;
}

ROTOR_API rotor_status rotor_kv_cache_init(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim,
                                           uint32_t max_len, rotor_dtype dtype, void *arena,
                                           size_t arena_size) {
  if (out == nullptr || arena == nullptr || !valid_dtype(enum_bits(dtype))) return ROTOR_ERR_INVALID_ARGUMENT;
  size_t header, array;
  if (!kv_cache_sizes(kv_heads, head_dim, max_len, dtype, &header, &array)) {
    // Valid arguments whose size overflows cannot be held by any arena.
    const bool args_valid = kv_heads != 0 && head_dim != 0 && max_len != 0 &&
                            max_len <= uint32_t{INT32_MAX} && valid_dtype(dtype);
    return args_valid ? ROTOR_ERR_OUT_OF_MEMORY : ROTOR_ERR_INVALID_ARGUMENT;
  }
  if (reinterpret_cast<uintptr_t>(arena) % ROTOR_ARENA_ALIGNMENT != 0) return ROTOR_ERR_INVALID_ARGUMENT;
  if (arena_size < header + 2 * array) return ROTOR_ERR_OUT_OF_MEMORY;
  unsigned char *base = static_cast<unsigned char *>(arena);
  KvCache *cache = new (base) KvCache;
  cache->kv_heads = kv_heads;
  cache->head_dim = head_dim;
  cache->max_len = max_len;
  cache->dtype = dtype;
  cache->length = 0;
  cache->keys = base + header;
  cache->values = base + header + array;
  const size_t struct_bytes = (sizeof(KvCache) + ROTOR_ARENA_ALIGNMENT - 1) / ROTOR_ARENA_ALIGNMENT * ROTOR_ARENA_ALIGNMENT;
  cache->freqs = reinterpret_cast<double *>(base + struct_bytes);
  *out = reinterpret_cast<rotor_kv_cache *>(cache);
  return ROTOR_OK;
}

ROTOR_API uint32_t rotor_kv_cache_length(const rotor_kv_cache *c) {
  return c == nullptr ? 0 : as_cache(c)->length;
}

ROTOR_API rotor_status rotor_kv_cache_reset(rotor_kv_cache *c) {
  if (c == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  as_cache(c)->length = 0;
  return ROTOR_OK;
}

}  // extern "C"
