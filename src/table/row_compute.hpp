// Computing table rows: cos and sin of p * inv_freq[i], in double precision, times the
// attention factor, rounded once to float.
//
// Row layout (shared by every kernel): row p holds r/2 cos values then r/2 sin values,
// rows are r floats apart. Each row is a pure function of p, inv_freq and the attention
// factor, never of the rows before it: that is what makes a table grown in steps bit-identical
// to one computed at once, whichever thread or strategy computed it. (Rows are built by angle
// addition from anchor positions that are a fixed function of p: see row_compute.cpp.)
#pragma once
#include <cstdint>

namespace rotor {

struct RowFrequencies {
  const double *inv_freq;    // r/2 values
  uint32_t half;             // r/2
  double attention_factor;   // folded into cos and sin
};

// Writes rows [first, last) into rows (which points at row 0).
void compute_rows(const RowFrequencies &freqs, uint32_t first, uint32_t last, float *rows);
// Writes rows [first, last) from out on (row first at out): the same bits as compute_rows, for
// callers that recompute a few rows of an old state into scratch (src/attention/rerotate_keys.cpp).
void compute_rows_into(const RowFrequencies &freqs, uint32_t first, uint32_t last, float *out);

}  // namespace rotor
