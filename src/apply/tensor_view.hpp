// Validation of rotor_tensor views: shape, strides, alignment, overlap and byte-size overflow.
#pragma once
#include <cstddef>
#include <cstdint>

#include "common/dtype.hpp"
#include "rotor/rotor.h"

namespace rotor {

// The one addressing rule of a view: the first element of head `head` of token `s` of entry `b`
// (strides count elements; a validated view's offsets fit in int64). Inline: the apply and
// attention loops call it per token.
inline unsigned char *head_address(const rotor_tensor &v, uint32_t b, uint32_t s, uint32_t head) {
  const int64_t element = int64_t{b} * v.stride_batch + int64_t{s} * v.stride_seq + int64_t{head} * v.stride_head;
  return static_cast<unsigned char *>(v.data) + element * int64_t(dtype_size(v.dtype));
}

// OK when the view is usable: data non-NULL and aligned to its element, dims > 0, dtype valid,
// strides >= 0, no two heads overlapping, and the byte span (first to last element) fits in
// int64 and does not wrap the address space. INVALID_ARGUMENT otherwise.
rotor_status validate_view(const rotor_tensor &view);

// The bytes [lo, hi) a valid view spans (as view_byte_range gives them).
struct ViewBytes {
  uintptr_t lo, hi;
};
// validate_view that also gives the view's bytes on OK, for the overlap checks that follow: a
// call's views are measured once (a decode step's check_qk did it twice per view).
rotor_status validate_view(const rotor_tensor &view, ViewBytes *bytes);

// Byte range [lo, hi) a valid view touches.
void view_byte_range(const rotor_tensor &view, uintptr_t *lo, uintptr_t *hi);

// Whether two valid views share no element. Exact when their byte ranges are disjoint, and for
// views with the same token strides whose heads sit side by side inside every token (Q and K
// of a fused QKV buffer); any other interleaving counts as overlapping (conservative).
bool views_disjoint(const rotor_tensor &a, const rotor_tensor &b);
// The same with each view's bytes from validate_view.
bool views_disjoint(const rotor_tensor &a, const ViewBytes &a_bytes, const rotor_tensor &b, const ViewBytes &b_bytes);

// Whether `bytes` bytes at p (a workspace, a KV cache's arena) may share a byte with a valid
// view. A range that would wrap the address space counts as overlapping (no valid buffer does
// that).
bool buffer_overlaps_view(const void *p, size_t bytes, const rotor_tensor &view);

// Whether two byte ranges share a byte (a workspace and a KV cache's arena, two caches' arenas);
// the test buffer_overlaps_view applies to a view's byte range. Empty ranges share nothing; a
// range that would wrap the address space counts as overlapping.
bool buffers_overlap(const void *a, size_t a_bytes, const void *b, size_t b_bytes);

bool same_shape(const rotor_tensor &a, const rotor_tensor &b);
bool same_layout(const rotor_tensor &a, const rotor_tensor &b);  // same data, shape, dtype, strides

}  // namespace rotor
