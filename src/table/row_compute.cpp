#include "kernels/registry.hpp"
#include "table/row_compute.hpp"

#include <cmath>

#include "kernels/rotate_kernel.hpp"

namespace rotor {
namespace {

// Row p is built by angle addition from its anchor a = p - p % kAnchorSpacing:
//   cos(p t) = cos(a t) cos(d t) - sin(a t) sin(d t),  sin(p t) = sin(a t) cos(d t) + cos(a t) sin(d t)
// with d = p - a, where cos/sin of a*t and of d*t come from libm in double. Every term depends
// on p and the frequencies only (not on which rows a call computes), so a row is the same bits
// whether computed alone or in a batch, and libm runs about twice per 64 entries instead of
// twice per entry. Error: libm's (< 1 ulp double) on each factor plus four roundings, about
// 1e-16 relative, far below the float rounding of the result; the angle a*t + d*t differs
// from p*t by rounding only (a few 1e-16 relative to the angle), as the direct formula does.
constexpr uint32_t kAnchorSpacing = 64;
// Frequencies handled per pass over the rows: bounds the stack (the per-d cache is 64 x 32 x 2
// doubles, 32 KiB); each pass writes its part of every row, so fewer passes write faster.
constexpr uint32_t kFreqChunk = 32;

// The reference combination; SIMD versions (KernelSet::combine_rows) reproduce it bit for bit.
void combine_scalar(const RowCombineJob &job) {
  for (uint32_t k = 0; k < job.count; ++k) {
    const double ac = job.anchor_cos[k], as = job.anchor_sin[k], dc = job.delta_cos[k], ds = job.delta_sin[k];
    job.cos_out[k] = static_cast<float>((ac * dc - as * ds) * job.attention_factor);
    job.sin_out[k] = static_cast<float>((as * dc + ac * ds) * job.attention_factor);
  }
}

void angles(const double *inv_freq, uint32_t count, uint32_t multiple, double *cos_out, double *sin_out) {
  for (uint32_t k = 0; k < count; ++k) {
    const double angle = double(multiple) * inv_freq[k];
    cos_out[k] = std::cos(angle);
    sin_out[k] = std::sin(angle);
  }
}

}  // namespace

void compute_rows_into(const RowFrequencies &freqs, uint32_t first, uint32_t last, float *out) {
  const uint32_t half = freqs.half;
  RowCombineFn combine = active_kernels().combine_rows;
  if (combine == nullptr) combine = combine_scalar;
  for (uint32_t f0 = 0; f0 < half; f0 += kFreqChunk) {
    const uint32_t count = half - f0 < kFreqChunk ? half - f0 : kFreqChunk;
    const double *inv_freq = freqs.inv_freq + f0;
    double anchor_cos[kFreqChunk], anchor_sin[kFreqChunk];
    double delta_cos[kAnchorSpacing][kFreqChunk], delta_sin[kAnchorSpacing][kFreqChunk];
    bool have_delta[kAnchorSpacing] = {};  // cos/sin of d*t computed on first use only
    bool have_anchor = false;
    uint32_t anchor = 0;
    for (uint32_t p = first; p < last; ++p) {
      const uint32_t d = p % kAnchorSpacing;
      if (!have_anchor || p - d != anchor) {
        anchor = p - d;
        have_anchor = true;
        angles(inv_freq, count, anchor, anchor_cos, anchor_sin);
      }
      if (!have_delta[d]) {
        angles(inv_freq, count, d, delta_cos[d], delta_sin[d]);
        have_delta[d] = true;
      }
      float *cos_row = out + uint64_t{p - first} * 2 * half + f0;
      RowCombineJob job{anchor_cos, anchor_sin, delta_cos[d], delta_sin[d], count,
                        freqs.attention_factor, cos_row, cos_row + half};
      combine(job);
    }
  }
}

void compute_rows(const RowFrequencies &freqs, uint32_t first, uint32_t last, float *rows) {
  compute_rows_into(freqs, first, last, rows + uint64_t{first} * 2 * freqs.half);
}

}  // namespace rotor
