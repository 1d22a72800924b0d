// Views for the fuzz targets: shapes and strides carved from the input (consistent, padded,
// overlapping, negative or raw 64-bit), each over memory sized exactly to what it describes
// when that is possible (see fuzz_common.hpp for why).
#pragma once
#include "c_shim.h"
#include "fuzz_common.hpp"

namespace fuzz {

constexpr size_t kMaxBacking = size_t{1} << 20;

// A view and the memory behind it. backed: every element the view describes lies inside
// `block` (so the library may legally touch it).
struct Operand {
  Block block;
  rotor_tensor view{};
  int dtype = 0;
  bool backed = false;
  bool exact_contract_valid = false;  // non-null, valid dtype, aligned, strides >= 0, no overflow
};

struct Shape {
  uint32_t batch, seq, heads, head_dim;
};

inline Shape draw_shape(FuzzedDataProvider &in, uint32_t rotary_dim) {
  Shape s{in.ConsumeIntegralInRange<uint32_t>(1, 3), in.ConsumeIntegralInRange<uint32_t>(1, 8),
          in.ConsumeIntegralInRange<uint32_t>(1, 4), rotary_dim + in.ConsumeIntegralInRange<uint32_t>(0, 6)};
  const uint8_t wild = in.ConsumeIntegral<uint8_t>();
  if (wild < 8) s.head_dim = in.ConsumeIntegralInRange<uint32_t>(0, rotary_dim);  // too small or 0
  if (wild == 8) s.batch = in.ConsumeIntegral<uint32_t>();
  if (wild == 9) s.seq = in.ConsumeIntegral<uint32_t>();
  if (wild == 10) s.heads = in.ConsumeIntegral<uint32_t>();
  if (wild == 11) s.head_dim = in.ConsumeIntegral<uint32_t>();
  if (wild == 12) s.seq = 0;
  return s;
}

// Fills the view's strides by one of several layouts, some deliberately inconsistent.
inline void draw_strides(FuzzedDataProvider &in, rotor_tensor *v) {
  const uint8_t mode = in.ConsumeIntegralInRange<uint8_t>(0, 9);
  const int64_t d = v->head_dim, h = v->heads, s = v->seq;
  if (mode <= 2) {  // bshd
    v->stride_head = d;
    v->stride_seq = h * d;
    v->stride_batch = s * h * d;
  } else if (mode <= 4) {  // bhsd
    v->stride_seq = d;
    v->stride_head = s * d;
    v->stride_batch = h * s * d;
  } else if (mode <= 6) {  // padded heads, tokens and batches
    v->stride_head = d + in.ConsumeIntegralInRange<int64_t>(0, 3);
    v->stride_seq = h * v->stride_head + in.ConsumeIntegralInRange<int64_t>(0, 5);
    v->stride_batch = s * v->stride_seq + in.ConsumeIntegralInRange<int64_t>(0, 7);
  } else if (mode <= 8) {  // small arbitrary strides: overlaps, zeros, negatives
    v->stride_head = in.ConsumeIntegralInRange<int64_t>(-2, 3 * d + 2);
    v->stride_seq = in.ConsumeIntegralInRange<int64_t>(-2, 4 * h * d + 2);
    v->stride_batch = in.ConsumeIntegralInRange<int64_t>(-2, 4 * s * h * d + 2);
  } else {  // raw 64-bit strides
    v->stride_head = in.ConsumeIntegral<int64_t>();
    v->stride_seq = in.ConsumeIntegral<int64_t>();
    v->stride_batch = in.ConsumeIntegral<int64_t>();
  }
}

// A view of the given shape over exact backing memory when the view can be backed; otherwise
// over a small sentinel block the library must never touch.
inline Operand make_operand(FuzzedDataProvider &in, const Shape &shape, int dtype) {
  Operand op;
  op.dtype = dtype;
  op.view.batch = shape.batch;
  op.view.seq = shape.seq;
  op.view.heads = shape.heads;
  op.view.head_dim = shape.head_dim;
  fz_set_view_dtype(&op.view, dtype);
  draw_strides(in, &op.view);
  const size_t elem = valid_dtype(dtype) ? elem_size(dtype) : 4;
  const uint8_t placement = in.ConsumeIntegralInRange<uint8_t>(0, 15);
  uint64_t extent = 0;
  const bool sized = view_extent(op.view, &extent) && extent <= kMaxBacking / elem;
  const bool misalign = placement == 14 && elem > 1;
  if (sized) {
    op.block = Block(size_t(extent) * elem + (misalign ? 1 : 0), in.ConsumeIntegral<uint8_t>());
    op.view.data = op.block.data() + (misalign ? 1 : 0);
    op.backed = true;
  } else {
    op.block = Block(64);
    op.view.data = op.block.data();
  }
  if (placement == 15) op.view.data = nullptr;
  op.exact_contract_valid = op.view.data != nullptr && valid_dtype(dtype) && !misalign &&
                            view_extent(op.view, &extent) && extent <= uint64_t(INT64_MAX) / elem;
  // Random contents (the pattern Block wrote is already arbitrary; overwrite some with
  // realistic values so the reference check sees ordinary numbers too).
  if (op.backed && in.ConsumeBool()) {
    for (size_t i = 0; i + elem <= op.block.size(); i += elem) {
      const float value = float(int(op.block.data()[i] % 64) - 32) / 8.0f;
      if (dtype == ROTOR_DTYPE_F32) {
        std::memcpy(op.block.data() + i, &value, 4);
      } else {
        uint32_t bits;
        std::memcpy(&bits, &value, 4);
        const uint16_t top = static_cast<uint16_t>(bits >> 16);  // bf16 of a short float is exact
        uint16_t half = top;
        if (dtype == ROTOR_DTYPE_F16) half = static_cast<uint16_t>(int(op.block.data()[i]) % 2 ? 0x3c00 : 0xbc00);
        std::memcpy(op.block.data() + i, &half, 2);
      }
    }
  }
  return op;
}


}  // namespace fuzz
