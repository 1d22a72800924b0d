// The C entry points that say which rows keys carry: a table's epoch and rescale policy, and a
// KV cache's epoch and re-rotation count (the re-rotation itself: rerotate_keys.cpp).
#include "common/enum_bits.hpp"
#include "capi/guard.hpp"
#include "common/checked_math.hpp"
#include "attention/kv_cache.hpp"
#include "table/config.hpp"
#include "apply/positions.hpp"
#include "apply/tensor_view.hpp"
#include "attention/rerotate_keys.hpp"
#include "runtime/pool.hpp"
#include "table/row_compute.hpp"
#include "table/scaling.hpp"
#include "table/table.hpp"

using namespace rotor;

extern "C" {

ROTOR_API rotor_status rotor_table_epoch(const rotor_table *t, uint64_t *out) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    *out = as_table(t)->current_epoch();
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_table_set_rescale_policy(rotor_table *t, rotor_rescale_policy policy) {
  return guarded([&]() -> rotor_status {
    const int value = enum_bits(policy);  // any int may come from C: not loaded as the enum
    if (t == nullptr || value < ROTOR_RESCALE_REROTATE || value > ROTOR_RESCALE_REFUSE)
      return ROTOR_ERR_INVALID_ARGUMENT;
    as_table(t)->set_rescale_policy(value);
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_kv_cache_epoch(const rotor_kv_cache *c, uint64_t *out) {
  return guarded([&]() -> rotor_status {
    if (c == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    *out = as_cache(c)->epoch;
    return ROTOR_OK;
  });
}

ROTOR_API rotor_status rotor_kv_cache_rerotations(const rotor_kv_cache *c, uint64_t *out) {
  return guarded([&]() -> rotor_status {
    if (c == nullptr || out == nullptr) return ROTOR_ERR_INVALID_ARGUMENT;
    *out = as_cache(c)->rerotations;
    return ROTOR_OK;
  });
}

}  // extern "C"

extern "C" {

ROTOR_API size_t rotor_rerotate_workspace_size(uint32_t head_dim, uint32_t threads) {
  return guarded_value<size_t>(0, [&]() -> size_t {
    return rerotate_workspace_bytes(head_dim, threads, true);
  });
}

ROTOR_API rotor_status rotor_rerotate_keys(rotor_table *t, const rotor_tensor *keys, const int32_t *positions,
                                           uint32_t offset, uint64_t from_epoch, uint64_t *to_epoch,
                                           void *workspace, size_t workspace_size, rotor_pool *pool) {
  return guarded([&]() -> rotor_status {
    if (t == nullptr || keys == nullptr || to_epoch == nullptr || workspace == nullptr)
      return ROTOR_ERR_INVALID_ARGUMENT;
    Table &table = *as_table(t);
    rotor_status status = validate_view(*keys);
    if (status != ROTOR_OK) return status;
    if (keys->head_dim < table.config().rotary_dim) return ROTOR_ERR_INVALID_ARGUMENT;
    if (!arena_aligned(workspace)) return ROTOR_ERR_INVALID_ARGUMENT;
    Pool *thread_pool = as_pool(pool);
    const size_t required =
        rerotate_workspace_bytes(keys->head_dim, thread_pool == nullptr ? 1 : thread_pool->threads(), true);
    if (required == 0 || workspace_size < required) return ROTOR_ERR_OUT_OF_MEMORY;
    if (buffer_overlaps_view(workspace, required, *keys)) return ROTOR_ERR_INVALID_ARGUMENT;
    uint32_t seq_len = 0;
    if ((status = check_positions(positions, offset, keys->batch, keys->seq, table.max_len(), &seq_len)) != ROTOR_OK)
      return status;
    if (from_epoch > table.current_epoch()) return ROTOR_ERR_INVALID_ARGUMENT;
    ScaleState from;
    if (!table.state_of_epoch(from_epoch, &from)) return ROTOR_ERR_RESCALED;  // older than the ring

    RowsLease lease;
    table.lease_current(seq_len, &lease);
    if (lease.state != from) {
      RerotateJob job{};
      job.keys = *keys;
      job.positions = positions;
      job.offset = offset;
      double *freqs = static_cast<double *>(workspace);
      compute_frequencies(table.config(), from, freqs, &job.old_factor);
      job.old_freqs = freqs;
      job.new_rows = lease.rows;
      job.half = lease.half;
      job.pairing = table.config().pairing;
      job.thread_slots = static_cast<unsigned char *>(workspace) + rerotate_freqs_bytes(keys->head_dim);
      rerotate_keys(job, thread_pool);
      table.count_rerotation();
    }
    *to_epoch = lease.epoch;
    table.release(&lease);
    return ROTOR_OK;
  });
}

}  // extern "C"

extern "C" {

ROTOR_API rotor_status rotor_attention_scale(const rotor_config *cfg, uint32_t head_dim, float *scale_out) {
  return guarded([&]() -> rotor_status {
    rotor_config full;
    if (scale_out == nullptr || read_config(cfg, &full) != ROTOR_OK) return ROTOR_ERR_INVALID_ARGUMENT;
    if (head_dim == 0 || head_dim < full.rotary_dim) return ROTOR_ERR_INVALID_ARGUMENT;
    *scale_out = static_cast<float>(attention_softmax_scale(full, head_dim));
    return ROTOR_OK;
  });
}

}  // extern "C"
