// The C entry points that say which rows keys carry: a table's epoch and rescale policy, and a
// KV cache's epoch and re-rotation count (the re-rotation itself: rescale_keys.cpp).
#include "attention/kv_cache.hpp"
#include "config.hpp"
#include "table.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_table_epoch(const rotor_table *t, uint64_t *out) {
  if (t == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  *out = as_table(t)->current_epoch();
  return ROTOR_OK;
}

ROTOR_API rotor_status rotor_table_set_rescale_policy(rotor_table *t, rotor_rescale_policy policy) {
  const int value = enum_bits(policy);  // any int may come from C: not loaded as the enum
  if (t == nullptr || value < ROTOR_RESCALE_REROTATE || value > ROTOR_RESCALE_REFUSE)
    return ROTOR_ERR_INVALID_ARGUMENT;
  as_table(t)->set_rescale_policy(value);
  return ROTOR_OK;
}

ROTOR_API rotor_status rotor_kv_cache_epoch(const rotor_kv_cache *c, uint64_t *out) {
  if (c == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  *out = as_cache(c)->epoch;
  return ROTOR_OK;
}

ROTOR_API rotor_status rotor_kv_cache_rerotations(const rotor_kv_cache *c, uint64_t *out) {
  if (c == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
  *out = as_cache(c)->rerotations;
  return ROTOR_OK;
}

}  // extern "C"
