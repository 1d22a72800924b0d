// Context shift: evicting a range of cached tokens and moving the later ones down, in place.
//
// A key cached at position p carries, per pair i, f R(p t_i) (x, y): f the attention factor and
// t_i the frequencies of the rows the cache records (KvCache::state). The same key at position
// p - n is f R((p - n) t_i) (x, y) = R(-n t_i) [f R(p t_i) (x, y)]: a pure rotation of the
// stored pair by the angle difference -n t_i, the same for every moved token and head. f is
// common to both rows, so it is neither divided out nor folded in again; nor do the rows depend
// on p beyond the angle, so any scaling type (and any state after a rescale) shifts the same way.
// cos and sin of -n t_i are computed once per shift in double from t_i in double; each stored
// pair is then rotated in double and rounded once to the cache's dtype (rotate_pairs_in_place,
// shared with the re-rotation after a rescale).
//
// Compared with rotating the raw key afresh at p - n, the result differs by the rounding the
// stored key already had (rotated, so no larger) plus this one rounding, and by the float
// rounding of the row p it was first rotated with: within one extra rounding of the key.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

class Pool;
struct KvCache;

// Writes cos(-count t_i), sin(-count t_i) of the frequencies the cache's keys carry into
// cache.pair_coeff (2 per pair, r/2 pairs), using cache.freqs as scratch.
void compute_shift_coefficients(const rotor_config &cfg, KvCache &cache, uint32_t count);

// Removes tokens [start, start + count) of the cache: tokens [start + count, length) are rotated
// by cache.pair_coeff (compute_shift_coefficients(count) first) and moved down by count, keys
// and values; length becomes length - count. Arguments valid (start + count <= length,
// count > 0); spread over the pool (NULL: the calling thread). No allocation.
void evict_tokens(KvCache &cache, uint32_t start, uint32_t count, uint32_t half, rotor_pairing pairing, Pool *pool);

}  // namespace rotor
