// Re-rotation of keys from one state's rows to the table's current rows (see rerotate_keys.hpp),
// and its C entry points for callers that keep their own caches.
#include "attention/rerotate_keys.hpp"

#include "common/dtype.hpp"
#include "common/element_convert.hpp"
#include "common/checked_math.hpp"
#include "table/config.hpp"
#include "runtime/pool.hpp"
#include "apply/positions.hpp"
#include "table/row_compute.hpp"
#include "table/table.hpp"
#include "attention/kv_cache.hpp"
#include "attention/quantized_keys.hpp"
#include "apply/tensor_view.hpp"

namespace rotor {
namespace {

// Bytes rounded up to the arena alignment, in 64 bits: the sizes here are a few times head_dim
// (< 2^32) elements, so align_up cannot overflow; whether they fit in size_t (32-bit targets)
// is checked once, on the total, by rerotate_workspace_bytes.
uint64_t rounded_to_arena(uint64_t bytes) {
  uint64_t aligned = 0;
  (void)align_up(bytes, ROTOR_ARENA_ALIGNMENT, &aligned);
  return aligned;
}

uint64_t freqs_bytes(uint32_t head_dim) { return rounded_to_arena(uint64_t{head_dim / 2 + 1} * sizeof(double)); }

uint64_t thread_bytes(uint32_t head_dim) {
  return rounded_to_arena(uint64_t{head_dim} * sizeof(float)) + rounded_to_arena(uint64_t{head_dim / 2 + 1} * 2 * sizeof(double));
}

struct Share {
  const RerotateJob *job;
  uint64_t tokens;
};

// One token: its old row, the per-pair correction, then every head.
void rerotate_token(const RerotateJob &job, unsigned char *slot, uint32_t b, uint32_t s) {
  const rotor_tensor &k = job.keys;
  const uint32_t half = job.half;
  const uint32_t position = job.positions != nullptr ? uint32_t(job.positions[uint64_t{b} * k.seq + s])
                                                     : job.offset + s;
  float *old_row = reinterpret_cast<float *>(slot);
  double *coeff = reinterpret_cast<double *>(slot + rounded_to_arena(uint64_t{k.head_dim} * sizeof(float)));
  compute_rows_into(RowFrequencies{job.old_freqs, half, job.old_factor}, position, position + 1, old_row);
  const float *new_row = job.new_rows + uint64_t{position} * 2 * half;
  for (uint32_t i = 0; i < half; ++i) {
    const double co = old_row[i], so = old_row[half + i], cn = new_row[i], sn = new_row[half + i];
    const double norm = co * co + so * so;  // f_o^2 (1 + rounding): never 0 for a valid factor
    coeff[2 * i] = (cn * co + sn * so) / norm;
    coeff[2 * i + 1] = (sn * co - cn * so) / norm;
  }
  for (uint32_t h = 0; h < k.heads; ++h) {
    if (job.cache != nullptr) {
      rotate_cached_key(*job.cache, h, s, job.pairing, half, coeff);
      continue;
    }
    rotate_pairs_in_place(head_address(k, b, s, h), k.dtype, job.pairing, half, coeff, 1);
  }
}

void rerotate_share(void *context, uint32_t slot_index, uint32_t slots) {
  const Share &share = *static_cast<const Share *>(context);
  const RerotateJob &job = *share.job;
  unsigned char *slot = rerotate_thread_slot(job.thread_slots, job.keys.head_dim, slot_index);
  uint64_t first, last;
  slot_range(share.tokens, slot_index, slots, &first, &last);
  for (uint64_t t = first; t < last; ++t)
    rerotate_token(job, slot, uint32_t(t / job.keys.seq), uint32_t(t % job.keys.seq));
}

}  // namespace

void rotate_pairs_in_place(unsigned char *head, rotor_dtype dtype, rotor_pairing pairing, uint32_t half,
                           const double *coeff, uint32_t dim_stride) {
  const size_t elem = dtype_size(dtype);
  for (uint32_t i = 0; i < half; ++i) {
    const size_t ia = size_t{dim_stride} * (pairing == ROTOR_PAIRING_HALF ? i : 2 * i);
    const size_t ib = size_t{dim_stride} * (pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1);
    const double x = load_element(head, dtype, ia), y = load_element(head, dtype, ib);
    const double a = coeff[2 * i], c = coeff[2 * i + 1];
    const float xs = static_cast<float>(a * x - c * y), ys = static_cast<float>(c * x + a * y);
    from_float(&xs, 1, head + ia * elem, dtype);
    from_float(&ys, 1, head + ib * elem, dtype);
  }
}

void rotate_cached_key(const KvCache &cache, uint32_t head, uint32_t token, rotor_pairing pairing, uint32_t half,
                       const double *coeff) {
  if (!dtype_is_quantized(cache.key_dtype)) {
    rotate_pairs_in_place(cache.key_at(head, token), cache.key_dtype, pairing, half, coeff, kKeyBlock);
    return;
  }
  // Dequantized exactly, rotated in double (rounded to float once), quantized again: one more
  // rounding to the 8- or 4-bit grid per correction (docs/quantized-kv.md measures how it adds up).
  // The keys live in the caller's arena: writing them leaves the const header as it is.
  float key[ROTOR_KV_MAX_QUANTIZED_HEAD_DIM];
  unsigned char *block = cache.key_block_at(head, token / kKeyBlock);
  dequantize_key(cache.key_dtype, cache.head_dim, block, token % kKeyBlock, key);
  rotate_pairs_in_place(reinterpret_cast<unsigned char *>(key), ROTOR_DTYPE_F32, pairing, half, coeff, 1);
  quantize_keys_into_block(cache.key_dtype, cache.head_dim, key, 1, block, token % kKeyBlock);
}

// Callers use these only once rerotate_workspace_bytes gave a non-zero total: then they fit.
size_t rerotate_freqs_bytes(uint32_t head_dim) { return size_t(freqs_bytes(head_dim)); }
size_t rerotate_thread_bytes(uint32_t head_dim) { return size_t(thread_bytes(head_dim)); }

size_t rerotate_workspace_bytes(uint32_t head_dim, uint32_t threads, bool with_freqs) {
  if (head_dim == 0 || threads == 0) return 0;
  uint64_t slots, total;
  if (mul_overflows(thread_bytes(head_dim), threads, &slots) ||
      add_overflows(slots, with_freqs ? freqs_bytes(head_dim) : 0, &total) || total > SIZE_MAX)
    return 0;
  return size_t(total);
}

void rerotate_keys(const RerotateJob &job, Pool *pool) {
  Share share{&job, uint64_t{job.keys.batch} * job.keys.seq};
  // Tokens split evenly (each costs the same); fewer than 8 per slot are not worth a fork.
  run_slots(pool, share.tokens / 8, rerotate_share, &share);
}

}  // namespace rotor
