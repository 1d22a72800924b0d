// What one GPU thread does for one unit of a launch: rotate a chunk of pairs of one head of one
// token, or skip and count the token when its device position is out of range. The __global__
// kernels (cuda/rotate_kernels.cu) call rotate_unit in their grid-stride loop; the host tests
// (tests/cuda_host/) call the very same function for every unit of a launch, in a shuffled
// order, compiled by the host compiler. Only the few CUDA intrinsics below differ between the
// two, and their host equivalents round the same way:
//   __fmul_rn / __fadd_rn / __fsub_rn   float * + - (the host build has -ffp-contract=off;
//                                       the intrinsics are never contracted into an FMA)
//   __half2float / __bfloat162float     exact widenings, as rotor's half.hpp
//   __float2half_rn / __float2bfloat16_rn  round to nearest even, as rotor's half.hpp
//   __ldg, 16-byte vector accesses      plain loads and memcpy (the host checks the alignment a
//                                       GPU would need and counts any violation)
//   atomicAdd / atomicExch              plain updates (the host runs units one at a time)
//
// Work split. Units are (tensor, token, head, chunk), the chunk fastest: consecutive threads
// touch consecutive bytes of a head and a warp reads whole cache lines. The table row of a
// token is read by every head of that token; rows are small and stay in L1/L2.
//
// Vector accesses (kVec, chosen by vector_loads_ok): a chunk is one 16-byte load and store per
// half of the pair (HALF: dims i.. and i + r/2..) or one (INTERLEAVED: dims 2i, 2i+1, ...).
// Otherwise one element at a time (any stride rotor.h accepts works).
//
// Rounding. Each pair is computed with the host scalar kernel's formula, operation by operation:
// f32 results are the host reference's bit for bit; f16/bf16 are widened exactly, computed in
// float and rounded to nearest even once on store.
//
// Positions. A token whose position is negative or >= row_limit is left as it is and counted
// once in the error record by the unit of its first head and first chunk in the first tensor;
// no row at or past row_limit is ever read.
#pragma once
#include <cstdint>
#include <cstring>

#include "launch.hpp"

#if defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#endif
#if !defined(__CUDA_ARCH__)
#include "common/half.hpp"
#endif

// Loops over a chunk's V pairs have constant trip counts: unrolled on the device (registers,
// no local memory); a host compiler decides for itself.
#if defined(__CUDA_ARCH__)
#define ROTOR_UNROLL _Pragma("unroll")
#else
#define ROTOR_UNROLL
#endif

namespace rotor {
namespace cuda {

#if !defined(__CUDA_ARCH__)
// Host runs only: 16-byte accesses at addresses a GPU could not load from. The tests expect 0.
inline unsigned long &host_misaligned_vector_accesses() {
  static unsigned long count = 0;
  return count;
}
inline void host_check_alignment(const void *p, uintptr_t alignment) {
  if (reinterpret_cast<uintptr_t>(p) % alignment != 0) ++host_misaligned_vector_accesses();
}
#endif

// ---- the intrinsics and their host equivalents ----

ROTOR_HOST_DEVICE float mul_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
ROTOR_HOST_DEVICE float add_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}
ROTOR_HOST_DEVICE float sub_rn(float a, float b) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(a, b);
#else
  return a - b;
#endif
}

// Element types: storage in memory (16-bit patterns for f16 and bf16) and the exact widening /
// rounding to nearest even of each.
struct F32Elem {
  using Storage = float;
  static ROTOR_HOST_DEVICE float widen(float v) { return v; }
  static ROTOR_HOST_DEVICE float narrow(float v) { return v; }
};
struct F16Elem {
  using Storage = uint16_t;
  static ROTOR_HOST_DEVICE float widen(uint16_t bits) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(bits));
#else
    return f16_to_float(bits);
#endif
  }
  static ROTOR_HOST_DEVICE uint16_t narrow(float v) {
#if defined(__CUDA_ARCH__)
    return __half_as_ushort(__float2half_rn(v));
#else
    return float_to_f16(v);
#endif
  }
};
struct BF16Elem {
  using Storage = uint16_t;
  static ROTOR_HOST_DEVICE float widen(uint16_t bits) {
#if defined(__CUDA_ARCH__)
    return __bfloat162float(__ushort_as_bfloat16(bits));
#else
    return bf16_to_float(bits);
#endif
  }
  static ROTOR_HOST_DEVICE uint16_t narrow(float v) {
#if defined(__CUDA_ARCH__)
    return __bfloat16_as_ushort(__float2bfloat16_rn(v));
#else
    return float_to_bf16(v);
#endif
  }
};

// N tensor elements; kVec: 16 bytes at a 16-byte boundary, moved as one vector access.
template <bool kVec, typename S, int N>
ROTOR_HOST_DEVICE void load_elements(const S *p, S (&out)[N]) {
  if constexpr (kVec) {
    static_assert(sizeof(S) * N == 16, "vector chunks are 16 bytes");
#if defined(__CUDA_ARCH__)
    const uint4 raw = *reinterpret_cast<const uint4 *>(p);
    memcpy(out, &raw, sizeof raw);
#else
    host_check_alignment(p, 16);
    std::memcpy(out, p, 16);
#endif
  } else {
    ROTOR_UNROLL for (int i = 0; i < N; ++i) out[i] = p[i];
  }
}

template <bool kVec, typename S, int N>
ROTOR_HOST_DEVICE void store_elements(S *p, const S (&in)[N]) {
  if constexpr (kVec) {
    static_assert(sizeof(S) * N == 16, "vector chunks are 16 bytes");
#if defined(__CUDA_ARCH__)
    uint4 raw;
    memcpy(&raw, in, sizeof raw);
    *reinterpret_cast<uint4 *>(p) = raw;
#else
    host_check_alignment(p, 16);
    std::memcpy(p, in, 16);
#endif
  } else {
    ROTOR_UNROLL for (int i = 0; i < N; ++i) p[i] = in[i];
  }
}

// N floats of a table row, through the read-only cache. On the vector path the row chunk is
// aligned to its own size too (row stride r and chunk start are multiples of N).
template <bool kVec, int N>
ROTOR_HOST_DEVICE void load_row(const float *p, float (&out)[N]) {
#if defined(__CUDA_ARCH__)
  if constexpr (kVec && N % 4 == 0) {
    ROTOR_UNROLL for (int i = 0; i < N; i += 4) {
      const float4 v = __ldg(reinterpret_cast<const float4 *>(p + i));
      out[i] = v.x;
      out[i + 1] = v.y;
      out[i + 2] = v.z;
      out[i + 3] = v.w;
    }
  } else if constexpr (kVec && N == 2) {
    const float2 v = __ldg(reinterpret_cast<const float2 *>(p));
    out[0] = v.x;
    out[1] = v.y;
  } else {
    ROTOR_UNROLL for (int i = 0; i < N; ++i) out[i] = __ldg(p + i);
  }
#else
  if constexpr (kVec) host_check_alignment(p, N % 4 == 0 ? 16 : 4 * N);
  for (int i = 0; i < N; ++i) out[i] = p[i];
#endif
}

ROTOR_HOST_DEVICE int32_t load_position(const int32_t *p) {
#if defined(__CUDA_ARCH__)
  return __ldg(p);
#else
  return *p;
#endif
}

ROTOR_HOST_DEVICE void record_skipped_token(ErrorRecord *record, int32_t position) {
#if defined(__CUDA_ARCH__)
  atomicAdd(&record->skipped_tokens, 1u);
  atomicExch(&record->position, position);
#else
  ++record->skipped_tokens;
  record->position = position;
#endif
}

// *taken = *record, then *record = {0, -1}; on the GPU atomically with respect to the rotation
// kernels of any stream that update the record.
ROTOR_HOST_DEVICE void take_error_record(ErrorRecord *record, ErrorRecord *taken) {
#if defined(__CUDA_ARCH__)
  taken->skipped_tokens = atomicExch(&record->skipped_tokens, 0u);
  taken->position = atomicExch(&record->position, -1);
#else
  *taken = *record;
  *record = ErrorRecord{0u, -1};
#endif
}

// ---- one unit ----

struct UnitCoords {
  bool second;     // the unit belongs to tensor 1 (K)
  uint64_t token;  // batch * seq + s
  uint32_t head;
  uint32_t chunk;
};

// Where a unit index falls. With fewer than 2^32 units the divisions run in 32 bits (cheaper on
// a GPU); both paths give the same coordinates.
ROTOR_HOST_DEVICE UnitCoords unit_coords(const KernelArgs &args, uint64_t unit) {
  UnitCoords at;
  at.second = unit >= args.units0;
  const uint64_t u = at.second ? unit - args.units0 : unit;
  const uint32_t heads = at.second ? args.t1.heads : args.t0.heads;
  if (args.small) {
    const uint32_t u32 = uint32_t(u);
    const uint32_t rest = u32 / args.chunks;
    at.chunk = u32 - rest * args.chunks;
    const uint32_t token = rest / heads;
    at.head = rest - token * heads;
    at.token = token;
  } else {
    const uint64_t rest = u / args.chunks;
    at.chunk = uint32_t(u - rest * args.chunks);
    at.token = rest / heads;
    at.head = uint32_t(rest - at.token * heads);
  }
  return at;
}

// a' = a cos - b sin, b' = b cos + a sin, rounded as the host's scalar kernel rounds.
ROTOR_HOST_DEVICE void rotate_pair(float a, float b, float c, float s, float *a_out, float *b_out) {
  *a_out = sub_rn(mul_rn(a, c), mul_rn(b, s));
  *b_out = add_rn(mul_rn(b, c), mul_rn(a, s));
}

template <typename E, rotor_pairing P, bool kVec>
ROTOR_HOST_DEVICE void rotate_unit(const KernelArgs &args, uint64_t unit) {
  using S = typename E::Storage;
  constexpr int V = int(pairs_per_thread(uint32_t(sizeof(S)), P, kVec));
  const UnitCoords at = unit_coords(args, unit);
  const uint64_t batch = at.token / args.seq;
  const uint32_t s = uint32_t(at.token - batch * args.seq);
  // offset + s < max_len <= 2^31 - 1 (checked on the host), so it fits an int32.
  const int32_t pos = args.positions != nullptr ? load_position(args.positions + at.token) : int32_t(args.offset + s);
  if (pos < 0 || uint32_t(pos) >= args.row_limit) {
    if (!at.second && at.head == 0 && at.chunk == 0) record_skipped_token(args.errors, pos);
    return;
  }
  const DeviceTensor &t = at.second ? args.t1 : args.t0;
  S *x = static_cast<S *>(t.data) + int64_t(batch) * t.stride_batch + int64_t(s) * t.stride_seq +
         int64_t(at.head) * t.stride_head;

  const uint32_t first = at.chunk * uint32_t(V);  // first pair of this chunk
  const float *cos_row = args.rows + uint64_t(uint32_t(pos)) * 2 * args.half + first;
  float c[V], sn[V];
  load_row<kVec>(cos_row, c);
  load_row<kVec>(cos_row + args.half, sn);
  if (args.inverse) {
    ROTOR_UNROLL for (int i = 0; i < V; ++i) sn[i] = -sn[i];
  }

  if constexpr (P == ROTOR_PAIRING_HALF) {
    S a[V], b[V];
    load_elements<kVec>(x + first, a);
    load_elements<kVec>(x + args.half + first, b);
    ROTOR_UNROLL for (int i = 0; i < V; ++i) {
      float ra, rb;
      rotate_pair(E::widen(a[i]), E::widen(b[i]), c[i], sn[i], &ra, &rb);
      a[i] = E::narrow(ra);
      b[i] = E::narrow(rb);
    }
    store_elements<kVec>(x + first, a);
    store_elements<kVec>(x + args.half + first, b);
  } else {
    S e[2 * V];
    load_elements<kVec>(x + 2 * first, e);
    ROTOR_UNROLL for (int i = 0; i < V; ++i) {
      float ra, rb;
      rotate_pair(E::widen(e[2 * i]), E::widen(e[2 * i + 1]), c[i], sn[i], &ra, &rb);
      e[2 * i] = E::narrow(ra);
      e[2 * i + 1] = E::narrow(rb);
    }
    store_elements<kVec>(x + 2 * first, e);
  }
}

// ---- the 12 kernel variants ----

template <typename E, rotor_pairing P, bool V>
struct KernelVariant {
  using Elem = E;
  static constexpr rotor_pairing kPairing = P;
  static constexpr bool kVec = V;
};

template <typename E, typename Fn>
void with_pairing_and_path(rotor_pairing pairing, bool vec, Fn &fn) {
  if (pairing == ROTOR_PAIRING_HALF) {
    if (vec) fn(KernelVariant<E, ROTOR_PAIRING_HALF, true>{});
    else fn(KernelVariant<E, ROTOR_PAIRING_HALF, false>{});
  } else {
    if (vec) fn(KernelVariant<E, ROTOR_PAIRING_INTERLEAVED, true>{});
    else fn(KernelVariant<E, ROTOR_PAIRING_INTERLEAVED, false>{});
  }
}

// Calls fn(KernelVariant<...>{}) for the variant a plan names (dtype validated beforehand): the
// one dispatch the CUDA launch and the host runs share.
template <typename Fn>
void with_kernel_variant(const LaunchPlan &plan, Fn &&fn) {
  if (plan.dtype == ROTOR_DTYPE_F32) with_pairing_and_path<F32Elem>(plan.pairing, plan.vec, fn);
  else if (plan.dtype == ROTOR_DTYPE_F16) with_pairing_and_path<F16Elem>(plan.pairing, plan.vec, fn);
  else with_pairing_and_path<BF16Elem>(plan.pairing, plan.vec, fn);
}

}  // namespace cuda
}  // namespace rotor
