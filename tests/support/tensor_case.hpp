// Random rotation cases for the apply tests: a layout (bshd, bhsd, a 3-D [b, s, h*d] view, or
// Q/K inside a fused QKV buffer), a dtype, positions, and the double reference result.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "common/half.hpp"
#include "reference.hpp"

namespace ref {

enum class Layout { kBSHD, kBHSD, kFusedQKV, kPaddedHeads };

// A tensor view over owned storage, with values representable in its dtype.
struct TensorBuffer {
  std::vector<unsigned char> bytes;
  rotor_tensor view{};

  size_t elem() const { return view.dtype == ROTOR_DTYPE_F32 ? 4 : 2; }
  int64_t offset(uint32_t b, uint32_t s, uint32_t h, uint32_t d) const {
    return int64_t{b} * view.stride_batch + int64_t{s} * view.stride_seq + int64_t{h} * view.stride_head + d;
  }
  double get(uint32_t b, uint32_t s, uint32_t h, uint32_t d) const {
    const unsigned char *p = static_cast<const unsigned char *>(view.data) + offset(b, s, h, d) * int64_t(elem());
    if (view.dtype == ROTOR_DTYPE_F32) {
      float f;
      std::memcpy(&f, p, 4);
      return f;
    }
    uint16_t h16;
    std::memcpy(&h16, p, 2);
    return view.dtype == ROTOR_DTYPE_F16 ? f16_value(h16) : bf16_value(h16);
  }
};

inline TensorBuffer make_tensor(Layout layout, rotor_dtype dtype, uint32_t b, uint32_t s, uint32_t h, uint32_t d,
                                uint32_t seed) {
  TensorBuffer t;
  const size_t elem = dtype == ROTOR_DTYPE_F32 ? 4 : 2;
  uint64_t elements = 0;
  switch (layout) {
    case Layout::kBSHD:
      elements = uint64_t{b} * s * h * d;
      t.bytes.resize(elements * elem);
      t.view = rotor_tensor_bshd(t.bytes.data(), dtype, b, s, h, d);
      break;
    case Layout::kBHSD:
      elements = uint64_t{b} * s * h * d;
      t.bytes.resize(elements * elem);
      t.view = rotor_tensor_bhsd(t.bytes.data(), dtype, b, s, h, d);
      break;
    case Layout::kFusedQKV: {
      // [b, s, (h + 2 * h) * d]: this view is the K part (after h Q heads), V follows.
      const uint64_t row = uint64_t{3} * h * d;
      elements = uint64_t{b} * s * row;
      t.bytes.resize(elements * elem);
      t.view = rotor_tensor_bshd(t.bytes.data() + uint64_t{h} * d * elem, dtype, b, s, h, d);
      t.view.stride_seq = int64_t(row);
      t.view.stride_batch = int64_t(uint64_t{s} * row);
      break;
    }
    case Layout::kPaddedHeads: {
      // Heads further apart than head_dim, batches padded too: arbitrary strides.
      const int64_t head_stride = d + 3, seq_stride = head_stride * h + 5, batch_stride = seq_stride * s + 7;
      elements = uint64_t(batch_stride) * b;
      t.bytes.resize(elements * elem);
      t.view = rotor_tensor_bshd(t.bytes.data(), dtype, b, s, h, d);
      t.view.stride_head = head_stride;
      t.view.stride_seq = seq_stride;
      t.view.stride_batch = batch_stride;
      break;
    }
  }
  // Fill every element of the buffer (padding too, so untouched bytes are checkable).
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (uint64_t i = 0; i < t.bytes.size() / elem; ++i) {
    const float v = dist(rng);
    if (dtype == ROTOR_DTYPE_F32) {
      std::memcpy(t.bytes.data() + i * 4, &v, 4);
    } else {
      const uint16_t h16 = dtype == ROTOR_DTYPE_F16 ? rotor::float_to_f16(v) : rotor::float_to_bf16(v);
      std::memcpy(t.bytes.data() + i * 2, &h16, 2);
    }
  }
  return t;
}

// Expected values of every (b, s, h, d) element after the rotation, in double.
inline std::vector<double> expected_rotation(const TensorBuffer &t, uint32_t rotary_dim, rotor_pairing pairing,
                                             const std::vector<double> &freqs, const std::vector<int32_t> &positions,
                                             uint32_t offset, bool inverse) {
  const rotor_tensor &v = t.view;
  std::vector<double> out;
  out.reserve(uint64_t{v.batch} * v.seq * v.heads * v.head_dim);
  std::vector<double> head(v.head_dim);
  for (uint32_t b = 0; b < v.batch; ++b)
    for (uint32_t s = 0; s < v.seq; ++s)
      for (uint32_t h = 0; h < v.heads; ++h) {
        for (uint32_t d = 0; d < v.head_dim; ++d) head[d] = t.get(b, s, h, d);
        const double p = positions.empty() ? double(offset + s) : double(positions[b * v.seq + s]);
        rotate_head(head, rotary_dim, pairing, freqs, p, inverse);
        out.insert(out.end(), head.begin(), head.end());
      }
  return out;
}

// Tolerance of one element against the double reference: float arithmetic on values of
// magnitude ~2 for f32; for f16/bf16 the one rounding of the result dominates.
inline double tolerance(rotor_dtype dtype, double value) {
  const double magnitude = std::fabs(value) + 1e-3;
  switch (dtype) {
    case ROTOR_DTYPE_F16: return magnitude * 0x1p-10 + 0x1p-24;
    case ROTOR_DTYPE_BF16: return magnitude * 0x1p-7;
    default: return 4e-6 * (std::fabs(value) + 2.0);
  }
}

}  // namespace ref
