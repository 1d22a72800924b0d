// The SIMD rotation kernels, written once with xsimd batches and instantiated by every arch/
// file for its own architecture.
//
// No include guard and no namespace of its own, on purpose: each arch file includes this inside
// its own anonymous namespace, after defining
//   Arch   an xsimd architecture (the widest this file's -m flags allow),
//   Ops    swap_pairs, dup_lo/dup_hi ((v0,v0,v1,v1,...) from the low and the high half of v),
//          split_pairs (2 * lanes floats from p into their even- and odd-indexed elements),
//          load_words/store_words (16-bit pairs as 32-bit lanes), load/store for f16 and
//          bf16 (converting in registers), and, when
//          ROTOR_ARCH_HAS_DOUBLE is 1, store_as_float (double lanes rounded to float),
// so that every function here has internal linkage and is compiled with that file's flags.
// xsimd 8.1 marks its helpers plain `inline`: were these functions shared between files, the
// linker could keep the AVX-512 copy and crash an older CPU.
//
// Numerics: every lane computes exactly what the scalar reference computes (separate multiply
// and add, rounded the same way, no fused multiply-add; -ffp-contract=off keeps the compiler
// from fusing them), so on an IEEE vector unit the result is bit-identical to the reference.
// Pairing identities used: a*c - b*s == a*c + b*(-s) exactly, and negation is exact.

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

// rotate_half pairing: dims i and i + r/2 pair up, so both halves are contiguous runs that
// line up with the contiguous cos and sin rows: no shuffle at all.
template <class T, bool Inverse>
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
  // Two heads per pass: each cos/sin vector loaded feeds both (6 loads per 4 vectors out instead
  // of 8), and two streams of the tensor are in flight. Same operations per element.
  for (; h + 2 <= heads && half >= kLanes; h += 2) {
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

template <class T>
void rotate_half_pairs(const TokenHeads &job) {
  if (job.inverse)
    rotate_half_pairs_dir<T, true>(job);
  else
    rotate_half_pairs_dir<T, false>(job);
}

// Pairs of the interleaved layout handled per expansion of the cos/sin row (bounded stack use).
constexpr uint32_t kChunkPairs = 256;

// Interleaved pairing: dims 2i and 2i+1 pair up. The row is expanded once per token (not per
// head), with vector shuffles, to cc = (c0, c0, c1, c1, ...) and ss = (-s0, s0, -s1, s1, ...);
// then each vector x of a head gives x * cc + swap_pairs(x) * ss, i.e. (a c - b s, b c + a s).
template <class T>
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
    // Two heads per pass: each expanded cc/ss vector loaded feeds both (4 loads per 2 vectors
    // out instead of 6), and two streams of the tensor are in flight.
    for (; h + 2 <= heads; h += 2) {
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

// bfloat16 is the high half of a float, so a 32-bit word of two bfloat16 values becomes two
// floats with one shift and one mask, and two rounded floats pack back with a shift and a
// mask: no widening or narrowing shuffles. The word's two halves are the even and the odd
// element, which is exactly an interleaved pair; for the rotate_half pairing, a word of the
// first half and the word at the same place in the second half hold two pairs (even with even,
// odd with odd), rotated with the cos/sin row split the same way (once per token).
constexpr uint32_t kWordPairs = 2 * kLanes;  // elements per vector of words

// Rounding to bfloat16 (rope_half_emulation.hpp) in two steps: numbers, then NaN lanes made
// quiet. NaN results are rare (NaN or infinite inputs, or caller rows that overflow), so one
// test of a sum of the rotated vectors decides for all of them: a NaN lane in any of them makes
// that lane of the sum NaN (inf - inf may flag a group too, which only costs the exact step).
// Without NaN lanes, the first step alone is the reference's result.
inline IntV bf16_pack_word(FloatV even, FloatV odd) {
  IntV re = bf16_round_high_numbers(even), ro = bf16_round_high_numbers(odd);
  const FloatV sum = even + odd;
  if (xsimd::any(sum != sum)) {
    re = bf16_quiet_nans(even, re);
    ro = bf16_quiet_nans(odd, ro);
  }
  return bf16_pack_high(re, ro);
}
inline void bf16_pack_words(FloatV e0, FloatV o0, FloatV e1, FloatV o1, IntV *w0, IntV *w1) {
  IntV re0 = bf16_round_high_numbers(e0), ro0 = bf16_round_high_numbers(o0);
  IntV re1 = bf16_round_high_numbers(e1), ro1 = bf16_round_high_numbers(o1);
  const FloatV sum = (e0 + o0) + (e1 + o1);
  if (xsimd::any(sum != sum)) {
    re0 = bf16_quiet_nans(e0, re0);
    ro0 = bf16_quiet_nans(o0, ro0);
    re1 = bf16_quiet_nans(e1, re1);
    ro1 = bf16_quiet_nans(o1, ro1);
  }
  *w0 = bf16_pack_high(re0, ro0);
  *w1 = bf16_pack_high(re1, ro1);
}

template <bool Inverse>
void rotate_interleaved_bf16_dir(const TokenHeads &job) {
  const uint32_t half = job.half, heads = job.heads, full = half / kLanes * kLanes;
  const float *const cos = job.cos, *const sin = job.sin;
  const uint16_t *const in0 = static_cast<const uint16_t *>(job.in);
  uint16_t *const out0 = static_cast<uint16_t *>(job.out);
  const int64_t in_stride = job.in_head_stride, out_stride = job.out_head_stride;
  for (uint32_t h = 0; h < heads; ++h) {
    const uint16_t *in = in0 + h * in_stride;
    uint16_t *out = out0 + h * out_stride;
    FloatV ra, rb;
    for (uint32_t j = 0; j < full; j += kLanes) {
      const IntV w = Ops::load_words(in + 2 * j);
      rotate_vectors<Inverse>(bf16_even(w), bf16_odd(w), FloatV::load_unaligned(cos + j), FloatV::load_unaligned(sin + j),
                              &ra, &rb);
      Ops::store_words(out + 2 * j, bf16_pack_word(ra, rb));
    }
    if (full < half) {
      // Fewer pairs than a vector: the general path on just those pairs.
      TokenHeads rest = job;
      rest.cos = cos + full;
      rest.sin = sin + full;
      rest.half = half - full;
      rest.in = in + 2 * full;
      rest.out = out + 2 * full;
      rest.heads = 1;
      rest.head_dim = 2 * (half - full);
      rotate_interleaved_pairs<StoreBF16>(rest);
    }
    copy_pass_through(job, in, out);
  }
}

// Longest cos/sin row the word-pair half kernel splits on the stack; longer rows take the
// general path.
constexpr uint32_t kMaxSplitHalf = 512;

template <bool Inverse>
void rotate_half_bf16_dir(const TokenHeads &job) {
  const uint32_t half = job.half, heads = job.heads, full = half / kWordPairs * kWordPairs;
  const float *const cos = job.cos, *const sin = job.sin;
  alignas(64) float ce[kMaxSplitHalf / 2], co[kMaxSplitHalf / 2], se[kMaxSplitHalf / 2], so[kMaxSplitHalf / 2];
  // Split with vector shuffles: a scalar loop here cost about a tenth of a 32-head token.
  for (uint32_t k = 0; 2 * k < full; k += kLanes) {
    FloatV even, odd;
    Ops::split_pairs(cos + 2 * k, &even, &odd);
    even.store_aligned(ce + k);
    odd.store_aligned(co + k);
    Ops::split_pairs(sin + 2 * k, &even, &odd);
    even.store_aligned(se + k);
    odd.store_aligned(so + k);
  }
  const uint16_t *const in0 = static_cast<const uint16_t *>(job.in);
  uint16_t *const out0 = static_cast<uint16_t *>(job.out);
  const int64_t in_stride = job.in_head_stride, out_stride = job.out_head_stride;
  for (uint32_t h = 0; h < heads; ++h) {
    const uint16_t *in = in0 + h * in_stride;
    uint16_t *out = out0 + h * out_stride;
    FloatV rae, rbe, rao, rbo;
    uint32_t i = 0;
    for (; i < full; i += kWordPairs) {
      const IntV wa = Ops::load_words(in + i), wb = Ops::load_words(in + half + i);
      rotate_vectors<Inverse>(bf16_even(wa), bf16_even(wb), FloatV::load_aligned(ce + i / 2),
                              FloatV::load_aligned(se + i / 2), &rae, &rbe);
      rotate_vectors<Inverse>(bf16_odd(wa), bf16_odd(wb), FloatV::load_aligned(co + i / 2),
                              FloatV::load_aligned(so + i / 2), &rao, &rbo);
      IntV wa_out, wb_out;
      bf16_pack_words(rae, rao, rbe, rbo, &wa_out, &wb_out);
      Ops::store_words(out + i, wa_out);
      Ops::store_words(out + half + i, wb_out);
    }
    for (; i < half; i += kLanes) {
      const uint32_t n = half - i < kLanes ? half - i : kLanes;
      FloatV ra, rb;
      rotate_vectors<Inverse>(load_part<StoreBF16>(in + i, n), load_part<StoreBF16>(in + half + i, n),
                              load_part<StoreF32>(cos + i, n), load_part<StoreF32>(sin + i, n), &ra, &rb);
      store_part<StoreBF16>(out + i, ra, n);
      store_part<StoreBF16>(out + half + i, rb, n);
    }
    copy_pass_through(job, in, out);
  }
}

void rotate_interleaved_bf16(const TokenHeads &job) {
  if (job.inverse)
    rotate_interleaved_bf16_dir<true>(job);
  else
    rotate_interleaved_bf16_dir<false>(job);
}

void rotate_half_bf16(const TokenHeads &job) {
  if (job.half > kMaxSplitHalf)
    rotate_half_pairs<StoreBF16>(job);
  else if (job.inverse)
    rotate_half_bf16_dir<true>(job);
  else
    rotate_half_bf16_dir<false>(job);
}

#if ROTOR_ARCH_HAS_DOUBLE
// Table rows by angle addition (see src/table/row_compute.cpp, whose scalar loop is the reference):
// cos = ac*dc - as*ds, sin = as*dc + ac*ds in double, times the attention factor, rounded once
// to float. The same operations in the same order as the scalar loop, so the same bits.
void combine_rows(const RowCombineJob &job) {
  using DoubleV = xsimd::batch<double, Arch>;
  constexpr uint32_t kD = static_cast<uint32_t>(DoubleV::size);
  const DoubleV af(job.attention_factor);
  uint32_t i = 0;
  for (; i + kD <= job.count; i += kD) {
    const DoubleV ac = DoubleV::load_unaligned(job.anchor_cos + i);
    const DoubleV as = DoubleV::load_unaligned(job.anchor_sin + i);
    const DoubleV dc = DoubleV::load_unaligned(job.delta_cos + i);
    const DoubleV ds = DoubleV::load_unaligned(job.delta_sin + i);
    Ops::store_as_float(job.cos_out + i, (ac * dc - as * ds) * af);
    Ops::store_as_float(job.sin_out + i, (as * dc + ac * ds) * af);
  }
  for (; i < job.count; ++i) {
    const double ac = job.anchor_cos[i], as = job.anchor_sin[i], dc = job.delta_cos[i], ds = job.delta_sin[i];
    job.cos_out[i] = static_cast<float>((ac * dc - as * ds) * job.attention_factor);
    job.sin_out[i] = static_cast<float>((as * dc + ac * ds) * job.attention_factor);
  }
}
#endif

const RotationKernels kRotationKernels = {
    {{rotate_half_pairs<StoreF32>, rotate_interleaved_pairs<StoreF32>},
     {rotate_half_pairs<StoreF16>, rotate_interleaved_pairs<StoreF16>},
     {rotate_half_bf16, rotate_interleaved_bf16}},
#if ROTOR_ARCH_HAS_DOUBLE
    combine_rows,
#else
    nullptr,
#endif
};
