// A table's rows handed out as separate cos and sin arrays (rotor_table_cos_sin), in the
// layouts callers' own kernels want: [count, r/2] each, or Hugging Face's [count, r] with the
// half repeated (cat(freqs, freqs)), converted to the dtype asked for.
#pragma once
#include <cstdint>

#include "rotor/rotor.h"

namespace rotor {

class Table;

// Positions [start, start + count) (valid: start + count <= max_len, dtype valid), growing the
// table as needed.
void write_cos_sin(Table &table, uint32_t start, uint32_t count, rotor_dtype dtype, bool duplicated,
                   void *cos_out, void *sin_out);

}  // namespace rotor
