// The C entry points of the "Applying" section that build views: rotor_tensor_bshd and
// rotor_tensor_bhsd. They cannot fail (a view is validated where it is used), so they need no
// guard; strides saturate instead of overflowing, which validation then refuses.
#include "common/checked_math.hpp"
#include "rotor/rotor.h"

extern "C" {

ROTOR_API rotor_tensor rotor_tensor_bshd(void *data, rotor_dtype dt, uint32_t b, uint32_t s,
                                         uint32_t h, uint32_t d) {
  rotor_tensor t{};
  t.data = data;
  t.dtype = dt;
  t.batch = b;
  t.seq = s;
  t.heads = h;
  t.head_dim = d;
  t.stride_head = d;
  t.stride_seq = rotor::saturating_stride(h, d, 1);
  t.stride_batch = rotor::saturating_stride(s, h, d);
  return t;
}

ROTOR_API rotor_tensor rotor_tensor_bhsd(void *data, rotor_dtype dt, uint32_t b, uint32_t s,
                                         uint32_t h, uint32_t d) {
  rotor_tensor t = rotor_tensor_bshd(data, dt, b, s, h, d);
  t.stride_seq = d;
  t.stride_head = rotor::saturating_stride(s, d, 1);
  t.stride_batch = rotor::saturating_stride(h, s, d);
  return t;
}

}  // extern "C"
