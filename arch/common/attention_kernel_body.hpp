// The SIMD attention kernels (src/kernels/attention_kernels.hpp), written once with xsimd
// batches and instantiated by each arch/*/attention_*.cpp for its own architecture.
//
// No include guard and no namespace of its own, on purpose (like rope_kernel_body.hpp): each arch
// file includes this inside its own anonymous namespace after defining `Arch` (an xsimd
// architecture with a fused multiply-add), and `float attn_hsum(batch<float, Arch>)`
// (a horizontal sum in a fixed order), so every function has internal
// linkage and is compiled with that file's flags only.
//
// Per (row, key) arithmetic never depends on how many rows or keys a call has (the contract of
// the kernel set): a score is lane-wise fused multiply-adds over the full vectors of d, then
// attn_hsum, plus the tail elements' fused multiply-adds in order; an accumulator
// element gets one fused multiply-add per key, keys ascending.

using AttnV = xsimd::batch<float, Arch>;
constexpr uint32_t kAttnLanes = static_cast<uint32_t>(AttnV::size);

// R query rows against keys two at a time (each loaded vector of a key feeds R rows).
template <uint32_t R>
void attn_scores_rows(const float *q, const float *keys, uint32_t n, uint32_t d, float scale, float *out,
                      uint32_t stride) {
  const uint32_t full = d - d % kAttnLanes;
  uint32_t j = 0;
  for (; j + 2 <= n; j += 2) {
    const float *k0 = keys + size_t{j} * d, *k1 = k0 + d;
    AttnV acc0[R], acc1[R];
    for (uint32_t r = 0; r < R; ++r) acc0[r] = acc1[r] = AttnV(0.0f);
    for (uint32_t i = 0; i < full; i += kAttnLanes) {
      const AttnV a = AttnV::load_unaligned(k0 + i), b = AttnV::load_unaligned(k1 + i);
      for (uint32_t r = 0; r < R; ++r) {
        const AttnV x = AttnV::load_unaligned(q + size_t{r} * d + i);
        acc0[r] = xsimd::fma(x, a, acc0[r]);
        acc1[r] = xsimd::fma(x, b, acc1[r]);
      }
    }
    for (uint32_t r = 0; r < R; ++r) {
      const float *qr = q + size_t{r} * d;
      float t0 = 0.0f, t1 = 0.0f;
      for (uint32_t i = full; i < d; ++i) {
        t0 = std::fma(qr[i], k0[i], t0);
        t1 = std::fma(qr[i], k1[i], t1);
      }
      out[size_t{r} * stride + j] = (attn_hsum(acc0[r]) + t0) * scale;
      out[size_t{r} * stride + j + 1] = (attn_hsum(acc1[r]) + t1) * scale;
    }
  }
  for (; j < n; ++j) {
    const float *k0 = keys + size_t{j} * d;
    AttnV acc0[R];
    for (uint32_t r = 0; r < R; ++r) acc0[r] = AttnV(0.0f);
    for (uint32_t i = 0; i < full; i += kAttnLanes) {
      const AttnV a = AttnV::load_unaligned(k0 + i);
      for (uint32_t r = 0; r < R; ++r) acc0[r] = xsimd::fma(AttnV::load_unaligned(q + size_t{r} * d + i), a, acc0[r]);
    }
    for (uint32_t r = 0; r < R; ++r) {
      const float *qr = q + size_t{r} * d;
      float t0 = 0.0f;
      for (uint32_t i = full; i < d; ++i) t0 = std::fma(qr[i], k0[i], t0);
      out[size_t{r} * stride + j] = (attn_hsum(acc0[r]) + t0) * scale;
    }
  }
}

void attn_scores(const float *q, uint32_t rows, const float *keys, uint32_t n, uint32_t d, float scale, float *out,
                 uint32_t stride) {
  switch (rows) {
    case 1: return attn_scores_rows<1>(q, keys, n, d, scale, out, stride);
    case 2: return attn_scores_rows<2>(q, keys, n, d, scale, out, stride);
    case 3: return attn_scores_rows<3>(q, keys, n, d, scale, out, stride);
    default: return attn_scores_rows<4>(q, keys, n, d, scale, out, stride);
  }
}

// R rows' accumulators for two vectors of d stay in registers while the keys stream past.
template <uint32_t R>
void attn_accumulate_rows(const float *w, uint32_t stride, const float *values, uint32_t n, uint32_t d, float *acc) {
  const uint32_t full = d - d % kAttnLanes;
  uint32_t i = 0;
  for (; i + 2 * kAttnLanes <= full; i += 2 * kAttnLanes) {
    AttnV a0[R], a1[R];
    for (uint32_t r = 0; r < R; ++r) {
      a0[r] = AttnV::load_unaligned(acc + size_t{r} * d + i);
      a1[r] = AttnV::load_unaligned(acc + size_t{r} * d + i + kAttnLanes);
    }
    for (uint32_t j = 0; j < n; ++j) {
      const float *v = values + size_t{j} * d + i;
      const AttnV v0 = AttnV::load_unaligned(v), v1 = AttnV::load_unaligned(v + kAttnLanes);
      for (uint32_t r = 0; r < R; ++r) {
        const AttnV weight(w[size_t{r} * stride + j]);
        a0[r] = xsimd::fma(weight, v0, a0[r]);
        a1[r] = xsimd::fma(weight, v1, a1[r]);
      }
    }
    for (uint32_t r = 0; r < R; ++r) {
      a0[r].store_unaligned(acc + size_t{r} * d + i);
      a1[r].store_unaligned(acc + size_t{r} * d + i + kAttnLanes);
    }
  }
  for (; i < full; i += kAttnLanes) {
    AttnV a0[R];
    for (uint32_t r = 0; r < R; ++r) a0[r] = AttnV::load_unaligned(acc + size_t{r} * d + i);
    for (uint32_t j = 0; j < n; ++j) {
      const AttnV v0 = AttnV::load_unaligned(values + size_t{j} * d + i);
      for (uint32_t r = 0; r < R; ++r) a0[r] = xsimd::fma(AttnV(w[size_t{r} * stride + j]), v0, a0[r]);
    }
    for (uint32_t r = 0; r < R; ++r) a0[r].store_unaligned(acc + size_t{r} * d + i);
  }
  for (; i < d; ++i)
    for (uint32_t j = 0; j < n; ++j)
      for (uint32_t r = 0; r < R; ++r)
        acc[size_t{r} * d + i] = std::fma(w[size_t{r} * stride + j], values[size_t{j} * d + i], acc[size_t{r} * d + i]);
}

void attn_accumulate(const float *w, uint32_t stride, uint32_t rows, const float *values, uint32_t n, uint32_t d,
                     float *acc) {
  switch (rows) {
    case 1: return attn_accumulate_rows<1>(w, stride, values, n, d, acc);
    case 2: return attn_accumulate_rows<2>(w, stride, values, n, d, acc);
    case 3: return attn_accumulate_rows<3>(w, stride, values, n, d, acc);
    default: return attn_accumulate_rows<4>(w, stride, values, n, d, acc);
  }
}

// exp(x) for x <= 0 with the formulas of src/kernels/online_softmax.hpp (Cody-Waite reduction,
// Cephes expf polynomial, 2^n built in the exponent bits), lane by lane: exp(0) = 1 exactly,
// x < -87 gives 0, NaN stays NaN.
AttnV attn_exp_nonpositive(AttnV x) {
  using IntV = xsimd::batch<int32_t, Arch>;
  const AttnV clamped = xsimd::select(x > AttnV(-87.0f), x, AttnV(-87.0f));
  const AttnV shifter(12582912.0f);
  const AttnV n = (clamped * AttnV(1.44269504088896341f) + shifter) - shifter;
  const AttnV r = (clamped - n * AttnV(0.693359375f)) - n * AttnV(-2.12194440e-4f);
  AttnV p(1.9875691500e-4f);
  p = p * r + AttnV(1.3981999507e-3f);
  p = p * r + AttnV(8.3334519073e-3f);
  p = p * r + AttnV(4.1665795894e-2f);
  p = p * r + AttnV(1.6666665459e-1f);
  p = p * r + AttnV(5.0000001201e-1f);
  const AttnV e_r = (p * (r * r) + r) + AttnV(1.0f);
  const IntV exponent = (xsimd::to_int(n) + IntV(127)) << 23;
  const AttnV result = e_r * xsimd::bitwise_cast<AttnV>(exponent);
  return xsimd::select(x >= AttnV(-87.0f), result, xsimd::select(x < AttnV(-87.0f), AttnV(0.0f), x));
}

// The online softmax step of one row, vectorised. A partial last vector is padded with -inf
// (weight exactly 0, no effect on the maximum) through a small buffer.
void attn_fold(float *scores, uint32_t n, float *running_max, float *running_sum, float *acc, uint32_t d) {
  const uint32_t full = n - n % kAttnLanes, rest = n - full;
  alignas(64) float tail[kAttnLanes];
  auto load_tail = [&]() {
    for (uint32_t l = 0; l < kAttnLanes; ++l) tail[l] = l < rest ? scores[full + l] : -INFINITY;
    return AttnV::load_aligned(tail);
  };
  AttnV top(*running_max);
  for (uint32_t j = 0; j < full; j += kAttnLanes) top = xsimd::max(top, AttnV::load_unaligned(scores + j));
  if (rest > 0) top = xsimd::max(top, load_tail());
  alignas(64) float lanes[kAttnLanes];
  top.store_aligned(lanes);
  float new_max = lanes[0];
  for (uint32_t l = 1; l < kAttnLanes; ++l) new_max = lanes[l] > new_max ? lanes[l] : new_max;

  const AttnV m(new_max);
  AttnV sum(0.0f);
  for (uint32_t j = 0; j < full; j += kAttnLanes) {
    const AttnV w = attn_exp_nonpositive(AttnV::load_unaligned(scores + j) - m);
    w.store_unaligned(scores + j);
    sum += w;
  }
  if (rest > 0) {
    const AttnV w = attn_exp_nonpositive(load_tail() - m);
    w.store_aligned(tail);
    for (uint32_t l = 0; l < rest; ++l) scores[full + l] = tail[l];
    sum += w;
  }
  const float block_sum = attn_hsum(sum);
  if (new_max != *running_max) {
    // The first block finds running_max = -inf: the factor is 0 and so are sum and acc.
    const AttnV factor = attn_exp_nonpositive(AttnV(*running_max - new_max));
    factor.store_aligned(lanes);
    const float f = lanes[0];
    *running_sum *= f;
    const uint32_t acc_full = d - d % kAttnLanes;
    for (uint32_t i = 0; i < acc_full; i += kAttnLanes) (AttnV::load_unaligned(acc + i) * factor).store_unaligned(acc + i);
    for (uint32_t i = acc_full; i < d; ++i) acc[i] *= f;
    *running_max = new_max;
  }
  *running_sum += block_sum;
}

const AttentionKernels kAttentionKernelSet = {attn_scores, attn_accumulate, attn_fold};
