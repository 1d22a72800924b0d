// The rotation kernels: one thread rotates a few pairs of one head of one token.
//
// Work split. A launch covers one tensor, or Q then K (apply_qk: one launch for both). Its
// units are (tensor, token, head, chunk) in that order, the chunk fastest: a chunk is V
// consecutive pairs, so consecutive threads touch consecutive bytes of a head and a warp reads
// whole cache lines. The table row of a token is read by every head of that token; the rows are
// small and stay in L1/L2, so the bytes that matter are the tensor's own, read and written once.
//
// Vector loads. Where the launch qualifies (vector_loads_ok: 16-byte aligned data and strides,
// r/2 a multiple of the vector), a chunk is one 16-byte load and store per half of the pair
// (HALF pairing: dims i.. and i + r/2..) or one 16-byte load and store (INTERLEAVED: dims
// 2i, 2i+1, ...). Otherwise each element is loaded alone (any stride rotor.h accepts works).
//
// Rounding. Each pair is computed with the host's scalar formula, operation by operation, with
// the round-to-nearest intrinsics (__fmul_rn and friends are never contracted into a fused
// multiply-add): f32 results are the host reference's bit for bit, and f16/bf16 are loaded
// exactly, computed in float and rounded to nearest even once on store.
//
// Positions. A token whose position is negative or >= row_limit is skipped (its values stay
// as they are) and counted once in the error record by the thread of its first head and first
// chunk of the first tensor; no row at or past row_limit is ever read.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "launch.hpp"

namespace rotor {
namespace cuda {
namespace {

constexpr int kBlock = 256;
constexpr uint64_t kMaxBlocks = uint64_t{1} << 20;  // the grid-stride loop covers the rest

// What the kernel reads, flattened so a thread selects its tensor's fields with no dynamic
// indexing into the parameter block.
struct KernelArgs {
  DeviceTensor t0, t1;
  uint64_t units0;       // units of tensor 0
  uint64_t units_total;  // units of both tensors
  uint32_t chunks;       // chunks per head
  uint32_t seq;
  const float *rows;
  uint32_t half;
  uint32_t row_limit;
  const int32_t *positions;
  uint32_t offset;
  bool inverse;
  bool small;            // units_total < 2^32: index arithmetic in 32 bits
  ErrorRecord *errors;
};

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

template <typename T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

// Tensor chunks: N elements; kAligned means they are 16 bytes at a 16-byte boundary, moved
// as one vector access (N * sizeof(T) == 16 is checked at compile time).
template <bool kAligned, typename T, int N>
__device__ __forceinline__ void load(const T *p, T (&out)[N]) {
  if constexpr (kAligned) {
    static_assert(sizeof(T) * N == 16, "vector chunks are 16 bytes");
    const uint4 raw = *reinterpret_cast<const uint4 *>(p);
    memcpy(out, &raw, sizeof raw);
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = p[i];
  }
}

template <bool kAligned, typename T, int N>
__device__ __forceinline__ void store(T *p, const T (&in)[N]) {
  if constexpr (kAligned) {
    static_assert(sizeof(T) * N == 16, "vector chunks are 16 bytes");
    uint4 raw;
    memcpy(&raw, in, sizeof raw);
    *reinterpret_cast<uint4 *>(p) = raw;
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) p[i] = in[i];
  }
}

// Row chunks, through the read-only cache. When the tensor qualifies for vectors, the row
// chunk is aligned to its own size too (row stride r and chunk start are multiples of N).
template <bool kAligned, int N>
__device__ __forceinline__ void load_row(const float *p, float (&out)[N]) {
  if constexpr (kAligned && N % 4 == 0) {
#pragma unroll
    for (int i = 0; i < N; i += 4) {
      const float4 v = __ldg(reinterpret_cast<const float4 *>(p + i));
      out[i] = v.x;
      out[i + 1] = v.y;
      out[i + 2] = v.z;
      out[i + 3] = v.w;
    }
  } else if constexpr (kAligned && N == 2) {
    const float2 v = __ldg(reinterpret_cast<const float2 *>(p));
    out[0] = v.x;
    out[1] = v.y;
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) out[i] = __ldg(p + i);
  }
}

// Pairs per thread: one 16-byte vector holds them (HALF: V of the first dims, V of the second
// in another vector; INTERLEAVED: V pairs are 2V consecutive elements).
template <typename T, rotor_pairing P, bool kVec>
__host__ __device__ constexpr int pairs_per_thread() {
  if (!kVec) return 1;
  return P == ROTOR_PAIRING_HALF ? int(16 / sizeof(T)) : int(8 / sizeof(T));
}

// a' = a cos - b sin, b' = b cos + a sin, rounded as the host's scalar kernel rounds.
__device__ __forceinline__ void rotate_pair(float a, float b, float c, float s, float *a_out, float *b_out) {
  *a_out = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s));
  *b_out = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
}

template <typename T, rotor_pairing P, bool kVec>
__global__ void __launch_bounds__(kBlock) rotate_kernel(const KernelArgs args) {
  constexpr int V = pairs_per_thread<T, P, kVec>();
  const uint64_t stride = uint64_t{gridDim.x} * blockDim.x;
  for (uint64_t unit = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x; unit < args.units_total;
       unit += stride) {
    const bool second = unit >= args.units0;
    const uint64_t u = second ? unit - args.units0 : unit;
    const uint32_t heads = second ? args.t1.heads : args.t0.heads;
    uint32_t chunk, head;
    uint64_t token;
    if (args.small) {
      const uint32_t u32 = uint32_t(u);
      const uint32_t rest = u32 / args.chunks;
      chunk = u32 - rest * args.chunks;
      token = rest / heads;
      head = rest - uint32_t(token) * heads;
    } else {
      const uint64_t rest = u / args.chunks;
      chunk = uint32_t(u - rest * args.chunks);
      token = rest / heads;
      head = uint32_t(rest - token * heads);
    }
    const uint64_t batch = token / args.seq;
    const uint32_t s = uint32_t(token - batch * args.seq);
    // offset + s < max_len <= 2^31 - 1 (checked on the host), so it fits an int32.
    const int32_t pos = args.positions != nullptr ? __ldg(args.positions + token) : int32_t(args.offset + s);
    if (pos < 0 || uint32_t(pos) >= args.row_limit) {
      if (!second && head == 0 && chunk == 0) {
        atomicAdd(&args.errors->skipped_tokens, 1u);
        atomicExch(&args.errors->position, pos);
      }
      continue;
    }
    void *data = second ? args.t1.data : args.t0.data;
    const int64_t sb = second ? args.t1.stride_batch : args.t0.stride_batch;
    const int64_t ss = second ? args.t1.stride_seq : args.t0.stride_seq;
    const int64_t sh = second ? args.t1.stride_head : args.t0.stride_head;
    T *x = static_cast<T *>(data) + int64_t(batch) * sb + int64_t(s) * ss + int64_t(head) * sh;

    const uint32_t first = chunk * V;  // first pair of this chunk
    const float *cos_row = args.rows + uint64_t(uint32_t(pos)) * 2 * args.half + first;
    float c[V], sn[V];
    load_row<kVec>(cos_row, c);
    load_row<kVec>(cos_row + args.half, sn);
    if (args.inverse) {
#pragma unroll
      for (int i = 0; i < V; ++i) sn[i] = -sn[i];
    }

    if constexpr (P == ROTOR_PAIRING_HALF) {
      T a[V], b[V];
      load<kVec>(x + first, a);
      load<kVec>(x + args.half + first, b);
#pragma unroll
      for (int i = 0; i < V; ++i) {
        float ra, rb;
        rotate_pair(to_float(a[i]), to_float(b[i]), c[i], sn[i], &ra, &rb);
        a[i] = from_float<T>(ra);
        b[i] = from_float<T>(rb);
      }
      store<kVec>(x + first, a);
      store<kVec>(x + args.half + first, b);
    } else {
      T e[2 * V];
      load<kVec>(x + 2 * first, e);
#pragma unroll
      for (int i = 0; i < V; ++i) {
        float ra, rb;
        rotate_pair(to_float(e[2 * i]), to_float(e[2 * i + 1]), c[i], sn[i], &ra, &rb);
        e[2 * i] = from_float<T>(ra);
        e[2 * i + 1] = from_float<T>(rb);
      }
      store<kVec>(x + 2 * first, e);
    }
  }
}

__global__ void take_errors_kernel(ErrorRecord *record, ErrorRecord *taken) {
  taken->skipped_tokens = atomicExch(&record->skipped_tokens, 0u);
  taken->position = atomicExch(&record->position, -1);
}

template <typename T, rotor_pairing P, bool kVec>
cudaError_t launch_typed(const RotateLaunch &launch, cudaStream_t stream) {
  constexpr uint32_t V = uint32_t(pairs_per_thread<T, P, kVec>());
  KernelArgs args{};
  args.t0 = launch.tensors[0];
  args.t1 = launch.tensor_count > 1 ? launch.tensors[1] : launch.tensors[0];
  args.chunks = launch.half / V;
  const uint64_t tokens = uint64_t{launch.batch} * launch.seq;
  args.units0 = tokens * args.t0.heads * args.chunks;
  args.units_total = args.units0 + (launch.tensor_count > 1 ? tokens * args.t1.heads * args.chunks : 0);
  args.seq = launch.seq;
  args.rows = launch.rows;
  args.half = launch.half;
  args.row_limit = launch.row_limit;
  args.positions = launch.positions;
  args.offset = launch.offset;
  args.inverse = launch.inverse;
  args.small = args.units_total <= uint64_t{UINT32_MAX};
  args.errors = launch.errors;
  const uint64_t blocks = std::min<uint64_t>((args.units_total + kBlock - 1) / kBlock, kMaxBlocks);
  rotate_kernel<T, P, kVec><<<unsigned(blocks), kBlock, 0, stream>>>(args);
  return cudaGetLastError();
}

template <typename T>
cudaError_t launch_dtype(const RotateLaunch &launch, bool vec, cudaStream_t stream) {
  if (launch.pairing == ROTOR_PAIRING_HALF)
    return vec ? launch_typed<T, ROTOR_PAIRING_HALF, true>(launch, stream)
               : launch_typed<T, ROTOR_PAIRING_HALF, false>(launch, stream);
  return vec ? launch_typed<T, ROTOR_PAIRING_INTERLEAVED, true>(launch, stream)
             : launch_typed<T, ROTOR_PAIRING_INTERLEAVED, false>(launch, stream);
}

}  // namespace

bool vector_loads_ok(const DeviceTensor &tensor, rotor_dtype dtype, rotor_pairing pairing, uint32_t half) {
  const uint32_t elem = dtype == ROTOR_DTYPE_F32 ? 4 : 2;
  const uint32_t per_vector = 16 / elem;  // elements in 16 bytes
  const uint32_t pairs = pairing == ROTOR_PAIRING_HALF ? per_vector : per_vector / 2;
  if (half % pairs != 0) return false;
  if (reinterpret_cast<uintptr_t>(tensor.data) % 16 != 0) return false;
  return tensor.stride_batch % per_vector == 0 && tensor.stride_seq % per_vector == 0 &&
         tensor.stride_head % per_vector == 0;
}

cudaError_t launch_rotate(const RotateLaunch &launch, cudaStream_t stream) {
  bool vec = vector_loads_ok(launch.tensors[0], launch.dtype, launch.pairing, launch.half);
  if (launch.tensor_count > 1)
    vec = vec && vector_loads_ok(launch.tensors[1], launch.dtype, launch.pairing, launch.half);
  switch (launch.dtype) {
    case ROTOR_DTYPE_F32: return launch_dtype<float>(launch, vec, stream);
    case ROTOR_DTYPE_F16: return launch_dtype<__half>(launch, vec, stream);
    case ROTOR_DTYPE_BF16: return launch_dtype<__nv_bfloat16>(launch, vec, stream);
  }
  return cudaErrorInvalidValue;
}

cudaError_t launch_take_errors(ErrorRecord *record, ErrorRecord *taken, cudaStream_t stream) {
  take_errors_kernel<<<1, 1, 0, stream>>>(record, taken);
  return cudaGetLastError();
}

}  // namespace cuda
}  // namespace rotor
