// The scalar reference kernel: the oracle for every SIMD kernel and the fallback on any CPU.
// It loads each element to float, rotates in float, and rounds once on store.
#include <cstring>

#include "common/half.hpp"
#include "kernels/rotate_kernel.hpp"

namespace rotor {
namespace {

struct F32 {
  using Storage = float;
  static float load(const float *p) { return *p; }
  static void store(float *p, float v) { *p = v; }
};
struct F16 {
  using Storage = uint16_t;
  static float load(const uint16_t *p) { return f16_to_float(*p); }
  static void store(uint16_t *p, float v) { *p = float_to_f16(v); }
};
struct BF16 {
  using Storage = uint16_t;
  static float load(const uint16_t *p) { return bf16_to_float(*p); }
  static void store(uint16_t *p, float v) { *p = float_to_bf16(v); }
};

// Index of the second element of pair i: i + r/2 (half) or 2i + 1 (interleaved).
template <rotor_pairing P>
struct Pairs {
  static uint32_t first(uint32_t i, uint32_t) { return P == ROTOR_PAIRING_HALF ? i : 2 * i; }
  static uint32_t second(uint32_t i, uint32_t half) { return P == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1; }
};

template <typename T, rotor_pairing P>
void rotate_token(const TokenHeads &job) {
  using S = typename T::Storage;
  const float sign = job.inverse ? -1.0f : 1.0f;
  const uint32_t rotary_dim = 2 * job.half;
  for (uint32_t h = 0; h < job.heads; ++h) {
    const S *in = static_cast<const S *>(job.in) + h * job.in_head_stride;
    S *out = static_cast<S *>(job.out) + h * job.out_head_stride;
    for (uint32_t i = 0; i < job.half; ++i) {
      const uint32_t ia = Pairs<P>::first(i, job.half), ib = Pairs<P>::second(i, job.half);
      const float a = T::load(in + ia), b = T::load(in + ib);
      const float c = job.cos[i], s = sign * job.sin[i];
      T::store(out + ia, a * c - b * s);
      T::store(out + ib, b * c + a * s);
    }
    if (out != in && job.head_dim > rotary_dim)
      std::memmove(out + rotary_dim, in + rotary_dim, (job.head_dim - rotary_dim) * sizeof(S));
  }
}

}  // namespace

const RotationKernels &scalar_rotation_kernels() {
  static const RotationKernels kernels = {
      {{rotate_token<F32, ROTOR_PAIRING_HALF>, rotate_token<F32, ROTOR_PAIRING_INTERLEAVED>},
       {rotate_token<F16, ROTOR_PAIRING_HALF>, rotate_token<F16, ROTOR_PAIRING_INTERLEAVED>},
       {rotate_token<BF16, ROTOR_PAIRING_HALF>, rotate_token<BF16, ROTOR_PAIRING_INTERLEAVED>}}};
  return kernels;
}

}  // namespace rotor
