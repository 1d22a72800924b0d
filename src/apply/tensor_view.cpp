#include "apply/tensor_view.hpp"

#include <algorithm>

#include "common/checked_math.hpp"
#include "common/last_error.hpp"
#include "common/dtype.hpp"
#include "common/enum_bits.hpp"

namespace rotor {

namespace {

struct Axis {
  uint64_t extent;
  uint64_t stride;
};

// Elements from the first to one past the last element of the view; false on overflow or on
// heads that overlap. Axes are checked from the smallest stride up: each stride must step past
// everything the smaller axes span, which is exactly "no two heads share an element" for
// non-negative strides.
// Axes of equal stride may come in either order: two of them with extents above 1 fail either
// way, and an axis of extent 1 is skipped.
bool element_span(const rotor_tensor &v, uint64_t *span_out) {
  Axis axes[3] = {{v.batch, uint64_t(v.stride_batch)},
                  {v.seq, uint64_t(v.stride_seq)},
                  {v.heads, uint64_t(v.stride_head)}};
  // Three compare-exchanges, not std::sort: every validation runs this (four times in a decode
  // step), and std::sort of three elements costs a call, an insertion sort and a memmove per
  // view (about 19% of a decode step on the Xeon of docs/performance.md, issue 25).
  const auto order = [](Axis &a, Axis &b) {
    if (b.stride < a.stride) std::swap(a, b);
  };
  order(axes[0], axes[1]);
  order(axes[1], axes[2]);
  order(axes[0], axes[1]);
  uint64_t span = v.head_dim;
  for (const Axis &axis : axes) {
    if (axis.extent == 1) continue;
    if (axis.stride < span) return false;
    uint64_t reach;
    if (mul_overflows(axis.extent - 1, axis.stride, &reach) || add_overflows(reach, span, &span))
      return false;
  }
  *span_out = span;
  return true;
}

}  // namespace

rotor_status validate_view(const rotor_tensor &v) {
  ViewBytes bytes;
  return validate_view(v, &bytes);
}

rotor_status validate_view(const rotor_tensor &v, ViewBytes *range) {
  constexpr rotor_status kInvalid = ROTOR_ERR_INVALID_ARGUMENT;
  if (v.data == nullptr) return fail(kInvalid, "a tensor's data is NULL");
  if (!valid_dtype(enum_bits(v.dtype))) return fail(kInvalid, "a tensor's dtype is not a rotor_dtype value");
  if (v.batch == 0 || v.seq == 0 || v.heads == 0 || v.head_dim == 0)
    return fail(kInvalid, "a tensor has a zero batch, seq, heads or head_dim");
  if (v.stride_batch < 0 || v.stride_seq < 0 || v.stride_head < 0) return fail(kInvalid, "a tensor has a negative stride");
  const size_t elem = dtype_size(v.dtype);
  if (reinterpret_cast<uintptr_t>(v.data) % elem != 0) return fail(kInvalid, "a tensor's data is not aligned to its element");
  uint64_t span, bytes, end;
  if (!element_span(v, &span) || mul_overflows(span, elem, &bytes) || bytes > uint64_t(INT64_MAX) ||
      add_overflows(reinterpret_cast<uintptr_t>(v.data), bytes, &end))
    return fail(kInvalid, "a tensor's extent overflows (shape times strides)");
  if (sizeof(uintptr_t) < sizeof(uint64_t) && (end >> (8 * (sizeof(uintptr_t) % 8))) != 0)
    return fail(kInvalid, "a tensor's extent wraps the address space");  // 32-bit targets
  range->lo = reinterpret_cast<uintptr_t>(v.data);
  range->hi = static_cast<uintptr_t>(end);  // fits: checked just above
  return ROTOR_OK;
}

void view_byte_range(const rotor_tensor &v, uintptr_t *lo, uintptr_t *hi) {
  uint64_t span = 0;
  element_span(v, &span);
  *lo = reinterpret_cast<uintptr_t>(v.data);
  // A validated view's end fits in the address space (validate_view), so the cast is exact on
  // 32-bit targets too.
  *hi = *lo + static_cast<uintptr_t>(span * dtype_size(v.dtype));
}

namespace {

// Elements from a token's first element to the end of its last head.
uint64_t token_span(const rotor_tensor &v) { return uint64_t(v.heads - 1) * uint64_t(v.stride_head) + v.head_dim; }

// The smallest distance between the first elements of two distinct tokens of a valid view
// (INT64_MAX when it has one token): the inner token stride, or the outer stride minus what
// the inner axis spans, whichever is smaller.
uint64_t token_gap(const rotor_tensor &v) {
  Axis axes[2] = {{v.batch, uint64_t(v.stride_batch)}, {v.seq, uint64_t(v.stride_seq)}};
  if (axes[0].stride > axes[1].stride) std::swap(axes[0], axes[1]);
  uint64_t gap = uint64_t(INT64_MAX);
  if (axes[0].extent > 1) gap = axes[0].stride;
  if (axes[1].extent > 1) {
    const uint64_t inner_reach = axes[0].extent > 1 ? (axes[0].extent - 1) * axes[0].stride : 0;
    gap = std::min(gap, axes[1].stride - inner_reach);
  }
  return gap;
}

}  // namespace

bool buffers_overlap(const void *a, size_t a_bytes, const void *b, size_t b_bytes) {
  const uintptr_t a_lo = reinterpret_cast<uintptr_t>(a), b_lo = reinterpret_cast<uintptr_t>(b);
  uintptr_t a_hi, b_hi;
  if (__builtin_add_overflow(a_lo, a_bytes, &a_hi) || __builtin_add_overflow(b_lo, b_bytes, &b_hi)) return true;
  return a_lo < b_hi && b_lo < a_hi;
}

bool buffer_overlaps_view(const void *p, size_t bytes, const rotor_tensor &view) {
  uintptr_t view_lo, view_hi;
  view_byte_range(view, &view_lo, &view_hi);
  return buffers_overlap(p, bytes, reinterpret_cast<const void *>(view_lo), size_t(view_hi - view_lo));
}

bool views_disjoint(const rotor_tensor &a, const rotor_tensor &b) {
  ViewBytes a_bytes, b_bytes;
  view_byte_range(a, &a_bytes.lo, &a_bytes.hi);
  view_byte_range(b, &b_bytes.lo, &b_bytes.hi);
  return views_disjoint(a, a_bytes, b, b_bytes);
}

bool views_disjoint(const rotor_tensor &a, const ViewBytes &a_bytes, const rotor_tensor &b, const ViewBytes &b_bytes) {
  const uintptr_t a_lo = a_bytes.lo, a_hi = a_bytes.hi, b_lo = b_bytes.lo, b_hi = b_bytes.hi;
  if (a_hi <= b_lo || b_hi <= a_lo) return true;
  if (a.dtype != b.dtype || a.batch != b.batch || a.seq != b.seq || a.stride_batch != b.stride_batch ||
      a.stride_seq != b.stride_seq)
    return false;
  const int64_t elem = int64_t(dtype_size(a.dtype));
  const int64_t byte_delta = int64_t(b_lo) - int64_t(a_lo);
  if (byte_delta % elem != 0) return false;
  // Within every token, b's heads start `delta` elements after a's. They are disjoint when b's
  // heads fit between the end of a's and the start of the next token (or the mirror image).
  const int64_t delta = byte_delta / elem;
  const uint64_t span_a = token_span(a), span_b = token_span(b), gap = token_gap(a);
  if (delta >= 0) return uint64_t(delta) >= span_a && uint64_t(delta) + span_b <= gap;
  return uint64_t(-delta) >= span_b && uint64_t(-delta) + span_a <= gap;
}

bool same_shape(const rotor_tensor &a, const rotor_tensor &b) {
  return a.batch == b.batch && a.seq == b.seq && a.heads == b.heads && a.head_dim == b.head_dim;
}

bool same_layout(const rotor_tensor &a, const rotor_tensor &b) {
  return a.data == b.data && a.dtype == b.dtype && same_shape(a, b) && a.stride_batch == b.stride_batch &&
         a.stride_seq == b.stride_seq && a.stride_head == b.stride_head;
}

}  // namespace rotor
