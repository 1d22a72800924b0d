// The one check of the positions a call reads: every call that takes positions or an offset
// (rotor_apply*, rotor_apply_cos_sin, rotor_rerotate_keys) validates them here before writing.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

// Checks positions (batch*seq values, or offset + s when NULL) against `limit` rows:
// OUT_OF_RANGE if any is negative or >= limit. On OK, *seq_len_out is the sequence length the
// call needs (largest position + 1).
rotor_status check_positions(const int32_t *positions, uint32_t offset, uint32_t batch, uint32_t seq,
                             uint64_t limit, uint32_t *seq_len_out);

// Multi-axis ids ([axes][batch*seq], rotor_apply_axes and rotor_attention_forward_axes): every
// id of every axis checked as above; *seq_len_out is the largest id + 1 over all axes.
rotor_status check_axis_ids(const int32_t *ids, uint32_t axes, uint32_t batch, uint32_t seq, uint64_t limit,
                            uint32_t *seq_len_out);

}  // namespace rotor
