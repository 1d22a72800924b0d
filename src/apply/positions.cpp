#include "apply/positions.hpp"

#include "common/last_error.hpp"

namespace rotor {

rotor_status check_positions(const int32_t *positions, uint32_t offset, uint32_t batch, uint32_t seq,
                             uint64_t limit, uint32_t *seq_len_out) {
  if (positions == nullptr) {
    const uint64_t last = uint64_t{offset} + seq;  // one past the largest position
    if (last > limit) return fail(ROTOR_ERR_OUT_OF_RANGE, "offset + seq is past max_len");
    *seq_len_out = static_cast<uint32_t>(last);
    return ROTOR_OK;
  }
  const uint64_t count = uint64_t{batch} * seq;
  int32_t largest = 0;
  bool in_range = true;
  for (uint64_t i = 0; i < count; ++i) {
    const int32_t p = positions[i];
    in_range &= p >= 0 && uint64_t(p) < limit;
    largest = p > largest ? p : largest;
  }
  if (!in_range) return fail(ROTOR_ERR_OUT_OF_RANGE, "a position is negative or not below max_len");
  *seq_len_out = static_cast<uint32_t>(largest) + 1;
  return ROTOR_OK;
}

rotor_status check_axis_ids(const int32_t *ids, uint32_t axes, uint32_t batch, uint32_t seq, uint64_t limit,
                            uint32_t *seq_len_out) {
  const uint64_t tokens = uint64_t{batch} * seq;
  uint32_t seq_len = 0;
  for (uint32_t a = 0; a < axes; ++a) {
    uint32_t axis_len = 0;
    const rotor_status status = check_positions(ids + a * tokens, 0, batch, seq, limit, &axis_len);
    if (status != ROTOR_OK) return status;
    seq_len = axis_len > seq_len ? axis_len : seq_len;
  }
  *seq_len_out = seq_len;
  return ROTOR_OK;
}

}  // namespace rotor
