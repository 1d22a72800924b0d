// Every SIMD kernel set this CPU runs, forced in turn, against the scalar reference kernel.
//
// Bound: bit-identical. The kernels perform, lane by lane, the reference's operations (two
// products and a sum, each rounded on its own: no fused multiply-add, -ffp-contract=off) and
// the same round-to-nearest-even conversion to f16/bf16, so on an IEEE vector unit (SSE, AVX,
// AVX-512, AArch64 NEON) every output element has the reference's bits; NaN results are
// compared as "both NaN" (payloads are not part of the contract). That is stricter than the
// 2 ulp (f32) and "exact after rounding" (f16/bf16) the issue asks for. The exception is ARMv7
// NEON, which flushes subnormals to zero: it is compared on data whose products and results
// stay normal, where it is exact too, and skips the special-value pass. The data is also
// checked against a double-precision rotation written here, so that "same as scalar" cannot
// hide a bug the two share.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "apply/apply_plan.hpp"
#include "kernels/cpu_features.hpp"
#include "kernels/registry.hpp"
#include "common/half.hpp"
#include "kernels/rotate_kernel.hpp"
#include "support/forced_kernel.hpp"
#include "support/reference.hpp"
#include "rotor/rotor.h"
#include "table/row_compute.hpp"

namespace {

bool kernel_available(const std::string &name) {
  for (uint32_t i = 0; i < rotor_kernel_count(); ++i)
    if (name == rotor_kernel_available(i)) return true;
  return false;
}

using test_support::ForcedKernel;

size_t element_size(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 4 : 2; }

double element_value(rotor_dtype dt, const unsigned char *p) { return test_support::element_value(p, dt, 0); }

void store_value(rotor_dtype dt, unsigned char *p, float v) {
  if (dt == ROTOR_DTYPE_F32) {
    std::memcpy(p, &v, 4);
  } else {
    const uint16_t h = dt == ROTOR_DTYPE_F16 ? rotor::float_to_f16(v) : rotor::float_to_bf16(v);
    std::memcpy(p, &h, 2);
  }
}

// Compares two buffers element by element: same bits, or both NaN. Returns the first mismatch
// index or -1.
int64_t first_difference(rotor_dtype dt, const std::vector<unsigned char> &a, const std::vector<unsigned char> &b) {
  const size_t es = element_size(dt);
  for (size_t i = 0; i + es <= a.size(); i += es) {
    if (std::memcmp(&a[i], &b[i], es) == 0) continue;
    if (std::isnan(element_value(dt, &a[i])) && std::isnan(element_value(dt, &b[i]))) continue;
    return int64_t(i / es);
  }
  return -1;
}

// Values in [-4, 4]; with `specials`, one in three is a zero, an infinity, a NaN, a subnormal
// or a value near the top of the type's range.
float random_value(std::mt19937 &rng, bool specials) {
  std::uniform_real_distribution<float> uniform(-4.0f, 4.0f);
  if (specials && rng() % 3 == 0) {
    const float kSpecial[] = {0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-40f, -3e-39f, 3e38f, 6.0e-8f, 65504.0f, 1e-30f};
    return kSpecial[rng() % (sizeof kSpecial / sizeof kSpecial[0])];
  }
  return uniform(rng);
}

struct Shape {
  uint32_t half, head_dim, heads;
  int64_t in_stride, out_stride;  // elements between heads
};

// Head sizes below, at and above every vector width (4, 8, 16 floats), with partial rotary
// dims and padded (strided) heads.
std::vector<Shape> shapes() {
  std::vector<Shape> out;
  const uint32_t kHalves[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 48, 64, 65, 100, 255, 256, 257, 300, 520};
  for (uint32_t half : kHalves) {
    const uint32_t r = 2 * half;
    out.push_back({half, r, 1, r, r});
    out.push_back({half, r + 6, 3, r + 6, r + 6});           // partial rotary
    out.push_back({half, r + 3, 2, r + 3 + 5, r + 3 + 11});  // strided, different in/out strides
  }
  return out;
}

// One token through `tested` and through the scalar reference, from the same input; the
// whole output buffer (gaps between heads and a guard zone after the last included) must end
// up identical.
void compare_token(const rotor::KernelSet &tested, rotor_dtype dt, rotor_pairing pairing, bool inverse,
                   const Shape &shape, bool in_place, bool specials, std::mt19937 &rng) {
  const size_t es = element_size(dt);
  const int64_t out_stride = in_place ? shape.in_stride : shape.out_stride;
  const size_t guard = 40;
  const size_t in_elems = size_t((shape.heads - 1) * shape.in_stride + shape.head_dim) + guard;
  const size_t out_elems = size_t((shape.heads - 1) * out_stride + shape.head_dim) + guard;
  std::vector<unsigned char> input(in_elems * es);
  for (size_t i = 0; i < in_elems; ++i) store_value(dt, &input[i * es], random_value(rng, specials));
  std::vector<float> cos_row(shape.half), sin_row(shape.half);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  for (uint32_t i = 0; i < shape.half; ++i) {
    cos_row[i] = unit(rng);
    sin_row[i] = unit(rng);
  }
  std::vector<unsigned char> expected, actual, in_copy = input;
  if (in_place) {
    expected = actual = input;
  } else {
    expected.assign(out_elems * es, 0xa5);
    actual = expected;
  }
  rotor::TokenHeads job{};
  job.cos = cos_row.data();
  job.sin = sin_row.data();
  job.half = shape.half;
  job.in_head_stride = shape.in_stride;
  job.out_head_stride = out_stride;
  job.heads = shape.heads;
  job.head_dim = shape.head_dim;
  job.inverse = inverse;

  job.in = in_place ? static_cast<const void *>(expected.data()) : input.data();
  job.out = expected.data();
  rotor::scalar_rotation_kernels().rotate[dt][pairing](job);
  job.in = in_place ? static_cast<const void *>(actual.data()) : input.data();
  job.out = actual.data();
  tested.rotate[dt][pairing](job);

  const int64_t diff = first_difference(dt, expected, actual);
  ASSERT_EQ(diff, -1) << tested.name << " dtype " << dt << " pairing " << pairing << " inverse " << inverse
                      << " half " << shape.half << " head_dim " << shape.head_dim << " heads " << shape.heads
                      << " in_place " << in_place << " specials " << specials << ": element " << diff << " is "
                      << element_value(dt, &actual[size_t(diff) * es]) << ", reference "
                      << element_value(dt, &expected[size_t(diff) * es]);
  if (!in_place) ASSERT_EQ(in_copy, input) << "out-of-place call wrote its input";

  // Independent check of the f32 result against a double rotation of the same inputs.
  if (dt != ROTOR_DTYPE_F32 || specials) return;
  for (uint32_t h = 0; h < shape.heads; ++h) {
    for (uint32_t i = 0; i < shape.half; ++i) {
      uint32_t ia, ib;
      ref::pair_dims(pairing, 2 * shape.half, i, &ia, &ib);
      const double a = element_value(dt, &input[size_t(h * shape.in_stride + ia) * es]);
      const double b = element_value(dt, &input[size_t(h * shape.in_stride + ib) * es]);
      const double c = cos_row[i], s = (inverse ? -1.0 : 1.0) * double(sin_row[i]);
      // Three roundings of float: well within 2^-22 of the magnitudes summed.
      ASSERT_NEAR(element_value(dt, &actual[size_t(h * out_stride + ia) * es]), a * c - b * s,
                  std::ldexp(std::fabs(a * c) + std::fabs(b * s), -22));
      ASSERT_NEAR(element_value(dt, &actual[size_t(h * out_stride + ib) * es]), b * c + a * s,
                  std::ldexp(std::fabs(b * c) + std::fabs(a * s), -22));
    }
    for (uint32_t d = 2 * shape.half; d < shape.head_dim; ++d)
      ASSERT_EQ(element_value(dt, &actual[size_t(h * out_stride + d) * es]),
                element_value(dt, &input[size_t(h * shape.in_stride + d) * es]));
  }
}

// compare_token on every shape, dtype, pairing, direction, in and out of place; then again with
// special values where `with_specials`.
void compare_every_token(const rotor::KernelSet &tested, bool with_specials, std::mt19937 &rng) {
  for (int specials = 0; specials <= (with_specials ? 1 : 0); ++specials)
    for (const Shape &shape : shapes())
      for (int dt = 0; dt < 3; ++dt)
        for (int pairing = 0; pairing < 2; ++pairing)
          for (int inverse = 0; inverse < 2; ++inverse)
            for (int in_place = 0; in_place < 2; ++in_place)
              ASSERT_NO_FATAL_FAILURE(compare_token(tested, rotor_dtype(dt), rotor_pairing(pairing), inverse != 0,
                                                    shape, in_place != 0, specials != 0, rng));
}

class KernelByName : public ::testing::TestWithParam<const char *> {
 protected:
  void SetUp() override {
    if (kernel_available(GetParam())) return;
    if (std::string(GetParam()) == "avx512bf16")
      GTEST_SKIP() << "kernel set 'avx512bf16' is not available: it needs AVX512_BF16 with AVX-512 F/BW/VL "
                      "(Cooper Lake, Sapphire Rapids, Zen 4 or later) and a compiler with -mavx512bf16. "
                      "Elsewhere it is not run: test it on such a CPU, or under an emulator of one "
                      "(Intel SDE: sde64 -spr -- <build>/tests/rotor_tests), where it is chosen first";
    GTEST_SKIP() << "kernel set '" << GetParam() << "' is not available on this CPU or in this build";
  }
};

TEST_P(KernelByName, MatchesScalarOnEveryShapeDtypePairingAndDirection) {
  ForcedKernel forced(GetParam());
  ASSERT_EQ(forced.status(), ROTOR_OK);
  ASSERT_STREQ(rotor_kernel_name(), GetParam());
  const rotor::KernelSet &tested = rotor::active_kernels();
  // ARMv7 NEON flushes subnormals: no special values there (see the file comment).
  const bool flushes_subnormals = std::string(GetParam()) == "neon";
  std::mt19937 rng(1234);
  ASSERT_NO_FATAL_FAILURE(compare_every_token(tested, !flushes_subnormals, rng));
}

// Rounding to bfloat16 at its edges, compared bit for bit (NaN payloads included: every NaN here
// comes from one NaN operand, so the float arithmetic propagates it the same way in every
// kernel). Pairs of a = b = 1 with s = 0 put the float R of their cos entry in both outputs, so
// R is exactly what gets rounded: nonzero subnormals (which vcvtne2ps2bf16 would flush to zero),
// values rounding into and out of the subnormal range, ties to even, overflow to infinity,
// infinities, quiet and signalling NaNs. Pairs of a special bf16 input a with b = 0, c = 1,
// s = 0 carry it through unchanged (subnormal, infinite, NaN inputs). Ordinary pairs between
// them leave most vector groups with one special lane, and three sizes reach the word-pair
// kernels, their tails and the general path of long rows.
TEST_P(KernelByName, Bf16RoundingEdgesBitForBit) {
  if (std::string(GetParam()) == "neon") GTEST_SKIP() << "ARMv7 NEON flushes subnormals (see the file comment)";
  ForcedKernel forced(GetParam());
  ASSERT_EQ(forced.status(), ROTOR_OK);
  const rotor::KernelSet &tested = rotor::active_kernels();
  const uint32_t kResults[] = {
      0x00000001, 0x80000001, 0x00010000, 0x007f0000, 0x807f0000, 0x0000ffff, 0x00007fff, 0x00008000,
      0x00018000, 0x80018000, 0x00408000, 0x007fffff, 0x807fffff, 0x007f8000, 0x00800000, 0x00800001,
      0x3f808000, 0x3f818000, 0xbf808000, 0x3f808001, 0x3f80ffff, 0x7f7f7fff, 0x7f7f8000, 0xff7f8000,
      0x7f7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc12345, 0x7f800001, 0x7fa00000, 0xff812345,
      0x7fffffff, 0x00000000, 0x80000000};
  const uint16_t kInputs[] = {0x0001, 0x8001, 0x007f, 0x807f, 0x0080, 0x7f80, 0xff80, 0x7f81,
                              0xff81, 0xffc1, 0x7fff, 0x8000, 0x7f7f, 0x0040};
  const size_t kResultCount = sizeof kResults / sizeof kResults[0];
  const size_t kCases = kResultCount + sizeof kInputs / sizeof kInputs[0];
  // Pair i: -1 ordinary, else the index of its case (results first, then inputs).
  const auto case_of = [&](uint32_t i) { return i % 3 == 0 ? -1 : int64_t((i - i / 3 - 1) % kCases); };
  for (uint32_t half : {96u, 40u, 600u}) {
    const uint32_t heads = 2, head_dim = 2 * half + 4;
    std::vector<uint16_t> input(size_t(heads) * head_dim);
    std::vector<float> cos_row(half, 0.6f), sin_row(half, 0.8f);
    for (uint32_t i = 0; i < half; ++i) {
      const int64_t k = case_of(i);
      if (k < 0) continue;
      if (size_t(k) < kResultCount)
        std::memcpy(&cos_row[i], &kResults[k], 4);
      else
        cos_row[i] = 1.0f;
      sin_row[i] = 0.0f;
    }
    for (int pairing = 0; pairing < 2; ++pairing) {
      for (uint32_t h = 0; h < heads; ++h)
        for (uint32_t d = 2 * half; d < head_dim; ++d) input[size_t(h) * head_dim + d] = uint16_t(0x3f00 + d);
      for (uint32_t i = 0; i < half; ++i) {
        const int64_t k = case_of(i);
        uint16_t a = 0x3fc0, b = 0xbf40;  // 1.5, -0.75
        if (k >= 0 && size_t(k) < kResultCount) {
          a = b = 0x3f80;  // 1
        } else if (k >= 0) {
          a = kInputs[size_t(k) - kResultCount];
          b = 0x0000;
        }
        uint32_t ia, ib;
        ref::pair_dims(rotor_pairing(pairing), 2 * half, i, &ia, &ib);
        for (uint32_t h = 0; h < heads; ++h) {
          input[size_t(h) * head_dim + ia] = a;
          input[size_t(h) * head_dim + ib] = b;
        }
      }
      for (int inverse = 0; inverse < 2; ++inverse) {
        for (int in_place = 0; in_place < 2; ++in_place) {
          rotor::TokenHeads job{};
          job.cos = cos_row.data();
          job.sin = sin_row.data();
          job.half = half;
          job.in_head_stride = job.out_head_stride = head_dim;
          job.heads = heads;
          job.head_dim = head_dim;
          job.inverse = inverse != 0;
          std::vector<uint16_t> expected(input.size(), 0xa5a5), actual = expected;
          if (in_place) expected = actual = input;
          job.in = in_place ? static_cast<const void *>(expected.data()) : input.data();
          job.out = expected.data();
          rotor::scalar_rotation_kernels().rotate[ROTOR_DTYPE_BF16][pairing](job);
          job.in = in_place ? static_cast<const void *>(actual.data()) : input.data();
          job.out = actual.data();
          tested.rotate[ROTOR_DTYPE_BF16][pairing](job);
          for (size_t e = 0; e < expected.size(); ++e)
            ASSERT_EQ(actual[e], expected[e]) << GetParam() << " pairing " << pairing << " half " << half
                                              << " inverse " << inverse << " in_place " << in_place << " element " << e
                                              << " input " << input[e];
        }
      }
    }
  }
}

// Through the public API: per-token positions, Q and K fused, out of place into another
// layout, caller-supplied cos/sin, inverse; the same bits as with the scalar kernels forced.
struct ApiOutputs {
  std::vector<float> q, k, out, out_cos_sin, out_in_line;
  std::vector<uint16_t> q16;
};

// `tuned`: the set's CPU-tuned variant (the AMD Zen tables) instead of the set.
ApiOutputs run_api(const char *kernel, rotor_pairing pairing, uint32_t rotary_dim, uint32_t head_dim,
                   bool tuned = false) {
  ForcedKernel forced(kernel);
  EXPECT_EQ(forced.status(), ROTOR_OK);
  if (tuned) EXPECT_EQ(rotor::force_tuned_variant(kernel), ROTOR_OK);
  const uint32_t b = 2, s = 37, hq = 5, hk = 3;
  rotor_config cfg = ref::config(rotary_dim, pairing, 4096, 16);
  ref::Table table(cfg);
  EXPECT_NE(table.t, nullptr);
  rotor_pool *pool = nullptr;
  EXPECT_EQ(rotor_pool_create(&pool, 2), ROTOR_OK);
  std::vector<int32_t> positions(b * s);
  std::mt19937 rng(7);
  for (int32_t &p : positions) p = int32_t(rng() % 3000);
  ApiOutputs r;
  r.q = ref::random_floats(size_t(b) * s * hq * head_dim, 1);
  r.k = ref::random_floats(size_t(b) * s * hk * head_dim, 2);
  rotor_tensor q = rotor_tensor_bshd(r.q.data(), ROTOR_DTYPE_F32, b, s, hq, head_dim);
  rotor_tensor k = rotor_tensor_bshd(r.k.data(), ROTOR_DTYPE_F32, b, s, hk, head_dim);
  EXPECT_EQ(rotor_apply_qk(table, &q, &k, positions.data(), 0, ROTOR_FORWARD, pool), ROTOR_OK);
  // Out of place into [b, h, s, d], inverse, contiguous positions from an offset.
  r.out.assign(r.q.size(), 0.0f);
  rotor_tensor out = rotor_tensor_bhsd(r.out.data(), ROTOR_DTYPE_F32, b, s, hq, head_dim);
  EXPECT_EQ(rotor_apply_to(table, &q, &out, nullptr, 100, ROTOR_INVERSE, nullptr), ROTOR_OK);
  // Out of place into an output starting 16 bytes into a cache line, so that the SIMD sets'
  // stores straddle lines: the write-out through the scratch where the set copies such
  // outputs, written directly where it does not (copy_cached_outputs).
  std::vector<float> line_buffer(r.q.size() + 32, 0.0f);
  float *in_line = line_buffer.data();
  while (reinterpret_cast<uintptr_t>(in_line) % 64 != 16) ++in_line;
  rotor_tensor out_in_line = rotor_tensor_bshd(in_line, ROTOR_DTYPE_F32, b, s, hq, head_dim);
  EXPECT_EQ(rotor_apply_to(table, &q, &out_in_line, positions.data(), 0, ROTOR_FORWARD, pool), ROTOR_OK);
  r.out_in_line.assign(in_line, in_line + r.q.size());
  // Caller cos/sin rows.
  const uint32_t rows = 64;
  std::vector<float> cos_rows = ref::random_floats(size_t(rows) * rotary_dim / 2, 3, -1.0f, 1.0f);
  std::vector<float> sin_rows = ref::random_floats(size_t(rows) * rotary_dim / 2, 4, -1.0f, 1.0f);
  r.out_cos_sin.assign(r.k.size(), 0.0f);
  rotor_tensor out2 = rotor_tensor_bshd(r.out_cos_sin.data(), ROTOR_DTYPE_F32, b, s, hk, head_dim);
  std::vector<int32_t> row_ids(b * s);
  for (int32_t &p : row_ids) p = int32_t(rng() % rows);
  EXPECT_EQ(rotor_apply_cos_sin(cos_rows.data(), sin_rows.data(), rows, rotary_dim, pairing, &k, &out2,
                                row_ids.data(), 0, ROTOR_FORWARD, pool),
            ROTOR_OK);
  // f16 in place, one token per batch (decode shape).
  r.q16.resize(size_t(b) * hq * head_dim);
  for (size_t i = 0; i < r.q16.size(); ++i) r.q16[i] = rotor::float_to_f16(r.q[i]);
  rotor_tensor q16 = rotor_tensor_bshd(r.q16.data(), ROTOR_DTYPE_F16, b, 1, hq, head_dim);
  EXPECT_EQ(rotor_apply(table, &q16, nullptr, 2999, ROTOR_FORWARD, pool), ROTOR_OK);
  rotor_pool_destroy(pool);
  return r;
}

TEST_P(KernelByName, MatchesScalarThroughTheApi) {
  const struct {
    rotor_pairing pairing;
    uint32_t rotary_dim, head_dim;
  } kConfigs[] = {{ROTOR_PAIRING_HALF, 128, 128}, {ROTOR_PAIRING_INTERLEAVED, 64, 80}, {ROTOR_PAIRING_HALF, 6, 10}};
  for (const auto &c : kConfigs) {
    const ApiOutputs expected = run_api("scalar", c.pairing, c.rotary_dim, c.head_dim);
    const ApiOutputs actual = run_api(GetParam(), c.pairing, c.rotary_dim, c.head_dim);
    EXPECT_EQ(std::memcmp(expected.q.data(), actual.q.data(), actual.q.size() * 4), 0) << "q";
    EXPECT_EQ(std::memcmp(expected.k.data(), actual.k.data(), actual.k.size() * 4), 0) << "k";
    EXPECT_EQ(std::memcmp(expected.out.data(), actual.out.data(), actual.out.size() * 4), 0) << "apply_to";
    EXPECT_EQ(std::memcmp(expected.out_in_line.data(), actual.out_in_line.data(), actual.out_in_line.size() * 4), 0)
        << "apply_to, output 16 bytes into a line";
    EXPECT_EQ(std::memcmp(expected.out_cos_sin.data(), actual.out_cos_sin.data(), actual.out_cos_sin.size() * 4), 0)
        << "apply_cos_sin";
    EXPECT_EQ(expected.q16, actual.q16) << "f16 decode";
  }
}

// Which of a set and its Zen variant the registry gives this CPU under the set's name: the variant
// on AMD Zen cores, the set everywhere else (told apart by their large-call kernels: one head per
// pass in the variant, two in the set). Runs on both kinds of machine, checking the other side.
TEST_P(KernelByName, ZenCoresGetTheTunedVariantOthersTheSet) {
  ForcedKernel forced(GetParam());
  ASSERT_EQ(forced.status(), ROTOR_OK);
  const auto large_half = rotor::active_kernels().rotate_large[ROTOR_DTYPE_F32][ROTOR_PAIRING_HALF];
  if (rotor::force_tuned_variant(GetParam()) != ROTOR_OK) GTEST_SKIP() << "no Zen variant of " << GetParam();
  const auto variant_large_half = rotor::active_kernels().rotate_large[ROTOR_DTYPE_F32][ROTOR_PAIRING_HALF];
  if (rotor::detect_cpu_features().amd_zen)
    EXPECT_EQ(large_half, variant_large_half) << "an AMD Zen core runs " << GetParam() << " without its Zen variant";
  else
    EXPECT_NE(large_half, variant_large_half) << "a core other than AMD Zen was given the Zen variant";
}

// The sets' AMD Zen variants (registry.cpp: one head per pass, cached outputs written directly),
// run on any CPU that has their instructions: the same bits as the scalar reference, kernel by
// kernel on every shape and through the API.
TEST_P(KernelByName, TunedVariantMatchesScalar) {
  ForcedKernel forced(GetParam());
  ASSERT_EQ(forced.status(), ROTOR_OK);
  const rotor_status variant = rotor::force_tuned_variant(GetParam());
  const std::string name = GetParam();
  if (name == "avx512bf16" || name == "avx512" || name == "avx2")
    ASSERT_EQ(variant, ROTOR_OK) << "the x86 sets have a Zen variant in every build that has them";
  else
    ASSERT_EQ(variant, ROTOR_ERR_UNSUPPORTED);
  if (variant != ROTOR_OK) return;
  ASSERT_STREQ(rotor_kernel_name(), GetParam());
  const rotor::KernelSet &variant_set = rotor::active_kernels();
  EXPECT_FALSE(variant_set.copy_cached_outputs);
  // Its kernels for calls that stay in cache, then those for large calls (one head per pass).
  rotor::KernelSet large = variant_set;
  std::memcpy(large.rotate, variant_set.rotate_large, sizeof large.rotate);
  EXPECT_NE(large.rotate[ROTOR_DTYPE_F32][ROTOR_PAIRING_HALF], variant_set.rotate[ROTOR_DTYPE_F32][ROTOR_PAIRING_HALF]);
  std::mt19937 rng(4321);
  ASSERT_NO_FATAL_FAILURE(compare_every_token(variant_set, true, rng));
  ASSERT_NO_FATAL_FAILURE(compare_every_token(large, true, rng));
  // Through the API, a pass of kLargePassBytes in place (it takes the large-call kernels), both
  // pairings, against the scalar set.
  const uint32_t tokens = uint32_t(rotor::kLargePassBytes / (8 * 128 * sizeof(float)));
  for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
    ref::Table table(ref::config(128, pairing, 4096, 16));
    ASSERT_NE(table.t, nullptr);
    std::vector<float> expected = ref::random_floats(size_t(tokens) * 8 * 128, 9), actual = expected;
    rotor_tensor e = rotor_tensor_bshd(expected.data(), ROTOR_DTYPE_F32, 1, tokens, 8, 128);
    rotor_tensor a = rotor_tensor_bshd(actual.data(), ROTOR_DTYPE_F32, 1, tokens, 8, 128);
    {
      ForcedKernel scalar("scalar");
      ASSERT_EQ(rotor_apply(table.t, &e, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
    }
    ASSERT_EQ(rotor::force_tuned_variant(GetParam()), ROTOR_OK);
    ASSERT_EQ(rotor_apply(table.t, &a, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_OK);
    EXPECT_EQ(std::memcmp(expected.data(), actual.data(), actual.size() * 4), 0) << "large pass, pairing " << pairing;
  }
  const ApiOutputs expected = run_api("scalar", ROTOR_PAIRING_INTERLEAVED, 64, 80);
  const ApiOutputs actual = run_api(GetParam(), ROTOR_PAIRING_INTERLEAVED, 64, 80, true);
  EXPECT_EQ(std::memcmp(expected.q.data(), actual.q.data(), actual.q.size() * 4), 0) << "q";
  EXPECT_EQ(std::memcmp(expected.out_in_line.data(), actual.out_in_line.data(), actual.out_in_line.size() * 4), 0)
      << "apply_to, output 16 bytes into a line";
  const ApiOutputs expected_half = run_api("scalar", ROTOR_PAIRING_HALF, 128, 128);
  const ApiOutputs actual_half = run_api(GetParam(), ROTOR_PAIRING_HALF, 128, 128, true);
  EXPECT_EQ(std::memcmp(expected_half.k.data(), actual_half.k.data(), actual_half.k.size() * 4), 0) << "k";
  EXPECT_EQ(std::memcmp(expected_half.out_in_line.data(), actual_half.out_in_line.data(),
                        actual_half.out_in_line.size() * 4),
            0)
      << "apply_to, output 16 bytes into a line";
  EXPECT_EQ(expected_half.q16, actual_half.q16) << "f16 decode";
}

// Table rows: the same bits with every kernel (SIMD combination or the scalar loop), whether
// computed in one batch or one row at a time, and within the accuracy contract against long
// double: 1 ulp of the correctly rounded float, or 2^-26 absolute near zeros.
TEST_P(KernelByName, TableRowsAreTheSameBitsAloneOrInBatchAndAccurate) {
  ForcedKernel forced(GetParam());
  ASSERT_EQ(forced.status(), ROTOR_OK);
  const uint32_t half = 37, rows = 300;  // 37: a frequency chunk tail; 300 rows: several anchors
  std::vector<double> inv_freq = ref::plain_freqs(10000.0, 2 * half);
  inv_freq[0] = 50.0;  // angles up to 1e6 radians
  rotor::RowFrequencies freqs{inv_freq.data(), half, 0.75};
  const uint32_t start = 20000;  // far from 0: large anchor angles
  std::vector<float> batch(size_t(start + rows) * 2 * half), alone(batch.size()), scalar(batch.size());
  rotor::compute_rows(freqs, start, start + rows, batch.data());
  for (uint32_t p = start; p < start + rows; ++p) rotor::compute_rows(freqs, p, p + 1, alone.data());
  {
    ForcedKernel scalar_forced("scalar");
    rotor::compute_rows(freqs, start, start + rows, scalar.data());
  }
  ASSERT_EQ(std::memcmp(batch.data(), alone.data(), batch.size() * 4), 0);
  ASSERT_EQ(std::memcmp(batch.data(), scalar.data(), batch.size() * 4), 0);
  for (uint32_t p = start; p < start + rows; ++p) {
    for (uint32_t i = 0; i < half; ++i) {
      const long double angle = static_cast<long double>(p) * static_cast<long double>(inv_freq[i]);
      const long double values[2] = {std::cos(angle) * 0.75L, std::sin(angle) * 0.75L};
      for (int k = 0; k < 2; ++k) {
        const float got = batch[size_t(p) * 2 * half + size_t(k) * half + i];
        const float rounded = static_cast<float>(values[k]);
        const bool near_zero = std::fabs(values[k]) < 0x1p-20L;
        if (near_zero)
          EXPECT_LE(std::fabs(static_cast<long double>(got) - values[k]), 0x1p-26L) << p << " " << i;
        else
          EXPECT_LE(ref::ulp_distance(got, rounded), 1) << p << " " << i << " k " << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllKernels, KernelByName, ::testing::ValuesIn(rotor::known_kernel_names()),
                         [](const ::testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

TEST(KernelApi, ListsAvailableKernelsBestFirstScalarLast) {
  const uint32_t count = rotor_kernel_count();
  ASSERT_GE(count, 1u);
  EXPECT_STREQ(rotor_kernel_available(count - 1), "scalar");
  EXPECT_EQ(rotor_kernel_available(count), nullptr);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string name = rotor_kernel_available(i);
    bool known = false;
    for (const char *k : rotor::known_kernel_names()) known |= name == k;
    EXPECT_TRUE(known) << name;
    for (uint32_t j = 0; j < i; ++j) EXPECT_NE(name, rotor_kernel_available(j));
  }
  ASSERT_NE(rotor_kernel_name(), nullptr);
  EXPECT_TRUE(kernel_available(rotor_kernel_name()));
}

TEST(KernelApi, ForceValidatesNamesAndNullRestoresTheFirstChoice) {
  const std::string before = rotor_kernel_name();
  EXPECT_EQ(rotor_kernel_force("no-such-kernel"), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_kernel_force(""), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(before, rotor_kernel_name());
  for (const char *name : rotor::known_kernel_names()) {
    if (kernel_available(name)) continue;
    EXPECT_EQ(rotor_kernel_force(name), ROTOR_ERR_UNSUPPORTED) << name;
    EXPECT_EQ(before, rotor_kernel_name());
  }
  ASSERT_EQ(rotor_kernel_force("scalar"), ROTOR_OK);
  EXPECT_STREQ(rotor_kernel_name(), "scalar");
  ASSERT_EQ(rotor_kernel_force(nullptr), ROTOR_OK);
  // Without ROTOR_KERNEL the first choice is the best kernel available.
  const char *env = std::getenv("ROTOR_KERNEL");
  if (env == nullptr || !kernel_available(env))
    EXPECT_STREQ(rotor_kernel_name(), rotor_kernel_available(0));
  else
    EXPECT_STREQ(rotor_kernel_name(), env);
  ASSERT_EQ(rotor_kernel_force(before.c_str()), ROTOR_OK);
}

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
// The library's own CPUID/XGETBV detection agrees with the compiler's.
TEST(KernelApi, DetectionAgreesWithTheCompilersCpuChecks) {
  if (!kernel_available("sse2")) GTEST_SKIP() << "built without the x86 SIMD kernels (no xsimd?)";
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  EXPECT_EQ(kernel_available("avx2"), avx2);
  EXPECT_EQ(kernel_available("avx512"), avx2 && __builtin_cpu_supports("avx512f"));
  const bool bf16 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16");
  // A build whose compiler lacks -mavx512bf16 has no such set even on a CPU that has the feature.
  if (!bf16 || kernel_available("avx512bf16")) EXPECT_EQ(kernel_available("avx512bf16"), avx2 && bf16);
}
#endif

}  // namespace
