// Table rows by angle addition in double (the kernel behind table growth).
// Part of the rotation kernel body (rope_kernel_body.hpp, which includes it inside an arch
// file's anonymous namespace, after Arch and Ops; no include guard, no namespace, on purpose).

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
