// Bringing rotated keys from one set of table rows to another (after a rescale), in place.
//
// A key k rotated at position p with a row (c_o, s_o) of an old state holds, per pair,
//   (x', y') = f_o R(p t_o) (x, y),   f_o the attention factor folded into that row.
// The same key rotated with the new rows is f_n R(p t_n) (x, y). The row layout folds the factor
// into both cos and sin, so the row (c, s) is the matrix [c -s; s c] and the correction is
//   M = [c_n -s_n; s_n c_n] [c_o -s_o; s_o c_o]^-1 = [a -b; b a] / (c_o^2 + s_o^2),
//   a = c_n c_o + s_n s_o,  b = s_n c_o - c_n s_o,
// computed per pair and token in double from the float rows, then applied to every head (one
// rounding to the storage type). The old rows are not kept: they are recomputed per token with
// compute_rows_into from the old state's frequencies, so they are the very bits the table had
// (rows are a pure function of position and frequencies). The new rows are the table's.
// Cost per key set: for each token one row (2 r libm calls, amortised over anchors) and r/2
// coefficient pairs, then 4 multiply-adds per pair and head: about the cost of rotating the
// keys once, plus the row computation.
#pragma once
#include <cstddef>
#include <cstdint>

#include "rotor/rotor.h"
#include "table/scaling.hpp"

namespace rotor {

class Pool;

// Where a re-rotation gets its scratch: one slot per thread (one row and its coefficients);
// rotor_rerotate_keys puts an area for the old frequencies (head_dim / 2 + 1 doubles) before
// the slots. All 64-byte aligned.
size_t rerotate_freqs_bytes(uint32_t head_dim);
size_t rerotate_thread_bytes(uint32_t head_dim);
// threads slots (with_freqs: after the frequency area); 0 on overflow or a zero argument.
size_t rerotate_workspace_bytes(uint32_t head_dim, uint32_t threads, bool with_freqs);
// Thread slot `thread` (its first bytes hold one table row).
inline unsigned char *rerotate_thread_slot(unsigned char *slots, uint32_t head_dim, uint32_t thread) {
  return slots + size_t{thread} * rerotate_thread_bytes(head_dim);
}

// The per-pair step every correction of stored keys shares (a rescale here, a context shift in
// src/attention/context_shift.hpp): pair i of one head, (x, y), becomes
//   (a x - c y, c x + a y),  a = coeff[2 i], c = coeff[2 i + 1],
// computed in double from the stored values and rounded once to dtype (through float: a float
// ulp is 2^-13 of an f16 ulp, 2^-16 of a bf16 one). Dims past r = 2 * half are untouched.
// Dimension i of the head is dim_stride * i elements after dimension 0 (1 for a tensor's head,
// kKeyBlock for a key in a KV cache's key blocks).
void rotate_pairs_in_place(unsigned char *head, rotor_dtype dtype, rotor_pairing pairing, uint32_t half,
                           const double *coeff, uint32_t dim_stride);

struct KvCache;

// rotate_pairs_in_place for key (head, token) of a cache, in whichever type it stores: a
// quantized key is dequantized into a stack buffer (head_dim <= ROTOR_KV_MAX_QUANTIZED_HEAD_DIM
// floats), rotated and quantized again. The keys are written; the header is not.
void rotate_cached_key(const KvCache &cache, uint32_t head, uint32_t token, rotor_pairing pairing, uint32_t half,
                       const double *coeff);

struct RerotateJob {
  rotor_tensor keys;           // a validated view, rotated FORWARD with the old rows
  const KvCache *cache;        // or NULL; else keys gives only the shape and the keys are this
                               // cache's (in its key blocks), tokens [0, keys.seq)
  const int32_t *positions;    // [batch][seq], or NULL for offset + s
  uint32_t offset;
  const double *old_freqs;     // half frequencies of the old state
  double old_factor;           // its attention factor
  const float *new_rows;       // the table's rows: position p at new_rows + p * 2 * half
  uint32_t half;
  rotor_pairing pairing;
  unsigned char *thread_slots; // rerotate_workspace_bytes(keys.head_dim, threads, false) bytes
};

// Re-rotates every token of job.keys in place, spread over the pool (NULL: calling thread).
// No allocation.
void rerotate_keys(const RerotateJob &job, Pool *pool);

}  // namespace rotor
