// The largest lane of a float batch, lane by lane (a > b ? a : b pairwise, the portable fold's
// order), for architectures without a faster shuffle sequence of their own (AVX-512 has one).
//
// No include guard and no namespace, on purpose, like attention_kernel_body.hpp: an arch file
// includes it inside its anonymous namespace after defining `Arch`, so it is compiled with that
// file's flags only.
template <class Batch>
float lanewise_hmax(Batch v) {
  alignas(64) float lanes[Batch::size];
  v.store_aligned(lanes);
  for (size_t width = Batch::size; width > 1; width /= 2)
    for (size_t i = 0; i < width / 2; ++i) lanes[i] = lanes[2 * i + 1] > lanes[2 * i] ? lanes[2 * i + 1] : lanes[2 * i];
  return lanes[0];
}
