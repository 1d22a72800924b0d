// bfloat16 heads as 32-bit words of two elements: unpacking, rotation and rounding-and-packing
// of 16-bit pairs (uses rotate_body.hpp's storage types and rotate_vectors).
// Part of the rotation kernel body (rope_kernel_body.hpp, which includes it inside an arch
// file's anonymous namespace, after Arch and Ops; no include guard, no namespace, on purpose).

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
inline IntV bf16_pack_word_integer(FloatV even, FloatV odd) {
  IntV re = bf16_round_high_numbers(even), ro = bf16_round_high_numbers(odd);
  const FloatV sum = even + odd;
  if (xsimd::any(xsimd::isnan(sum))) {
    re = bf16_quiet_nans(even, re);
    ro = bf16_quiet_nans(odd, ro);
  }
  return bf16_pack_high(re, ro);
}
inline void bf16_pack_words_integer(FloatV e0, FloatV o0, FloatV e1, FloatV o1, IntV *w0, IntV *w1) {
  IntV re0 = bf16_round_high_numbers(e0), ro0 = bf16_round_high_numbers(o0);
  IntV re1 = bf16_round_high_numbers(e1), ro1 = bf16_round_high_numbers(o1);
  const FloatV sum = (e0 + o0) + (e1 + o1);
  if (xsimd::any(xsimd::isnan(sum))) {
    re0 = bf16_quiet_nans(e0, re0);
    ro0 = bf16_quiet_nans(o0, ro0);
    re1 = bf16_quiet_nans(e1, re1);
    ro1 = bf16_quiet_nans(o1, ro1);
  }
  *w0 = bf16_pack_high(re0, ro0);
  *w1 = bf16_pack_high(re1, ro1);
}

// An arch file may define ROTOR_ARCH_BF16_PACK and supply both packing functions itself (a
// hardware conversion, say), falling back to the integer ones above wherever its results would
// differ from the reference's.
#ifdef ROTOR_ARCH_BF16_PACK
inline IntV bf16_pack_word(FloatV even, FloatV odd);
inline void bf16_pack_words(FloatV e0, FloatV o0, FloatV e1, FloatV o1, IntV *w0, IntV *w1);
#else
inline IntV bf16_pack_word(FloatV even, FloatV odd) { return bf16_pack_word_integer(even, odd); }
inline void bf16_pack_words(FloatV e0, FloatV o0, FloatV e1, FloatV o1, IntV *w0, IntV *w1) {
  bf16_pack_words_integer(e0, o0, e1, o1, w0, w1);
}
#endif

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
