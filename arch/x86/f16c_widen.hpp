// f16 to float with F16C, for the x86 attention kernels (AVX2 and AVX-512 sets: every such CPU
// has F16C, which the registry's CPU check requires). Exact, like the portable conversion; a
// NaN stays a NaN. No include guard and no namespace, on purpose: each arch file includes it
// inside its anonymous namespace, so it is compiled with that file's flags only.
void attn_widen_f16(const uint16_t *from, uint32_t count, float *to) {
  uint32_t i = 0;
  for (; i + 8 <= count; i += 8)
    _mm256_storeu_ps(to + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i *>(from + i))));
  for (; i < count; ++i) to[i] = _cvtsh_ss(from[i]);
}
