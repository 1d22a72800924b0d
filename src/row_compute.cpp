#include "row_compute.hpp"

#include <cmath>

namespace rotor {

void compute_rows(const RowFrequencies &freqs, uint32_t first, uint32_t last, float *rows) {
  const uint32_t half = freqs.half;
  const double af = freqs.attention_factor;
  for (uint32_t p = first; p < last; ++p) {
    float *cos_row = rows + uint64_t{p} * 2 * half;
    float *sin_row = cos_row + half;
    for (uint32_t i = 0; i < half; ++i) {
      double angle = double(p) * freqs.inv_freq[i];
      cos_row[i] = static_cast<float>(std::cos(angle) * af);
      sin_row[i] = static_cast<float>(std::sin(angle) * af);
    }
  }
}

}  // namespace rotor
