#include "table/cos_sin.hpp"

#include "common/dtype.hpp"
#include "common/element_convert.hpp"
#include "table/table.hpp"

namespace rotor {

void write_cos_sin(Table &table, uint32_t start, uint32_t count, rotor_dtype dtype, bool duplicated,
                   void *cos_out, void *sin_out) {
  const uint32_t half = table.half();
  const size_t elem = dtype_size(dtype);
  const size_t width = duplicated ? 2 * size_t{half} : half;  // values per output row
  RowsLease lease;
  table.lease(start + count, &lease);
  for (uint32_t i = 0; i < count; ++i) {
    const float *row = lease.rows + (uint64_t{start} + i) * 2 * half;
    unsigned char *cos_row = static_cast<unsigned char *>(cos_out) + i * width * elem;
    unsigned char *sin_row = static_cast<unsigned char *>(sin_out) + i * width * elem;
    for (size_t copy = 0; copy < (duplicated ? 2u : 1u); ++copy) {
      from_float(row, half, cos_row + copy * half * elem, dtype);
      from_float(row + half, half, sin_row + copy * half * elem, dtype);
    }
  }
  table.release(&lease);
}

}  // namespace rotor
