// Random cases of rotor_cuda_apply / rotor_cuda_apply_qk shared by the GPU tests
// (tests/test_cuda.cpp) and the host runs of the CUDA code (tests/cuda_host/): shapes, strides
// (bshd, bhsd, padded, fused QKV, starts off the 16-byte grid), partial rotary dims, dtypes and
// pairings, as element offsets into one buffer; and distances between result buffers.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/half.hpp"
#include "reference.hpp"
#include "rotor/rotor.h"

namespace cuda_case {

inline size_t elem_size(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 4 : 2; }

// Buffer of random values representable in dtype (bytes, host side).
inline std::vector<unsigned char> random_bytes(rotor_dtype dt, size_t elems, std::mt19937 &rng) {
  std::vector<unsigned char> bytes(elems * elem_size(dt));
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (size_t i = 0; i < elems; ++i) {
    const float f = dist(rng);
    if (dt == ROTOR_DTYPE_F32) {
      std::memcpy(&bytes[i * 4], &f, 4);
    } else {
      const uint16_t h = dt == ROTOR_DTYPE_F16 ? rotor::float_to_f16(f) : rotor::float_to_bf16(f);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

// Ordered integer of a 16-bit float pattern: neighbours differ by 1, +0 and -0 are equal.
inline int32_t ordered16(uint16_t h) { return (h & 0x8000u) ? -int32_t(h & 0x7fffu) : int32_t(h); }

// Largest distance, in ulps of the type, between two buffers of dtype elements.
inline int64_t max_ulps(rotor_dtype dt, const std::vector<unsigned char> &a, const std::vector<unsigned char> &b,
                 size_t *where) {
  int64_t worst = 0;
  const size_t n = a.size() / elem_size(dt);
  for (size_t i = 0; i < n; ++i) {
    int64_t d;
    if (dt == ROTOR_DTYPE_F32) {
      float x, y;
      std::memcpy(&x, &a[i * 4], 4);
      std::memcpy(&y, &b[i * 4], 4);
      d = ref::ulp_distance(x, y);
    } else {
      uint16_t x, y;
      std::memcpy(&x, &a[i * 2], 2);
      std::memcpy(&y, &b[i * 2], 2);
      d = std::llabs(int64_t(ordered16(x)) - int64_t(ordered16(y)));
    }
    if (d > worst) {
      worst = d;
      *where = i;
    }
  }
  return worst;
}

inline int64_t allowed_ulps(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 2 : 1; }

// One random case: Q (and K for apply_qk) as element offsets into one buffer.
struct Case {
  rotor_dtype dtype;
  rotor_pairing pairing;
  uint32_t rotary_dim;
  bool qk;
  rotor_tensor q{}, k{};       // data holds the element offset, rebased with at()
  size_t elems = 0;            // buffer length in elements
  std::string describe;
};

inline uint64_t span_of(const rotor_tensor &v) {
  return uint64_t(v.batch - 1) * uint64_t(v.stride_batch) + uint64_t(v.seq - 1) * uint64_t(v.stride_seq) +
         uint64_t(v.heads - 1) * uint64_t(v.stride_head) + v.head_dim;
}

inline rotor_tensor at(const rotor_tensor &v, void *base) {
  rotor_tensor out = v;
  out.data = static_cast<unsigned char *>(base) + reinterpret_cast<uintptr_t>(v.data) * elem_size(v.dtype);
  return out;
}

inline Case random_case(std::mt19937 &rng) {
  auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
  Case c;
  c.dtype = rotor_dtype(pick(0, 2));
  c.pairing = rotor_pairing(pick(0, 1));
  c.qk = pick(0, 1) == 1;
  static const uint32_t dims[] = {2, 6, 8, 16, 24, 32, 64, 80, 96, 128};
  const uint32_t head_dim = dims[pick(0, 9)] + (pick(0, 3) == 0 ? 2 * pick(1, 8) : 0);
  c.rotary_dim = pick(0, 2) == 0 ? 2 * pick(1, head_dim / 2) : head_dim;  // partial rotary a third of the time
  const uint32_t batch = pick(1, 3), seq = pick(1, 33), hq = pick(1, 6), hk = c.qk ? pick(1, hq) : 0;
  const uint32_t layout = pick(0, 3);
  const uint32_t shift = pick(0, 2) == 0 ? pick(1, 3) : 0;  // start off the 16-byte grid sometimes
  rotor_tensor q{}, k{};
  q.dtype = k.dtype = c.dtype;
  q.batch = k.batch = batch;
  q.seq = k.seq = seq;
  q.heads = hq;
  k.heads = hk;
  q.head_dim = k.head_dim = head_dim;
  const char *name = "";
  switch (layout) {
    case 0:  // [b, s, h, d], K after Q
    case 1: {  // [b, h, s, d]
      for (rotor_tensor *v : {&q, &k}) {
        if (v->heads == 0) continue;
        rotor_tensor t = layout == 0 ? rotor_tensor_bshd(nullptr, c.dtype, batch, seq, v->heads, head_dim)
                                     : rotor_tensor_bhsd(nullptr, c.dtype, batch, seq, v->heads, head_dim);
        v->stride_batch = t.stride_batch;
        v->stride_seq = t.stride_seq;
        v->stride_head = t.stride_head;
      }
      q.data = reinterpret_cast<void *>(uintptr_t{shift});
      k.data = reinterpret_cast<void *>(uintptr_t(shift + span_of(q) + pick(0, 5)));
      name = layout == 0 ? "bshd" : "bhsd";
      break;
    }
    case 2: {  // padded: gaps between heads, tokens and batches
      for (rotor_tensor *v : {&q, &k}) {
        if (v->heads == 0) continue;
        v->stride_head = head_dim + pick(0, 5);
        v->stride_seq = int64_t(v->heads) * v->stride_head + pick(0, 7);
        v->stride_batch = int64_t(seq) * v->stride_seq + pick(0, 9);
      }
      q.data = reinterpret_cast<void *>(uintptr_t{shift});
      k.data = reinterpret_cast<void *>(uintptr_t(shift + span_of(q) + pick(0, 5)));
      name = "padded";
      break;
    }
    default: {  // fused QKV [b, s, (hq + 2 hk) * d] (hk = hq when only Q is rotated)
      const uint32_t kv = c.qk ? hk : hq;
      const int64_t row = int64_t(hq + 2 * kv) * head_dim;
      for (rotor_tensor *v : {&q, &k}) {
        v->stride_head = head_dim;
        v->stride_seq = row;
        v->stride_batch = int64_t(seq) * row;
      }
      q.data = reinterpret_cast<void *>(uintptr_t{shift});
      k.data = reinterpret_cast<void *>(uintptr_t(shift + uint64_t(hq) * head_dim));
      name = "fused-qkv";
      break;
    }
  }
  c.q = q;
  c.k = k;
  c.elems = size_t(reinterpret_cast<uintptr_t>(q.data) + span_of(q));
  if (c.qk) c.elems = std::max(c.elems, size_t(reinterpret_cast<uintptr_t>(k.data) + span_of(k)));
  if (layout == 3) c.elems = shift + size_t(batch) * size_t(q.stride_batch);  // V included
  c.elems += pick(0, 4);
  c.describe = std::string(name) + " dtype=" + std::to_string(c.dtype) + " pairing=" + std::to_string(c.pairing) +
               " r=" + std::to_string(c.rotary_dim) + " d=" + std::to_string(head_dim) +
               " b=" + std::to_string(batch) + " s=" + std::to_string(seq) + " hq=" + std::to_string(hq) +
               " hk=" + std::to_string(hk) + " shift=" + std::to_string(shift) + (c.qk ? " qk" : "");
  return c;
}

}  // namespace cuda_case
