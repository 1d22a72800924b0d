// The rotation of f32 and f16 heads, both pairings: storage types, tails, the vector rotation.
// Part of the rotation kernel body (rope_kernel_body.hpp, which includes it inside an arch
// file's anonymous namespace, after Arch and Ops; no include guard, no namespace, on purpose).

constexpr uint32_t kLanes = static_cast<uint32_t>(FloatV::size);

struct StoreF32 {
  using S = float;
  static FloatV load(const float *p) { return FloatV::load_unaligned(p); }
  static void store(float *p, FloatV v) { v.store_unaligned(p); }
};
struct StoreF16 {
  using S = uint16_t;
  static FloatV load(const uint16_t *p) { return Ops::load_f16(p); }
  static void store(uint16_t *p, FloatV v) { Ops::store_f16(p, v); }
};
struct StoreBF16 {
  using S = uint16_t;
  static FloatV load(const uint16_t *p) { return Ops::load_bf16(p); }
  static void store(uint16_t *p, FloatV v) { Ops::store_bf16(p, v); }
};

// Tails shorter than a vector go through a zero-padded buffer, so every element is computed by
// the same vector code (no scalar second implementation to keep in step).
template <class T>
FloatV load_part(const typename T::S *p, uint32_t n) {
  typename T::S buf[kLanes] = {};
  for (uint32_t k = 0; k < n; ++k) buf[k] = p[k];
  return T::load(buf);
}
template <class T>
void store_part(typename T::S *p, FloatV v, uint32_t n) {
  typename T::S buf[kLanes];
  T::store(buf, v);
  for (uint32_t k = 0; k < n; ++k) p[k] = buf[k];
}

// Dims [rotary_dim, head_dim) of an out-of-place call are copied unchanged.
template <class S>
void copy_pass_through(const TokenHeads &job, const S *in, S *out) {
  const uint32_t rotary_dim = 2 * job.half;
  if (out != in && job.head_dim > rotary_dim)
    std::memmove(out + rotary_dim, in + rotary_dim, (job.head_dim - rotary_dim) * sizeof(S));
}

// One pair of vectors: (a c - b s, b c + a s), or with Inverse (s negated, exactly):
// (a c + b s, b c - a s), since x - (-y) is x + y in IEEE arithmetic.
template <bool Inverse>
inline void rotate_vectors(FloatV a, FloatV b, FloatV c, FloatV s, FloatV *ra, FloatV *rb) {
  if (Inverse) {
    *ra = a * c + b * s;
    *rb = b * c - a * s;
  } else {
    *ra = a * c - b * s;
    *rb = b * c + a * s;
  }
}

// How many heads a pass of the rotation loops takes (the kernels' HeadsPerPass argument).
// Two heads per pass: each cos/sin vector loaded feeds both (rotate_half: 6 loads per 4 vectors
// out instead of 8), and twice the lines of the tensor are in flight. One head per pass is
// rotor 1.0's loop. In llvm-mca's models both cost the same per element on Ice Lake and Zen 4
// (docs/cycles.md: loads are not what limits them), but measured they differ by core and call:
// on this project's Xeon two heads per pass decode faster (1.03-1.06x, docs/performance.md);
// on AMD Zen 4 two heads made the 2048-token apply 10-15% slower than 1.0's one head (issue
// 25); on a Zen 3 EPYC two heads decode 1.15x faster, but rotate a 32 MiB interleaved tensor in
// place 1.4x slower, and out of place a 2 MiB one 5-10% slower. So AMD's Zen cores (the
// registry's kRotationKernelsZen) take two heads only in place, and one head for passes of at
// least kLargePassBytes; Intel and the rest two heads (interleaved: in place only, below).
constexpr uint32_t kOneHead = 1, kTwoHeads = 2, kTwoHeadsInPlace = 3;

// Whether a kernel of HeadsPerPass takes this job's heads two at a time.
template <uint32_t HeadsPerPass>
bool two_heads_per_pass(const TokenHeads &job) {
  static_assert(HeadsPerPass >= kOneHead && HeadsPerPass <= kTwoHeadsInPlace, "kOneHead, kTwoHeads or kTwoHeadsInPlace");
  return HeadsPerPass == kTwoHeads || (HeadsPerPass == kTwoHeadsInPlace && job.out == job.in);
}

// rotate_half pairing: dims i and i + r/2 pair up, so both halves are contiguous runs that
// line up with the contiguous cos and sin rows: no shuffle at all.
template <class T, bool Inverse, uint32_t HeadsPerPass>
void rotate_half_pairs_dir(const TokenHeads &job) {
  using S = typename T::S;
  // Locals: stores through vector types may alias anything, so fields read inside the loops
  // would be reloaded on every iteration.
  const uint32_t half = job.half, heads = job.heads;
  const float *const cos = job.cos, *const sin = job.sin;
  const S *const in0 = static_cast<const S *>(job.in);
  S *const out0 = static_cast<S *>(job.out);
  const int64_t in_stride = job.in_head_stride, out_stride = job.out_head_stride;
  uint32_t h = 0;
  // Two heads per pass (see above); same operations per element as one.
  const bool two_heads = two_heads_per_pass<HeadsPerPass>(job);
  for (; two_heads && h + 2 <= heads && half >= kLanes; h += 2) {
    const S *in_a = in0 + h * in_stride, *in_b = in_a + in_stride;
    S *out_a = out0 + h * out_stride, *out_b = out_a + out_stride;
    FloatV ra, rb, rc, rd;
    uint32_t i = 0;
    for (; i + kLanes <= half; i += kLanes) {
      const FloatV c = FloatV::load_unaligned(cos + i), s = FloatV::load_unaligned(sin + i);
      const FloatV xa = T::load(in_a + i), ya = T::load(in_a + half + i);
      const FloatV xb = T::load(in_b + i), yb = T::load(in_b + half + i);
      rotate_vectors<Inverse>(xa, ya, c, s, &ra, &rb);
      rotate_vectors<Inverse>(xb, yb, c, s, &rc, &rd);
      T::store(out_a + i, ra);
      T::store(out_a + half + i, rb);
      T::store(out_b + i, rc);
      T::store(out_b + half + i, rd);
    }
    if (i < half) {
      const uint32_t n = half - i;
      const FloatV c = load_part<StoreF32>(cos + i, n), s = load_part<StoreF32>(sin + i, n);
      rotate_vectors<Inverse>(load_part<T>(in_a + i, n), load_part<T>(in_a + half + i, n), c, s, &ra, &rb);
      rotate_vectors<Inverse>(load_part<T>(in_b + i, n), load_part<T>(in_b + half + i, n), c, s, &rc, &rd);
      store_part<T>(out_a + i, ra, n);
      store_part<T>(out_a + half + i, rb, n);
      store_part<T>(out_b + i, rc, n);
      store_part<T>(out_b + half + i, rd, n);
    }
    copy_pass_through(job, in_a, out_a);
    copy_pass_through(job, in_b, out_b);
  }
  for (; h < heads; ++h) {
    const S *in = in0 + h * in_stride;
    S *out = out0 + h * out_stride;
    FloatV ra, rb;
    uint32_t i = 0;
    for (; i + kLanes <= half; i += kLanes) {
      rotate_vectors<Inverse>(T::load(in + i), T::load(in + half + i), FloatV::load_unaligned(cos + i),
                              FloatV::load_unaligned(sin + i), &ra, &rb);
      T::store(out + i, ra);
      T::store(out + half + i, rb);
    }
    if (i < half) {
      const uint32_t n = half - i;
      rotate_vectors<Inverse>(load_part<T>(in + i, n), load_part<T>(in + half + i, n), load_part<StoreF32>(cos + i, n),
                              load_part<StoreF32>(sin + i, n), &ra, &rb);
      store_part<T>(out + i, ra, n);
      store_part<T>(out + half + i, rb, n);
    }
    copy_pass_through(job, in, out);
  }
}

template <class T, uint32_t HeadsPerPass = kTwoHeads>
void rotate_half_pairs(const TokenHeads &job) {
  if (job.inverse)
    rotate_half_pairs_dir<T, true, HeadsPerPass>(job);
  else
    rotate_half_pairs_dir<T, false, HeadsPerPass>(job);
}

// Pairs of the interleaved layout handled per expansion of the cos/sin row (bounded stack use).
constexpr uint32_t kChunkPairs = 256;

// Interleaved pairing: dims 2i and 2i+1 pair up. The row is expanded once per token (not per
// head), with vector shuffles, to cc = (c0, c0, c1, c1, ...) and ss = (-s0, s0, -s1, s1, ...);
// then each vector x of a head gives x * cc + swap_pairs(x) * ss, i.e. (a c - b s, b c + a s).
template <class T, uint32_t HeadsPerPass = kTwoHeadsInPlace>
void rotate_interleaved_pairs(const TokenHeads &job) {
  using S = typename T::S;
  const FloatV sign(job.inverse ? -1.0f : 1.0f);
  alignas(64) float alternate[kLanes];
  for (uint32_t k = 0; k < kLanes; ++k) alternate[k] = k % 2 == 0 ? -1.0f : 1.0f;
  const FloatV alt = FloatV::load_aligned(alternate);
  // Room for one vector pair past the chunk: a partial last vector expands to whole vectors.
  alignas(64) float cc[2 * kChunkPairs + 2 * kLanes];
  alignas(64) float ss[2 * kChunkPairs + 2 * kLanes];
  for (uint32_t p0 = 0; p0 < job.half; p0 += kChunkPairs) {
    const uint32_t pairs = job.half - p0 < kChunkPairs ? job.half - p0 : kChunkPairs;
    for (uint32_t i = 0; i < pairs; i += kLanes) {
      const uint32_t n = pairs - i < kLanes ? pairs - i : kLanes;
      const FloatV c = n == kLanes ? FloatV::load_unaligned(job.cos + p0 + i) : load_part<StoreF32>(job.cos + p0 + i, n);
      const FloatV s = sign * (n == kLanes ? FloatV::load_unaligned(job.sin + p0 + i) : load_part<StoreF32>(job.sin + p0 + i, n));
      Ops::dup_lo(c).store_aligned(cc + 2 * i);
      Ops::dup_hi(c).store_aligned(cc + 2 * i + kLanes);
      (Ops::dup_lo(s) * alt).store_aligned(ss + 2 * i);
      (Ops::dup_hi(s) * alt).store_aligned(ss + 2 * i + kLanes);
    }
    const uint32_t n = 2 * pairs, heads = job.heads;
    const S *const in0 = static_cast<const S *>(job.in) + 2 * p0;
    S *const out0 = static_cast<S *>(job.out) + 2 * p0;
    const int64_t in_stride = job.in_head_stride, out_stride = job.out_head_stride;
    uint32_t h = 0;
    // kTwoHeadsInPlace (every set): in place, two heads per pass, each expanded cc/ss vector
    // feeds both; out of place, one head per pass (rotor 1.0's loop, the same llvm-mca cycles as
    // 1.0's on Ice Lake and Zen 4): a token's heads, contiguous in bshd, are then read and
    // written front to back as one stream each, which measured faster on this project's Xeon
    // where the output is not in L1 (two heads per pass made the out-of-place rows 4-12% slower
    // than 1.0; docs/performance.md, "Issue 25: the out-of-place interleaved rows"). The scratch
    // of an out-of-place write-out (apply_plan.cpp) takes this path too. kOneHead: large passes
    // on AMD's Zen cores (see kTwoHeadsInPlace above).
    const bool two_heads = two_heads_per_pass<HeadsPerPass>(job);
    for (; two_heads && h + 2 <= heads; h += 2) {
      const S *in_a = in0 + h * in_stride, *in_b = in_a + in_stride;
      S *out_a = out0 + h * out_stride, *out_b = out_a + out_stride;
      uint32_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        const FloatV c = FloatV::load_aligned(cc + j), s = FloatV::load_aligned(ss + j);
        const FloatV xa = T::load(in_a + j), xb = T::load(in_b + j);
        T::store(out_a + j, xa * c + Ops::swap_pairs(xa) * s);
        T::store(out_b + j, xb * c + Ops::swap_pairs(xb) * s);
      }
      if (j < n) {
        const FloatV c = FloatV::load_aligned(cc + j), s = FloatV::load_aligned(ss + j);
        const FloatV xa = load_part<T>(in_a + j, n - j), xb = load_part<T>(in_b + j, n - j);
        store_part<T>(out_a + j, xa * c + Ops::swap_pairs(xa) * s, n - j);
        store_part<T>(out_b + j, xb * c + Ops::swap_pairs(xb) * s, n - j);
      }
    }
    for (; h < heads; ++h) {
      const S *in = in0 + h * in_stride;
      S *out = out0 + h * out_stride;
      uint32_t j = 0;
      for (; j + kLanes <= n; j += kLanes) {
        const FloatV x = T::load(in + j);
        T::store(out + j, x * FloatV::load_aligned(cc + j) + Ops::swap_pairs(x) * FloatV::load_aligned(ss + j));
      }
      if (j < n) {
        // n - j is even (lanes and n both are), so no pair straddles the tail.
        const FloatV x = load_part<T>(in + j, n - j);
        store_part<T>(out + j, x * FloatV::load_aligned(cc + j) + Ops::swap_pairs(x) * FloatV::load_aligned(ss + j), n - j);
      }
    }
  }
  for (uint32_t h = 0; h < job.heads; ++h)
    copy_pass_through(job, static_cast<const S *>(job.in) + h * job.in_head_stride,
                      static_cast<S *>(job.out) + h * job.out_head_stride);
}
