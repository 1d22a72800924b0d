// rotor_apply, rotor_apply_to and rotor_apply_qk against the double-precision reference on
// random shapes, layouts, dtypes, pairings, partial rotary dims and positions; and the
// rotation's properties (norm kept, relative-position dot products, inverse undoes forward).
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>

#include "support/tensor_case.hpp"

namespace {

using ref::Layout;

struct PoolHolder {
  rotor_pool *pool = nullptr;
  explicit PoolHolder(uint32_t threads) { rotor_pool_create(&pool, threads); }
  ~PoolHolder() { rotor_pool_destroy(pool); }
};

// Checks every element of t against want and that bytes outside the view are untouched.
void expect_matches(const ref::TensorBuffer &t, const std::vector<double> &want, const std::vector<unsigned char> &before,
                    const char *what) {
  const rotor_tensor &v = t.view;
  size_t k = 0, bad = 0;
  std::vector<bool> inside(t.bytes.size() / t.elem(), false);
  const int64_t base = (static_cast<const unsigned char *>(v.data) - t.bytes.data()) / int64_t(t.elem());
  for (uint32_t b = 0; b < v.batch; ++b)
    for (uint32_t s = 0; s < v.seq; ++s)
      for (uint32_t h = 0; h < v.heads; ++h)
        for (uint32_t d = 0; d < v.head_dim; ++d, ++k) {
          inside[size_t(base + t.offset(b, s, h, d))] = true;
          const double got = t.get(b, s, h, d);
          if (std::fabs(got - want[k]) > ref::tolerance(v.dtype, want[k]) && bad++ < 5)
            ADD_FAILURE() << what << " at b" << b << " s" << s << " h" << h << " d" << d << ": got " << got
                          << " want " << want[k];
        }
  for (size_t e = 0; e < inside.size(); ++e)
    if (!inside[e])
      ASSERT_EQ(0, std::memcmp(t.bytes.data() + e * t.elem(), before.data() + e * t.elem(), t.elem()))
          << what << ": element " << e << " outside the view changed";
}

struct Shape {
  uint32_t batch, seq, heads, head_dim, rotary_dim;
};

TEST(Apply, MatchesDoubleReferenceAcrossLayoutsDtypesAndPairings) {
  const Shape shapes[] = {{1, 1, 1, 2, 2},   {2, 5, 3, 8, 8},    {1, 7, 4, 64, 64}, {3, 4, 2, 96, 24},
                          {2, 3, 5, 128, 64}, {1, 33, 2, 40, 40}, {2, 2, 3, 18, 14}};
  PoolHolder pool(3);
  std::mt19937 rng(42);
  uint32_t seed = 1;
  for (const Shape &sh : shapes)
    for (Layout layout : {Layout::kBSHD, Layout::kBHSD, Layout::kFusedQKV, Layout::kPaddedHeads})
      for (rotor_dtype dt : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16})
        for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
          const uint32_t max_len = 16384;
          rotor_config cfg = ref::config(sh.rotary_dim, pairing, max_len, 8);
          ref::Table table(cfg);
          ref::TensorBuffer t = ref::make_tensor(layout, dt, sh.batch, sh.seq, sh.heads, sh.head_dim, seed++);
          const std::vector<unsigned char> before = t.bytes;
          std::vector<int32_t> positions;
          uint32_t offset = 0;
          if (rng() % 2) {
            std::uniform_int_distribution<int32_t> pos(0, int32_t(max_len) - 1);
            positions.resize(size_t{sh.batch} * sh.seq);
            for (int32_t &p : positions) p = pos(rng);
          } else {
            offset = rng() % 1000;
          }
          const bool inverse = rng() % 2;
          const auto freqs = ref::plain_freqs(10000.0, sh.rotary_dim);
          const auto want = ref::expected_rotation(t, sh.rotary_dim, pairing, freqs, positions, offset, inverse);
          ASSERT_EQ(rotor_apply(table, &t.view, positions.empty() ? nullptr : positions.data(), offset,
                                inverse ? ROTOR_INVERSE : ROTOR_FORWARD, (seed % 2) ? pool.pool : nullptr),
                    ROTOR_OK);
          expect_matches(t, want, before, "rotor_apply");
        }
}

TEST(Apply, OutOfPlaceLeavesInputAndCopiesTheTail) {
  for (rotor_dtype dt : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    ref::Table table(ref::config(16, ROTOR_PAIRING_INTERLEAVED));
    ref::TensorBuffer in = ref::make_tensor(Layout::kBSHD, dt, 2, 9, 3, 24, 7);
    ref::TensorBuffer out = ref::make_tensor(Layout::kBHSD, dt, 2, 9, 3, 24, 8);  // other strides
    const auto in_before = in.bytes;
    const auto out_before = out.bytes;
    const auto freqs = ref::plain_freqs(10000.0, 16);
    const auto want = ref::expected_rotation(in, 16, ROTOR_PAIRING_INTERLEAVED, freqs, {}, 300, false);
    ASSERT_EQ(rotor_apply_to(table, &in.view, &out.view, nullptr, 300, ROTOR_FORWARD, nullptr), ROTOR_OK);
    EXPECT_EQ(in.bytes, in_before);
    expect_matches(out, want, out_before, "rotor_apply_to");
    // Exact aliasing is in place.
    ASSERT_EQ(rotor_apply_to(table, &in.view, &in.view, nullptr, 300, ROTOR_FORWARD, nullptr), ROTOR_OK);
    for (uint32_t b = 0; b < 2; ++b)
      for (uint32_t s = 0; s < 9; ++s)
        for (uint32_t h = 0; h < 3; ++h)
          for (uint32_t d = 0; d < 24; ++d) ASSERT_EQ(in.get(b, s, h, d), out.get(b, s, h, d));
  }
}

TEST(Apply, FusedQkWithGroupedHeadsEqualsTwoCalls) {
  PoolHolder pool(2);
  for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
    ref::Table table(ref::config(64, pairing, 9000));
    ref::TensorBuffer q = ref::make_tensor(Layout::kBSHD, ROTOR_DTYPE_F32, 2, 17, 8, 64, 11);
    ref::TensorBuffer k = ref::make_tensor(Layout::kFusedQKV, ROTOR_DTYPE_F16, 2, 17, 2, 64, 12);
    ref::TensorBuffer q2 = q, k2 = k;
    q2.view.data = q2.bytes.data();
    k2.view.data = k2.bytes.data() + (static_cast<unsigned char *>(k.view.data) - k.bytes.data());
    std::vector<int32_t> positions(34);
    for (size_t i = 0; i < positions.size(); ++i) positions[i] = int32_t((i * 7919) % 9000);
    ASSERT_EQ(rotor_apply_qk(table, &q.view, &k.view, positions.data(), 0, ROTOR_FORWARD, pool.pool), ROTOR_OK);
    ASSERT_EQ(rotor_apply(table, &q2.view, positions.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
    ASSERT_EQ(rotor_apply(table, &k2.view, positions.data(), 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
    EXPECT_EQ(q.bytes, q2.bytes);
    EXPECT_EQ(k.bytes, k2.bytes);
  }
}

TEST(Apply, CallerCosSinRowsMatchTheTable) {
  const uint32_t r = 32, rows = 50;
  ref::Table table(ref::config(r, ROTOR_PAIRING_HALF));
  std::vector<float> cos(rows * r / 2), sin(rows * r / 2);
  ASSERT_EQ(rotor_table_cos_sin(table, 0, rows, ROTOR_DTYPE_F32, 0, cos.data(), sin.data()), ROTOR_OK);
  ref::TensorBuffer a = ref::make_tensor(Layout::kBSHD, ROTOR_DTYPE_F32, 2, 6, 3, 40, 5);
  ref::TensorBuffer b = a;
  b.view.data = b.bytes.data();
  std::vector<int32_t> positions = {3, 49, 0, 7, 7, 12, 1, 2, 3, 4, 5, 6};
  ASSERT_EQ(rotor_apply(table, &a.view, positions.data(), 0, ROTOR_INVERSE, nullptr), ROTOR_OK);
  ASSERT_EQ(rotor_apply_cos_sin(cos.data(), sin.data(), rows, r, ROTOR_PAIRING_HALF, &b.view, &b.view,
                                positions.data(), 0, ROTOR_INVERSE, nullptr),
            ROTOR_OK);
  EXPECT_EQ(a.bytes, b.bytes);
  positions[5] = int32_t(rows);  // one past the caller's rows: nothing written
  const auto before = b.bytes;
  EXPECT_EQ(rotor_apply_cos_sin(cos.data(), sin.data(), rows, r, ROTOR_PAIRING_HALF, &b.view, &b.view,
                                positions.data(), 0, ROTOR_FORWARD, nullptr),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(b.bytes, before);
}

// Properties of a rotation, on f32 in double-checked arithmetic.
TEST(Apply, RotationKeepsNormsAndDependsOnlyOnRelativePosition) {
  const uint32_t d = 64;
  for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
    ref::Table table(ref::config(d, pairing, 100000));
    const std::vector<float> q0 = ref::random_floats(d, 1), k0 = ref::random_floats(d, 2);
    auto rotated = [&](const std::vector<float> &x, int32_t p) {
      std::vector<float> y = x;
      rotor_tensor v = rotor_tensor_bshd(y.data(), ROTOR_DTYPE_F32, 1, 1, 1, d);
      EXPECT_EQ(rotor_apply(table, &v, &p, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
      return y;
    };
    auto dot = [](const std::vector<float> &a, const std::vector<float> &b) {
      double s = 0;
      for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * b[i];
      return s;
    };
    const double norm0 = dot(q0, q0);
    const double reference_dot = dot(rotated(q0, 1000), rotated(k0, 990));
    for (int32_t m : {10, 5000, 77777, 99999}) {
      EXPECT_NEAR(dot(rotated(q0, m), rotated(q0, m)), norm0, 2e-5 * norm0);
      EXPECT_NEAR(dot(rotated(q0, m), rotated(k0, m - 10)), reference_dot, 1e-4);
    }
    // Inverse undoes forward (to float rounding).
    std::vector<float> x = rotated(q0, 4321);
    rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, d);
    const int32_t p = 4321;
    ASSERT_EQ(rotor_apply(table, &v, &p, 0, ROTOR_INVERSE, nullptr), ROTOR_OK);
    for (uint32_t i = 0; i < d; ++i) EXPECT_NEAR(x[i], q0[i], 1e-6);
  }
}

TEST(Apply, PoolSizesGiveIdenticalResults) {
  ref::Table table(ref::config(128, ROTOR_PAIRING_HALF, 4096));
  ref::TensorBuffer base = ref::make_tensor(Layout::kBSHD, ROTOR_DTYPE_BF16, 1, 300, 8, 128, 3);
  std::vector<unsigned char> first;
  for (uint32_t threads : {1u, 2u, 3u, 8u}) {
    PoolHolder pool(threads);
    ref::TensorBuffer t = base;
    t.view.data = t.bytes.data();
    ASSERT_EQ(rotor_apply(table, &t.view, nullptr, 17, ROTOR_FORWARD, pool.pool), ROTOR_OK);
    if (first.empty()) first = t.bytes;
    EXPECT_EQ(t.bytes, first) << threads << " threads";
  }
}

}  // namespace
