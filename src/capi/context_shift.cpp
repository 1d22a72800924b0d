// The C entry point of the "Context shift" section: rotor_kv_cache_evict (the rotation of the
// moved keys: attention/context_shift.cpp).
#include "attention/context_shift.hpp"
#include "attention/kv_cache.hpp"
#include "capi/guard.hpp"
#include "runtime/pool.hpp"
#include "table/table.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_kv_cache_evict(rotor_table *t, rotor_kv_cache *c, uint32_t start, uint32_t count,
                                            rotor_pool *pool) {
  return guarded([&] {
    if (t == nullptr || c == nullptr) return fail(ROTOR_ERR_INVALID_ARGUMENT, "t or c is NULL");
    const rotor_config &cfg = as_table(t)->config();
    KvCache &cache = *as_cache(c);
    // A table whose pairs do not fit the cache's heads cannot be the one its keys were rotated with.
    if (cache.head_dim < cfg.rotary_dim)
      return fail(ROTOR_ERR_INVALID_ARGUMENT, "the table's rotary_dim exceeds the cache's head_dim");
    if (uint64_t{start} + count > cache.length)  // 64-bit: no wrap
      return fail(ROTOR_ERR_OUT_OF_RANGE, "start + count is past the cache's length");
    if (count == 0) return ROTOR_OK;
    // From here nothing fails. The table's config is immutable: nothing of the table is leased or
    // written, so other threads may use it meanwhile.
    compute_shift_coefficients(cfg, cache, count);
    evict_tokens(cache, start, count, cfg.rotary_dim / 2, cfg.pairing, as_pool(pool));
    return ROTOR_OK;
  });
}

}  // extern "C"
