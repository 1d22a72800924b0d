// Context shift of a KV cache (see context_shift.hpp): rotate the kept keys by the angle
// difference, then move keys and values down.
#include "attention/context_shift.hpp"

#include <cmath>
#include <cstring>

#include "common/dtype.hpp"
#include "apply/tensor_view.hpp"
#include "attention/kv_cache.hpp"
#include "attention/quantized_keys.hpp"
#include "attention/rerotate_keys.hpp"
#include "runtime/pool.hpp"
#include "table/scaling.hpp"

namespace rotor {
namespace {

// Below this many (head, token) keys a shift runs on the calling thread: waking the pool costs
// more than rotating them.
constexpr uint64_t kKeysWorthAFork = 64;

struct ShiftCall {
  KvCache *cache;
  uint32_t first_moved;  // start + count: the first token that moves
  uint32_t moved;        // tokens that move: length - first_moved
  uint32_t count;        // how far they move
  uint32_t half;
  rotor_pairing pairing;
};

// Items are (head, token) keys, head-major: each is rotated where it is. Rotating before moving
// keeps the two steps free of races: a rotation touches its own key only, a move its own head.
void rotate_share(void *context, uint64_t begin, uint64_t end) {
  const ShiftCall &call = *static_cast<const ShiftCall *>(context);
  const KvCache &cache = *call.cache;
  for (uint64_t item = begin; item < end; ++item) {
    const uint32_t head = uint32_t(item / call.moved), token = call.first_moved + uint32_t(item % call.moved);
    rotate_cached_key(cache, head, token, call.pairing, call.half, cache.pair_coeff);
  }
}

// Keys [from, from + n) of one head to [to, to + n), to < from, in key blocks: runs of tokens
// that stay within one source and one destination block move as one memmove per dimension,
// runs in ascending order so that a run never overwrites keys a later run still reads.
// Quantized keys move key by key (nibbles share bytes across columns), in the same order.
void move_keys(const KvCache &cache, uint32_t head, uint32_t to, uint32_t from, uint32_t n) {
  if (dtype_is_quantized(cache.key_dtype)) {
    for (uint32_t k = 0; k < n; ++k)
      copy_quantized_key(cache.key_dtype, cache.head_dim, cache.key_block_at(head, (from + k) / kKeyBlock),
                         (from + k) % kKeyBlock, cache.key_block_at(head, (to + k) / kKeyBlock), (to + k) % kKeyBlock);
    return;
  }
  const size_t elem = dtype_size(cache.key_dtype);
  while (n > 0) {
    const uint32_t room_to = kKeyBlock - to % kKeyBlock, room_from = kKeyBlock - from % kKeyBlock;
    uint32_t run = room_to < room_from ? room_to : room_from;
    run = run < n ? run : n;
    unsigned char *dst = cache.key_at(head, to);
    const unsigned char *src = cache.key_at(head, from);
    for (uint32_t i = 0; i < cache.head_dim; ++i)
      std::memmove(dst + size_t{i} * kKeyBlock * elem, src + size_t{i} * kKeyBlock * elem, size_t{run} * elem);
    to += run;
    from += run;
    n -= run;
  }
}

// Items are (array, head): keys of head h are item h, values item kv_heads + h. Values move with
// one memmove each (the ranges overlap when count < moved; within one head memmove handles that).
void move_share(void *context, uint64_t begin, uint64_t end) {
  const ShiftCall &call = *static_cast<const ShiftCall *>(context);
  const KvCache &cache = *call.cache;
  for (uint64_t item = begin; item < end; ++item) {
    const uint32_t head = uint32_t(item % cache.kv_heads);
    if (item < cache.kv_heads) {
      move_keys(cache, head, call.first_moved - call.count, call.first_moved, call.moved);
      continue;
    }
    std::memmove(cache.value_at(head, call.first_moved - call.count), cache.value_at(head, call.first_moved),
                 size_t{call.moved} * cache.value_row_bytes);
  }
}

void run_items(Pool *pool, bool fork, uint64_t items, Pool::RangeFn fn, void *context) {
  if (pool != nullptr && fork && pool->threads() > 1) pool->run(items, fn, context);
  else fn(context, 0, items);
}

}  // namespace

void compute_shift_coefficients(const rotor_config &cfg, KvCache &cache, uint32_t count) {
  double factor_unused;  // the factor is in both the old and the new row: it cancels
  compute_frequencies(cfg, cache.state, cache.freqs, &factor_unused);
  const uint32_t half = cfg.rotary_dim / 2;
  for (uint32_t i = 0; i < half; ++i) {
    // The angle difference, (p - count) t - p t = -count t, formed in double from t in double:
    // exact up to its one rounding, however large p is.
    const double angle = -double(count) * cache.freqs[i];
    cache.pair_coeff[2 * i] = std::cos(angle);
    cache.pair_coeff[2 * i + 1] = std::sin(angle);
  }
}

void evict_tokens(KvCache &cache, uint32_t start, uint32_t count, uint32_t half, rotor_pairing pairing, Pool *pool) {
  ShiftCall call{&cache, start + count, cache.length - start - count, count, half, pairing};
  if (call.moved > 0) {
    const uint64_t keys = uint64_t{cache.kv_heads} * call.moved;
    const bool fork = keys >= kKeysWorthAFork;
    // Un-rotated keys carry no position: they only move (the cache then holds a fresh
    // prefill's bytes).
    if (!cache.unrotated()) run_items(pool, fork, keys, rotate_share, &call);
    run_items(pool, fork, uint64_t{2} * cache.kv_heads, move_share, &call);
  }
  cache.length -= count;
}

}  // namespace rotor
