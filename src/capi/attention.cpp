// The C entry points of the attention forward path: every argument is checked here, before the
// first byte is written; run_forward below may assume valid input.
#include <cmath>
#include <cstddef>
#include <cstring>

#include "common/enum_bits.hpp"
#include "common/dtype.hpp"
#include "apply/positions.hpp"
#include "capi/guard.hpp"
#include "common/checked_math.hpp"
#include "kernels/registry.hpp"
#include "table/config.hpp"
#include "runtime/pool.hpp"
#include "attention/rerotate_keys.hpp"
#include "table/table.hpp"
#include "apply/tensor_view.hpp"
#include "attention/attention_run.hpp"

namespace rotor {
namespace {

// Views, shapes, dtypes, grouping and aliasing of q, k, v and out.
rotor_status check_tensors(const rotor_tensor &q, const rotor_tensor &k, const rotor_tensor &v,
                           const rotor_tensor &out) {
  constexpr rotor_status kInvalid = ROTOR_ERR_INVALID_ARGUMENT;
  rotor_status status;
  for (const rotor_tensor *t : {&q, &k, &v, &out})
    if ((status = validate_view(*t)) != ROTOR_OK) return status;
  if (!same_shape(q, out) || !same_shape(k, v)) return fail(kInvalid, "out differs from q, or v from k, in shape");
  if (q.batch != k.batch || q.seq != k.seq || q.head_dim != k.head_dim)
    return fail(kInvalid, "q and k differ in batch, seq or head_dim");
  if (q.heads % k.heads != 0) return fail(kInvalid, "q's heads are not a multiple of k's");
  if (k.dtype != q.dtype || v.dtype != q.dtype || out.dtype != q.dtype)
    return fail(kInvalid, "q, k, v and out do not share one dtype");
  if (!views_disjoint(out, q) || !views_disjoint(out, k) || !views_disjoint(out, v))
    return fail(kInvalid, "out overlaps q, k or v");
  return ROTOR_OK;
}

// Caches: present, distinct (no two arenas sharing a byte, the same cache twice included),
// matching k, and with room for s more tokens (table included).
rotor_status check_caches(KvCache *const *caches, const rotor_tensor &k, uint32_t table_max_len,
                          uint32_t *positions_needed) {
  uint32_t needed = 0;
  for (uint32_t b = 0; b < k.batch; ++b) {
    const KvCache *cache = caches[b];
    if (cache == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "an entry's cache is NULL");
    if (cache->kv_heads != k.heads || cache->head_dim != k.head_dim)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "a cache's kv_heads or head_dim differ from k's");
    for (uint32_t other = 0; other < b; ++other)
      if (buffers_overlap(caches[other]->arena(), caches[other]->arena_bytes, cache->arena(), cache->arena_bytes))
        return fail(ROTOR_ERR_INVALID_ARGUMENT, "two entries' caches share arena bytes (the same cache twice?)");
  }
  for (uint32_t b = 0; b < k.batch; ++b) {
    const uint64_t end = uint64_t{caches[b]->length} + k.seq;
    if (end > caches[b]->max_len) return fail(ROTOR_ERR_OUT_OF_RANGE, "a cache's length + seq is past its max_len");
    if (end > table_max_len) return fail(ROTOR_ERR_OUT_OF_RANGE, "a cache's length + seq is past the table's max_len");
    needed = end > needed ? uint32_t(end) : needed;
  }
  *positions_needed = needed;
  return ROTOR_OK;
}

rotor_status check_workspace(const void *workspace, size_t workspace_size, size_t required,
                             const rotor_tensor *const *views, uint32_t view_count) {
  if (!arena_aligned(workspace)) return fail(ROTOR_ERR_INVALID_ARGUMENT, "the workspace is not 64-byte aligned");
  if (required == 0 || workspace_size < required)
    return fail(ROTOR_ERR_OUT_OF_MEMORY, "workspace_size is below rotor_attention_workspace_size");
  for (uint32_t i = 0; i < view_count; ++i)
    if (buffer_overlaps_view(workspace, required, *views[i]))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "the workspace overlaps a tensor");
  return ROTOR_OK;
}

// The call writes every cache's arena (appended keys and values, re-rotated keys, the header)
// while it reads q, k and v and writes out and the workspace: none of them may share a byte
// with an arena, or the call would read keys it is overwriting, or write over a cache that a
// refused call must leave as it was.
rotor_status check_cache_arenas(KvCache *const *caches, uint32_t batch, const rotor_tensor *const *views,
                                uint32_t view_count, const void *workspace, size_t workspace_bytes) {
  for (uint32_t b = 0; b < batch; ++b) {
    const KvCache &cache = *caches[b];
    if (buffers_overlap(cache.arena(), cache.arena_bytes, workspace, workspace_bytes))
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "the workspace overlaps a KV cache's arena");
    for (uint32_t i = 0; i < view_count; ++i)
      if (buffer_overlaps_view(cache.arena(), cache.arena_bytes, *views[i]))
        return fail(ROTOR_ERR_INVALID_ARGUMENT, "a tensor overlaps a KV cache's arena");
  }
  return ROTOR_OK;
}

// The attention slots, then the rescale scratch (rerotate_keys.hpp layout); 0 on overflow.
size_t forward_workspace_bytes(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim, uint32_t new_tokens,
                               uint32_t threads, size_t *rescale_offset) {
  const size_t slots = attention_workspace_bytes(q_heads, kv_heads, head_dim, new_tokens, threads);
  const size_t rescale = rerotate_workspace_bytes(head_dim, threads, false);
  if (slots == 0 || rescale == 0 || slots > SIZE_MAX - rescale) return 0;
  if (rescale_offset != nullptr) *rescale_offset = slots;  // slots are 64-byte multiples
  return slots + rescale;
}

// Leases the rows of a call under the table's rescale policy. REFUSE: the caches that hold keys
// must all carry the rows the call would use, else RESCALED and nothing is leased (nor rescaled
// by this call).
rotor_status lease_for_policy(Table &table, rotor_rescale_policy policy, KvCache *const *caches, uint32_t batch,
                              uint32_t seq_len, RowsLease *lease) {
  if (policy != ROTOR_RESCALE_REFUSE) {
    table.lease(seq_len, lease);
    return ROTOR_OK;
  }
  const ScaleState *expected = nullptr;
  for (uint32_t b = 0; b < batch; ++b) {
    if (caches[b]->length == 0 || caches[b]->unrotated()) continue;  // keys that carry no rows
    if (expected == nullptr) expected = &caches[b]->state;
    else if (*expected != caches[b]->state)
      return fail(ROTOR_ERR_RESCALED, "policy REFUSE: the caches hold keys of different rows");
  }
  if (expected == nullptr) {
    table.lease(seq_len, lease);
    return ROTOR_OK;
  }
  return table.lease_expecting(seq_len, *expected, lease)
             ? ROTOR_OK
             : fail(ROTOR_ERR_RESCALED, "policy REFUSE: the cached keys carry other rows than this call's");
}

// Brings every cache to the rows of this call before anything is appended or attended: an
// empty cache takes the lease's rows; a cache whose keys carry other rows is re-rotated in place
// (REROTATE) or keeps its own rows for this call's tokens (PIN). Nothing fails from here on.
void settle_caches(Table &table, rotor_rescale_policy policy, KvCache *const *caches, uint32_t batch,
                   const RowsLease &lease, unsigned char *rescale_workspace, Pool *pool) {
  const rotor_config &cfg = table.config();
  for (uint32_t b = 0; b < batch; ++b) {
    KvCache &cache = *caches[b];
    cache.own_rows = false;
    // Un-rotated keys carry no rows: every call rotates them with its own, so the cache follows
    // the table under every policy, exactly and without touching a key.
    if (cache.length == 0 || cache.state == lease.state || cache.unrotated()) {
      cache.state = lease.state;
      cache.epoch = lease.epoch;
      continue;
    }
    compute_frequencies(cfg, cache.state, cache.freqs, &cache.freq_factor);
    if (policy == ROTOR_RESCALE_PIN) {
      cache.own_rows = true;  // epoch and state stay those of the sequence's first token
      continue;
    }
    RerotateJob job{};
    // The shape of the cache's keys; their addresses come from the cache (key blocks).
    job.keys = rotor_tensor{};
    job.keys.data = cache.keys;
    job.keys.dtype = cache.key_dtype;  // the keys are reached through the cache, whatever their type
    job.keys.batch = 1;
    job.keys.seq = cache.length;
    job.keys.heads = cache.kv_heads;
    job.keys.head_dim = cache.head_dim;
    job.cache = &cache;
    job.positions = nullptr;
    job.offset = 0;
    job.old_freqs = cache.freqs;
    job.old_factor = cache.freq_factor;
    job.new_rows = lease.rows;
    job.half = lease.half;
    job.pairing = cfg.pairing;
    job.thread_slots = rescale_workspace;
    rerotate_keys(job, pool);
    cache.state = lease.state;
    cache.epoch = lease.epoch;
    ++cache.rerotations;
    table.count_rerotation();
  }
}

// Both forward entry points: ids == nullptr rotates token i of entry b at L_b + i; otherwise at
// the caller's ids ([axes][batch * s]), for tables whose rows never change.
rotor_status forward_call(rotor_table *t, rotor_kv_cache *const *caches, const rotor_tensor *q,
                          const rotor_tensor *k, const rotor_tensor *v, const rotor_tensor *out,
                          const int32_t *ids, float scale, void *workspace, size_t workspace_size,
                          rotor_pool *pool) {
  constexpr rotor_status kInvalid = ROTOR_ERR_INVALID_ARGUMENT;
  if (t == nullptr || caches == nullptr || q == nullptr || k == nullptr || v == nullptr || out == nullptr ||
      workspace == nullptr)
    return fail(kInvalid, "a required pointer is NULL");
  if (!std::isfinite(scale)) return fail(kInvalid, "scale is not finite");
  Table &table = *as_table(t);
  rotor_status status = check_tensors(*q, *k, *v, *out);
  if (status != ROTOR_OK) return status;
  if (q->head_dim < table.config().rotary_dim) return fail(kInvalid, "rotary_dim exceeds the tensors' head_dim");
  // Cached keys of caller ids cannot be re-rotated (the cache keeps no ids): only tables whose
  // rows never change take ids.
  if (ids != nullptr && (scaling_is_adaptive(table.config()) || scaling_has_one_off(table.config())))
    return fail(kInvalid, "ids are refused for a table whose rows change (NTK, dynamic NTK, LongRoPE)");
  KvCache *const *cache_list = reinterpret_cast<KvCache *const *>(caches);
  uint32_t positions_needed = 0;
  // With ids, the cache index only orders tokens: the table bounds the ids, not the index.
  const uint32_t index_limit = ids == nullptr ? table.max_len() : UINT32_MAX;
  if ((status = check_caches(cache_list, *k, index_limit, &positions_needed)) != ROTOR_OK) return status;
  for (uint32_t b = 0; ids != nullptr && b < k->batch; ++b)
    if (cache_list[b]->unrotated())
      return fail(kInvalid, "a cache with ROTOR_KV_UNROTATED_KEYS rotates keys at their cache index: ids are refused");
  if (ids != nullptr &&
      (status = check_axis_ids(ids, table.axes(), k->batch, k->seq, table.max_len(), &positions_needed)) != ROTOR_OK)
    return status;
  Pool *thread_pool = as_pool(pool);
  const uint32_t threads = thread_pool == nullptr ? 1 : thread_pool->threads();
  size_t rescale_offset = 0;
  const size_t required = forward_workspace_bytes(q->heads, k->heads, q->head_dim, q->seq, threads, &rescale_offset);
  const rotor_tensor *views[] = {q, k, v, out};
  if ((status = check_workspace(workspace, workspace_size, required, views, 4)) != ROTOR_OK) return status;
  if ((status = check_cache_arenas(cache_list, k->batch, views, 4, workspace, required)) != ROTOR_OK) return status;

  ForwardCall call{};
  plan_attention(q->heads, k->heads, q->head_dim, q->seq, &call.plan);
  call.workspace = static_cast<unsigned char *>(workspace);
  call.caches = cache_list;
  call.q = *q;
  call.k = *k;
  call.v = *v;
  call.out = *out;
  call.scale = scale;
  call.rotate = active_kernels().rotate[q->dtype][table.config().pairing];
  call.pairing = table.config().pairing;
  call.kernels = active_kernels().attention;
  call.row_scratch = call.workspace + rescale_offset;
  if (ids != nullptr) call.axes = AxisPositions{ids, table.axes(), table.pair_axis()};
  // Read once: a policy changed by another thread mid-call must not split this call's decisions.
  const auto policy = static_cast<rotor_rescale_policy>(table.rescale_policy());
  RowsLease lease;
  if ((status = lease_for_policy(table, policy, cache_list, k->batch, positions_needed, &lease)) != ROTOR_OK)
    return status;
  call.rows = lease.rows;
  call.half = lease.half;
  settle_caches(table, policy, cache_list, k->batch, lease, call.row_scratch, thread_pool);
  run_forward(call, thread_pool);
  table.release(&lease);
  return ROTOR_OK;
}

}  // namespace
}  // namespace rotor

using namespace rotor;

extern "C" {

ROTOR_API size_t rotor_attention_workspace_size(uint32_t q_heads, uint32_t kv_heads, uint32_t head_dim,
                                                uint32_t max_new_tokens, uint32_t threads) {
  return guarded_value<size_t>(0, [&] {
    const size_t bytes = forward_workspace_bytes(q_heads, kv_heads, head_dim, max_new_tokens, threads, nullptr);
    if (bytes == 0)
      (void)fail(ROTOR_ERR_INVALID_ARGUMENT, "a zero count, q_heads not a multiple of kv_heads, or a size past size_t");
    return bytes;
  });
}

ROTOR_API rotor_status rotor_attention_forward(rotor_table *t, rotor_kv_cache *const *caches,
                                               const rotor_tensor *q, const rotor_tensor *k,
                                               const rotor_tensor *v, const rotor_tensor *out, float scale,
                                               void *workspace, size_t workspace_size, rotor_pool *pool) {
  return guarded([&] { return forward_call(t, caches, q, k, v, out, nullptr, scale, workspace, workspace_size, pool); });
}

ROTOR_API rotor_status rotor_attention_forward_axes(rotor_table *t, rotor_kv_cache *const *caches,
                                                    const rotor_tensor *q, const rotor_tensor *k,
                                                    const rotor_tensor *v, const rotor_tensor *out,
                                                    const int32_t *positions, float scale, void *workspace,
                                                    size_t workspace_size, rotor_pool *pool) {
  return guarded([&] {
    if (positions == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "positions is NULL");
    return forward_call(t, caches, q, k, v, out, positions, scale, workspace, workspace_size, pool);
  });
}

}  // extern "C"

// KV caches (the same section of rotor.h).
namespace rotor {
namespace {

// The sizes of rotor_kv_cache_config a caller may have: without flags (12) or with (16).
bool known_config_size(size_t size) { return size == 12 || size == sizeof(rotor_kv_cache_config); }

// The caller's struct, read up to its own size, as a KvStorage; false (with a reason) if invalid.
bool read_storage(const rotor_kv_cache_config *c, KvStorage *storage) {
  if (c == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "the cache config is NULL"), false;
  uint32_t size;
  std::memcpy(&size, c, sizeof size);
  if (!known_config_size(size))
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "rotor_kv_cache_config.struct_size is not 12 or 16 (rotor_kv_cache_config_init sets it)"), false;
  int key, value;
  uint32_t flags = 0;
  std::memcpy(&key, reinterpret_cast<const unsigned char *>(c) + offsetof(rotor_kv_cache_config, key_dtype), sizeof key);
  std::memcpy(&value, reinterpret_cast<const unsigned char *>(c) + offsetof(rotor_kv_cache_config, value_dtype), sizeof value);
  if (size >= offsetof(rotor_kv_cache_config, flags) + sizeof flags)
    std::memcpy(&flags, reinterpret_cast<const unsigned char *>(c) + offsetof(rotor_kv_cache_config, flags), sizeof flags);
  if (!valid_cache_dtype(key) || !valid_cache_dtype(value))
    return fail(ROTOR_ERR_INVALID_ARGUMENT, "a cache dtype is not a rotor_dtype value"), false;
  *storage = KvStorage{static_cast<rotor_dtype>(key), static_cast<rotor_dtype>(value), flags};
  return true;
}

size_t cache_arena_size(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len, const KvStorage &storage) {
  KvCacheSizes sizes;
  if (const char *problem = kv_storage_problem(storage, head_dim)) {
    (void)fail(ROTOR_ERR_INVALID_ARGUMENT, problem);
    return 0;
  }
  if (!kv_cache_sizes(kv_heads, head_dim, max_len, storage, &sizes)) {
    (void)fail(ROTOR_ERR_INVALID_ARGUMENT, "a zero count, max_len past 2^31 - 1, or a size past size_t");
    return 0;
  }
  return sizes.total();
}

rotor_status cache_init(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                        const KvStorage &storage, void *arena, size_t arena_size) {
  if (out == nullptr || arena == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "out or arena is NULL");
  if (const char *problem = kv_storage_problem(storage, head_dim)) return fail(ROTOR_ERR_INVALID_ARGUMENT, problem);
  KvCacheSizes sizes;
  if (!kv_cache_sizes(kv_heads, head_dim, max_len, storage, &sizes)) {
    // Valid arguments whose size overflows cannot be held by any arena.
    const bool args_valid = kv_heads != 0 && head_dim != 0 && max_len != 0 && max_len <= uint32_t{INT32_MAX};
    return args_valid ? fail(ROTOR_ERR_OUT_OF_MEMORY, "the cache's size does not fit in size_t")
                      : fail(ROTOR_ERR_INVALID_ARGUMENT, "a zero count or max_len past 2^31 - 1");
  }
  if (!arena_aligned(arena)) return fail(ROTOR_ERR_INVALID_ARGUMENT, "the arena is not 64-byte aligned");
  if (arena_size < sizes.total()) return fail(ROTOR_ERR_OUT_OF_MEMORY, "arena_size is below rotor_kv_cache_arena_size");
  KvCache *cache = build_kv_cache(arena, kv_heads, head_dim, max_len, storage, sizes);
  *out = reinterpret_cast<rotor_kv_cache *>(cache);
  return ROTOR_OK;
}

// One dtype for keys and values, keys rotated: the 1.0 functions' storage (the int checked first).
// By reference: a by-value copy would load an int the caller passed as an enum before it is checked.
bool one_dtype_storage(const rotor_dtype &dtype, KvStorage *storage) {
  if (!valid_cache_dtype(enum_bits(dtype))) return fail(ROTOR_ERR_INVALID_ARGUMENT, "dtype is not a rotor_dtype value"), false;
  *storage = KvStorage{dtype, dtype, 0};
  return true;
}

}  // namespace
}  // namespace rotor

extern "C" {

ROTOR_API size_t rotor_kv_cache_arena_size(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                                           rotor_dtype dtype) {
  return guarded_value<size_t>(0, [&]() -> size_t {
    KvStorage storage;
    return one_dtype_storage(dtype, &storage) ? cache_arena_size(kv_heads, head_dim, max_len, storage) : 0;
  });
}

ROTOR_API rotor_status rotor_kv_cache_init(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim,
                                           uint32_t max_len, rotor_dtype dtype, void *arena,
                                           size_t arena_size) {
  return guarded([&]() -> rotor_status {
    KvStorage storage;
    if (!one_dtype_storage(dtype, &storage)) return ROTOR_ERR_INVALID_ARGUMENT;
    return cache_init(out, kv_heads, head_dim, max_len, storage, arena, arena_size);
  });
}

ROTOR_API rotor_status rotor_kv_cache_config_init_sized(rotor_kv_cache_config *c, size_t c_size, rotor_dtype dtype) {
  return guarded([&]() -> rotor_status {
    if (c == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "c is NULL");
    if (!known_config_size(c_size)) return fail(ROTOR_ERR_INVALID_ARGUMENT, "c_size is not 12 or 16");
    KvStorage storage;
    if (!one_dtype_storage(dtype, &storage)) return ROTOR_ERR_INVALID_ARGUMENT;
    rotor_kv_cache_config full{};
    full.struct_size = static_cast<uint32_t>(c_size);
    full.key_dtype = dtype;
    full.value_dtype = dtype;
    full.flags = 0;
    std::memcpy(c, &full, c_size);  // never past the caller's struct
    return ROTOR_OK;
  });
}

ROTOR_API size_t rotor_kv_cache_arena_size_ex(uint32_t kv_heads, uint32_t head_dim, uint32_t max_len,
                                              const rotor_kv_cache_config *c) {
  return guarded_value<size_t>(0, [&]() -> size_t {
    KvStorage storage;
    return read_storage(c, &storage) ? cache_arena_size(kv_heads, head_dim, max_len, storage) : 0;
  });
}

ROTOR_API rotor_status rotor_kv_cache_init_ex(rotor_kv_cache **out, uint32_t kv_heads, uint32_t head_dim,
                                              uint32_t max_len, const rotor_kv_cache_config *c, void *arena,
                                              size_t arena_size) {
  return guarded([&]() -> rotor_status {
    KvStorage storage;
    if (!read_storage(c, &storage)) return ROTOR_ERR_INVALID_ARGUMENT;
    return cache_init(out, kv_heads, head_dim, max_len, storage, arena, arena_size);
  });
}

ROTOR_API rotor_status rotor_kv_cache_get_config(const rotor_kv_cache *c, rotor_kv_cache_config *out) {
  return guarded([&]() -> rotor_status {
    if (c == nullptr || out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "c or out is NULL");
    uint32_t size;
    std::memcpy(&size, out, sizeof size);
    if (!known_config_size(size)) return fail(ROTOR_ERR_INVALID_ARGUMENT, "out->struct_size is not 12 or 16");
    const KvCache &cache = *as_cache(c);
    rotor_kv_cache_config full{};
    full.struct_size = size;
    full.key_dtype = cache.key_dtype;
    full.value_dtype = cache.value_dtype;
    full.flags = cache.flags;
    std::memcpy(out, &full, size);
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_kv_cache_get_length(const rotor_kv_cache *c, uint32_t *out) {
  return guarded([&] {
    if (c == nullptr || out == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "c or out is NULL");
    *out = as_cache(c)->length;
    return ROTOR_OK;
  });
}

ROTOR_API uint32_t rotor_kv_cache_length(const rotor_kv_cache *c) {
  return c == nullptr ? 0 : as_cache(c)->length;
}

ROTOR_API rotor_status rotor_kv_cache_reset(rotor_kv_cache *c) {
  return guarded([&] {
    if (c == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "c is NULL");
    as_cache(c)->length = 0;
    return ROTOR_OK;
  });
}

}  // extern "C"
