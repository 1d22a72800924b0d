// The attention kernels' f16 and bf16 readers against their own f32 reader (and their block
// widening against the exact conversion): widening is exact,
// so scoring an f16/bf16 key block, or accumulating f16/bf16 values, must give the very bits the
// f32 entry gives on the widened block, for every kernel set this CPU runs, every head_dim shape
// (whole vectors, a tail, shorter than a vector) and partial blocks (a decode step's last block).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "attention/quantized_keys.hpp"
#include "common/dtype.hpp"
#include "common/half.hpp"
#include "common/quant_blocks.hpp"
#include "kernels/attention_kernels.hpp"
#include "kernels/registry.hpp"
#include "support/aligned_buffer.hpp"

namespace {

struct Widened {
  std::vector<uint16_t> words;
  std::vector<float> floats;
};

// Random words of one type (finite: what a cache holds) and their exact float values.
Widened random_words(size_t n, rotor_dtype dtype, std::mt19937 &rng) {
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  Widened w;
  for (size_t i = 0; i < n; ++i) {
    const float x = dist(rng);
    const uint16_t h = dtype == ROTOR_DTYPE_F16 ? rotor::float_to_f16(x) : rotor::float_to_bf16(x);
    w.words.push_back(h);
    w.floats.push_back(dtype == ROTOR_DTYPE_F16 ? rotor::f16_to_float(h) : rotor::bf16_to_float(h));
  }
  return w;
}

// A quantized cache's key block (attention/quantized_keys.hpp) as a cache may hold it: random
// bytes for the numbers (every Q8_0 code, -128 included, and every Q4_0 nibble) and random f16
// scales of both signs; 64-byte aligned, as the cache's blocks are.
test_support::AlignedBuffer random_quantized_key_block(rotor_dtype dtype, uint32_t d, std::mt19937 &rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale_dist(-0.05f, 0.05f);
  const size_t block_bytes = rotor::quantized_key_block_bytes(dtype, d);
  const size_t numbers = rotor::dimension_major_numbers_bytes(dtype, d, rotor::kKeyBlock);
  test_support::AlignedBuffer keys = test_support::aligned_buffer(block_bytes);
  for (size_t i = 0; i < numbers; ++i) keys.get()[i] = static_cast<unsigned char>(byte(rng));
  for (size_t i = numbers; i < block_bytes; i += 2) {
    const uint16_t h = rotor::float_to_f16(scale_dist(rng));
    std::memcpy(keys.get() + i, &h, 2);
  }
  return keys;
}

// n value rows of ggml's blocks, random the same way.
std::vector<unsigned char> random_quantized_rows(rotor_dtype dtype, uint32_t n, uint32_t d, std::mt19937 &rng) {
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> scale_dist(-0.05f, 0.05f);
  std::vector<unsigned char> values(n * rotor::quant_row_bytes(dtype, d));
  for (size_t g = 0; g < values.size(); g += rotor::quant_block_bytes(dtype)) {
    const uint16_t h = rotor::float_to_f16(scale_dist(rng));
    std::memcpy(&values[g], &h, 2);
    for (size_t i = 2; i < rotor::quant_block_bytes(dtype); ++i) values[g + i] = static_cast<unsigned char>(byte(rng));
  }
  return values;
}

TEST(AttentionKernels, HalfReadersGiveTheBitsOfTheFloatReader) {
  std::mt19937 rng(23);
  int checked = 0;
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    const rotor::AttentionKernels &kernels = *set.attention;
    SCOPED_TRACE(set.name);
    for (rotor_dtype dtype : {ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
      if (kernels.scores[dtype] == nullptr) continue;  // the caller converts (attention_run.cpp)
      ASSERT_NE(kernels.accumulate[dtype], nullptr);
      for (uint32_t d : {128u, 40u, 7u})
        for (uint32_t n : {64u, 37u, 1u}) {
          SCOPED_TRACE(::testing::Message() << "dtype " << dtype << " d " << d << " n " << n);
          const uint32_t rows = 9;  // a tile of 6 and a tail of 3
          const Widened keys = random_words(size_t{rotor::kKeyBlock} * d, dtype, rng);
          const Widened values = random_words(size_t{n} * d, dtype, rng);
          std::vector<float> q(size_t{rows} * d);
          for (float &x : q) x = std::uniform_real_distribution<float>(-1.0f, 1.0f)(rng);
          // Key blocks are 64-byte aligned in the cache: the same here.
          test_support::AlignedBuffer key_words = test_support::aligned_buffer(keys.words.size() * 2);
          test_support::AlignedBuffer key_floats = test_support::aligned_buffer(keys.floats.size() * 4);
          std::memcpy(key_words.get(), keys.words.data(), keys.words.size() * 2);
          std::memcpy(key_floats.get(), keys.floats.data(), keys.floats.size() * 4);
          std::vector<float> from_half(size_t{rows} * rotor::kKeyBlock, 0.0f), from_float(from_half);
          kernels.scores[dtype](q.data(), rows, key_words.get(), n, d, 0.125f, from_half.data(), rotor::kKeyBlock);
          kernels.scores[ROTOR_DTYPE_F32](q.data(), rows, key_floats.get(), n, d, 0.125f, from_float.data(),
                                          rotor::kKeyBlock);
          for (uint32_t r = 0; r < rows; ++r)
            ASSERT_EQ(std::memcmp(&from_half[size_t{r} * rotor::kKeyBlock], &from_float[size_t{r} * rotor::kKeyBlock],
                                  n * sizeof(float)),
                      0)
                << "scores of row " << r;
          std::vector<float> acc_half(size_t{rows} * d, 0.5f), acc_float(acc_half);
          kernels.accumulate[dtype](from_float.data(), rotor::kKeyBlock, rows, values.words.data(), n, d,
                                    acc_half.data());
          kernels.accumulate[ROTOR_DTYPE_F32](from_float.data(), rotor::kKeyBlock, rows, values.floats.data(), n, d,
                                              acc_float.data());
          ASSERT_EQ(std::memcmp(acc_half.data(), acc_float.data(), acc_half.size() * sizeof(float)), 0);
          if (kernels.widen[dtype] != nullptr) {  // the prefill's once-per-block widening
            std::vector<float> widened(values.floats.size(), -1.0f);
            kernels.widen[dtype](values.words.data(), uint32_t(widened.size()), widened.data());
            ASSERT_EQ(std::memcmp(widened.data(), values.floats.data(), widened.size() * sizeof(float)), 0);
          }
          ++checked;
        }
    }
  }
  // Every SIMD set reads f16/bf16 itself; on a machine with only the portable set there is
  // nothing to compare, which the skip says.
  if (checked == 0) GTEST_SKIP() << "no kernel set of this CPU reads f16/bf16 blocks itself";
}

// A quantized cache's blocks read by a kernel set itself (a decode step's path) against its f32
// reader on the same blocks dequantized by the set (a prefill's path): every number times its
// scale is an exact float, so the scores and accumulators must be the same bits, or a prefill
// and decode steps part. Numbers are random bytes (every Q8_0 code, -128 included, which a ggml
// cache handed in may hold, and every Q4_0 nibble) and the scales random f16 of both signs; head
// dims of whole 64-column chunks (128), a 32-column tail (96, 160: AVX-512's tail chunk starts
// in the middle of a group, where a Q4_0 value's nibble is chosen when run) and one group (32);
// decode's 4 rows, a 6-row tile with a tail (9, 13); whole, partial and one-key blocks.
TEST(AttentionKernels, QuantizedReadersGiveTheBitsOfTheDequantizedFloats) {
  std::mt19937 rng(29);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  int checked = 0;
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    const rotor::AttentionKernels &kernels = *set.attention;
    SCOPED_TRACE(set.name);
    for (rotor_dtype dtype : {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}) {
      if (kernels.scores[dtype] == nullptr) continue;  // the caller dequantizes (attention_run.cpp)
      ASSERT_NE(kernels.accumulate[dtype], nullptr);
      for (uint32_t d : {128u, 96u, 160u, 32u})
        for (uint32_t n : {64u, 37u, 1u})
          for (uint32_t rows : {4u, 9u, 13u, 1u}) {
            SCOPED_TRACE(::testing::Message() << "dtype " << dtype << " d " << d << " n " << n << " rows " << rows);
            const test_support::AlignedBuffer keys = random_quantized_key_block(dtype, d, rng);
            const std::vector<unsigned char> values = random_quantized_rows(dtype, n, d, rng);
            test_support::AlignedBuffer key_floats = test_support::aligned_buffer(size_t{rotor::kKeyBlock} * d * 4);
            float *dequantized_keys = reinterpret_cast<float *>(key_floats.get());
            kernels.dequantize_keys[dtype - rotor::kQuantTypeBase](keys.get(), d, dequantized_keys);
            std::vector<float> dequantized_values(size_t{n} * d);
            kernels.dequantize_values[dtype - rotor::kQuantTypeBase](values.data(), n, d, dequantized_values.data());
            // The set's dequantization is the header's (the numbers the tests of test_kv_quant check).
            std::vector<float> plain_keys(size_t{rotor::kKeyBlock} * d), plain_values(dequantized_values.size());
            rotor::dequantize_dimension_major(dtype, d, rotor::kKeyBlock, keys.get(), plain_keys.data());
            rotor::dequantize_rows(dtype, values.data(), n, d, plain_values.data());
            ASSERT_EQ(std::memcmp(plain_keys.data(), dequantized_keys, plain_keys.size() * 4), 0);
            ASSERT_EQ(std::memcmp(plain_values.data(), dequantized_values.data(), plain_values.size() * 4), 0);

            std::vector<float> q(size_t{rows} * d);
            for (float &x : q) x = unit(rng);
            std::vector<float> direct(size_t{rows} * rotor::kKeyBlock, 0.0f), via_floats(direct);
            kernels.scores[dtype](q.data(), rows, keys.get(), n, d, 0.125f, direct.data(), rotor::kKeyBlock);
            kernels.scores[ROTOR_DTYPE_F32](q.data(), rows, dequantized_keys, n, d, 0.125f, via_floats.data(),
                                            rotor::kKeyBlock);
            for (uint32_t r = 0; r < rows; ++r)
              ASSERT_EQ(std::memcmp(&direct[size_t{r} * rotor::kKeyBlock], &via_floats[size_t{r} * rotor::kKeyBlock],
                                    n * sizeof(float)),
                        0)
                  << "scores of row " << r;
            std::vector<float> weights(size_t{rows} * rotor::kKeyBlock);
            for (float &w : weights) w = 0.5f + 0.5f * unit(rng);
            std::vector<float> acc_direct(size_t{rows} * d, 0.5f), acc_floats(acc_direct);
            kernels.accumulate[dtype](weights.data(), rotor::kKeyBlock, rows, values.data(), n, d, acc_direct.data());
            kernels.accumulate[ROTOR_DTYPE_F32](weights.data(), rotor::kKeyBlock, rows, dequantized_values.data(), n, d,
                                                acc_floats.data());
            ASSERT_EQ(std::memcmp(acc_direct.data(), acc_floats.data(), acc_direct.size() * sizeof(float)), 0);
            // No keys: the accumulators keep their bits.
            kernels.accumulate[dtype](weights.data(), rotor::kKeyBlock, rows, values.data(), 0, d, acc_direct.data());
            ASSERT_EQ(std::memcmp(acc_direct.data(), acc_floats.data(), acc_direct.size() * sizeof(float)), 0);
            ++checked;
          }
    }
  }
  // Every SIMD set reads the quantized blocks itself; the portable set has them dequantized.
  if (checked == 0) GTEST_SKIP() << "no kernel set of this CPU reads quantized blocks itself";
}

// A set's CPU-tuned variant with attention kernels of its own (avx512's for AMD Zen: the tiles
// read each row's query element or weight in the multiply-adds, arch/common/attention_kernel_body.hpp,
// AttnInFma) against the set itself: the same arithmetic, so the same bits for every element
// type (f32, f16, bf16, Q8_0, Q4_0), head_dim shape, block length and row count (decode's 4, 6-row
// tiles with tails, one row). Runs wherever the CPU has the set's instructions, Zen or not
// (force_untuned_set / force_tuned_variant); skipped where no set here has such a variant.
TEST(AttentionKernels, TunedVariantTilesGiveTheSetsBits) {
  struct Restore {
    ~Restore() { rotor::force_kernel_set(nullptr); }
  } restore;
  std::mt19937 rng(31);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  int checked = 0;
  for (const char *name : rotor::known_kernel_names()) {
    if (rotor::force_untuned_set(name) != ROTOR_OK) continue;
    const rotor::AttentionKernels &set = *rotor::active_kernels().attention;
    if (rotor::force_tuned_variant(name) != ROTOR_OK) continue;
    const rotor::AttentionKernels &variant = *rotor::active_kernels().attention;
    rotor::force_kernel_set(nullptr);
    if (&set == &variant) continue;  // the variant shares the set's attention kernels
    SCOPED_TRACE(name);
    for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}) {
      ASSERT_EQ(set.scores[dtype] == nullptr, variant.scores[dtype] == nullptr);
      if (set.scores[dtype] == nullptr) continue;
      const bool quantized = dtype == ROTOR_DTYPE_Q8_0 || dtype == ROTOR_DTYPE_Q4_0;
      for (uint32_t d : quantized ? std::vector<uint32_t>{128u, 96u, 32u} : std::vector<uint32_t>{128u, 40u, 7u})
        for (uint32_t n : {64u, 37u, 1u})
          for (uint32_t rows : {4u, 6u, 9u, 13u, 1u, 24u}) {
            SCOPED_TRACE(::testing::Message() << "dtype " << dtype << " d " << d << " n " << n << " rows " << rows);
            // Key block and value rows as the cache holds them: random floats, f16/bf16 words or
            // ggml blocks (random numbers, random f16 scales).
            test_support::AlignedBuffer keys;
            std::vector<unsigned char> values;
            auto random_elements = [&](size_t count, unsigned char *p) {
              for (size_t i = 0; i < count; ++i) {
                const float x = unit(rng);
                const uint16_t h = dtype == ROTOR_DTYPE_BF16 ? rotor::float_to_bf16(x) : rotor::float_to_f16(x);
                if (dtype == ROTOR_DTYPE_F32) std::memcpy(p + i * 4, &x, 4);
                else std::memcpy(p + i * 2, &h, 2);
              }
            };
            if (quantized) {
              keys = random_quantized_key_block(dtype, d, rng);
              values = random_quantized_rows(dtype, n, d, rng);
            } else {
              keys = test_support::aligned_buffer(size_t{rotor::kKeyBlock} * d * rotor::dtype_size(dtype));
              random_elements(size_t{rotor::kKeyBlock} * d, keys.get());
              values.resize(size_t{n} * d * rotor::dtype_size(dtype));
              random_elements(size_t{n} * d, values.data());
            }
            std::vector<float> q(size_t{rows} * d);
            for (float &x : q) x = unit(rng);
            std::vector<float> scores_set(size_t{rows} * rotor::kKeyBlock, 0.0f), scores_variant(scores_set);
            set.scores[dtype](q.data(), rows, keys.get(), n, d, 0.18f, scores_set.data(), rotor::kKeyBlock);
            variant.scores[dtype](q.data(), rows, keys.get(), n, d, 0.18f, scores_variant.data(), rotor::kKeyBlock);
            for (uint32_t r = 0; r < rows; ++r)
              ASSERT_EQ(std::memcmp(&scores_set[size_t{r} * rotor::kKeyBlock],
                                    &scores_variant[size_t{r} * rotor::kKeyBlock], n * sizeof(float)),
                        0)
                  << "scores of row " << r;
            std::vector<float> acc_set(size_t{rows} * d);
            for (float &x : acc_set) x = unit(rng);
            std::vector<float> acc_variant(acc_set);
            set.accumulate[dtype](scores_set.data(), rotor::kKeyBlock, rows, values.data(), n, d, acc_set.data());
            variant.accumulate[dtype](scores_set.data(), rotor::kKeyBlock, rows, values.data(), n, d,
                                      acc_variant.data());
            ASSERT_EQ(std::memcmp(acc_set.data(), acc_variant.data(), acc_set.size() * sizeof(float)), 0);
            ++checked;
          }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no kernel set this CPU runs has a variant with attention kernels of its own";
}

// Floats that exercise every branch of the rounding to f16 and bf16: signed zeros, subnormal
// and normal inputs, results that round to subnormal, to the largest finite value and to
// infinity, exact ties (to even, both ways), infinities and NaNs (quiet and signalling, payloads
// that survive or not), then random bit patterns.
std::vector<float> rounding_cases(std::mt19937 &rng) {
  std::vector<uint32_t> bits = {0x00000000u, 0x80000000u, 0x00000001u, 0x807fffffu, 0x00800000u, 0x3f800000u,
                                0x33000000u, 0x33000001u, 0x387fe000u, 0x387ff000u, 0x38800000u, 0x477fe000u,
                                0x477fefffu, 0x477ff000u, 0x47800000u, 0x7f7fffffu, 0x7f7f8000u, 0x7f800000u,
                                0xff800000u, 0x7fc00000u, 0xffc00001u, 0x7f800001u, 0x7fa00000u, 0xff801234u,
                                0x3f808000u, 0x3f818000u, 0x3f801000u, 0x3f803000u, 0x3f802000u, 0x3f806000u};
  for (uint32_t e = 0; e < 256; ++e) {  // every exponent, with mantissas at the rounding points
    for (uint32_t m : {0x0u, 0x1000u, 0x1fffu, 0x2000u, 0x3000u, 0x7fffu, 0x8000u, 0x18000u, 0x7fffffu})
      bits.push_back(e << 23 | m);
  }
  for (int i = 0; i < 20000; ++i) bits.push_back(uint32_t(rng()));
  std::vector<float> out(bits.size());
  std::memcpy(out.data(), bits.data(), bits.size() * sizeof(float));
  return out;
}

TEST(AttentionKernels, NarrowingRoundsLikeThePortableConversion) {
  std::mt19937 rng(29);
  const std::vector<float> cases = rounding_cases(rng);
  int checked = 0;
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    SCOPED_TRACE(set.name);
    for (rotor_dtype dtype : {ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
      const auto narrow = set.attention->narrow[dtype];
      if (narrow == nullptr) continue;  // the forward call converts element by element
      for (uint32_t offset : {0u, 3u}) {  // vectors and a tail, at an unaligned start
        std::vector<uint16_t> got(cases.size() - offset, 0xdeadu);
        narrow(cases.data() + offset, uint32_t(got.size()), got.data());
        for (size_t i = 0; i < got.size(); ++i) {
          const float x = cases[offset + i];
          const uint16_t want = dtype == ROTOR_DTYPE_F16 ? rotor::float_to_f16(x) : rotor::float_to_bf16(x);
          uint32_t bits;
          std::memcpy(&bits, &x, sizeof bits);
          ASSERT_EQ(got[i], want) << "dtype " << dtype << " input 0x" << std::hex << bits;
        }
        ++checked;
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no kernel set of this CPU narrows f16/bf16 itself";
}

}  // namespace

// The edges the SIMD tiles write apart (so that the compiler keeps their accumulators in
// registers): a dot product of no dimensions is 0 times the scale, and accumulating no keys
// leaves the accumulators' bits as they were, for every set and element type it reads.
TEST(AttentionKernels, NoDimensionsAndNoKeys) {
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    const rotor::AttentionKernels &kernels = *set.attention;
    SCOPED_TRACE(set.name);
    for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
      if (kernels.scores[dtype] == nullptr) continue;  // the caller converts (attention_run.cpp)
      SCOPED_TRACE(::testing::Message() << "dtype " << dtype);
      const uint32_t rows = 9, d = 40;  // a tile of 6 and a tail of 3
      test_support::AlignedBuffer block = test_support::aligned_buffer(size_t{rotor::kKeyBlock} * d * 4);
      std::vector<float> q(size_t{rows} * d, 1.0f), scores(size_t{rows} * rotor::kKeyBlock, -7.0f);
      kernels.scores[dtype](q.data(), rows, block.get(), rotor::kKeyBlock, 0, 0.5f, scores.data(), rotor::kKeyBlock);
      for (float s : scores) ASSERT_EQ(s, 0.0f);
      std::vector<float> weights(size_t{rows} * rotor::kKeyBlock, 1.0f), acc(size_t{rows} * d);
      for (size_t i = 0; i < acc.size(); ++i) acc[i] = float(i) - 100.5f;
      const std::vector<float> before = acc;
      kernels.accumulate[dtype](weights.data(), rotor::kKeyBlock, rows, block.get(), 0, d, acc.data());
      ASSERT_EQ(std::memcmp(acc.data(), before.data(), acc.size() * sizeof(float)), 0);
    }
  }
}

// The fold moves a row's running maximum only when a block's largest score exceeds it by more
// than kStaleMaximumSlack (the rescale of the accumulators it then takes is a pass over them);
// below that the maximum stays and the weights 2^(s - m) may exceed 1. Checked in every set
// against exp2 in double (the fold works in base 2): a block 8 above the maximum (kept), then
// one 12 above it (moved), on two rows folded together (the SIMD sets interleave rows) with
// n = 37 and d = 40 (tails).
TEST(AttentionKernels, FoldMovesTheMaximumOnlyPastTheSlack) {
  const uint32_t n = 37, d = 40, stride = rotor::kKeyBlock;
  ASSERT_GT(rotor::kStaleMaximumSlack, 8.0f);
  ASSERT_LT(rotor::kStaleMaximumSlack, 12.0f);
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    SCOPED_TRACE(set.name);
    std::mt19937 rng(47);
    std::uniform_real_distribution<float> dist(-4.0f, 0.0f);
    float maxima[2] = {3.0f, 3.0f}, sums[2] = {2.0f, 2.0f};
    std::vector<float> acc(size_t{2} * d, 1.0f);
    double want_sum[2] = {2.0, 2.0}, want_acc_factor[2] = {1.0, 1.0};
    for (float rise : {8.0f, 12.0f}) {
      SCOPED_TRACE(::testing::Message() << "a block " << rise << " above the maximum");
      std::vector<float> scores(size_t{2} * stride, 0.0f);
      for (uint32_t r = 0; r < 2; ++r) {
        for (uint32_t j = 0; j < n; ++j) scores[r * stride + j] = maxima[r] + rise + dist(rng);
        scores[r * stride + 11 + r] = maxima[r] + rise;  // the block's largest score
      }
      const std::vector<float> given = scores;
      const float before = maxima[0];
      const float want_max = rise > rotor::kStaleMaximumSlack ? before + rise : before;
      set.attention->fold(scores.data(), stride, 2, n, maxima, sums, acc.data(), d);
      for (uint32_t r = 0; r < 2; ++r) {
        ASSERT_EQ(maxima[r], want_max) << "row " << r;
        const double factor = std::exp2(double(before) - double(want_max));
        want_sum[r] *= factor;
        want_acc_factor[r] *= factor;
        for (uint32_t j = 0; j < n; ++j) {
          const double weight = std::exp2(double(given[r * stride + j]) - double(want_max));
          want_sum[r] += weight;
          ASSERT_NEAR(scores[r * stride + j], weight, 4e-7 * weight) << "row " << r << ", weight " << j;
        }
        EXPECT_NEAR(sums[r], want_sum[r], 2e-6 * want_sum[r]) << "row " << r;
        for (uint32_t i = 0; i < d; ++i)
          ASSERT_NEAR(acc[r * d + i], want_acc_factor[r], 4e-7 * want_acc_factor[r]) << "row " << r << ", element " << i;
      }
    }
  }
}

// The fold's 2^x against exp2 in double, in every set, over the whole range a weight takes,
// x = s - m from below the clamp at -126 up to the stale-maximum slack: within 1.5 ulp in every
// set (the polynomial kExp2Poly measured 0.9 ulp evaluated with fused multiply-adds, 1.2
// without). Each row's largest score is 8. Even rounds start from m = -inf, so m becomes 8 and
// x <= 0 (x = 0 must weigh exactly 1); odd rounds from a stale m = -3, which a block 11 above
// it (under the slack) keeps, so x reaches 11. Rows of 64 (whole blocks) and of 37 (a tail),
// two rows a call (the sets interleave rows).
TEST(AttentionKernels, FoldWeighsLikeExp2) {
  const uint32_t stride = rotor::kKeyBlock, d = 8;
  ASSERT_GT(rotor::kStaleMaximumSlack, 11.0f);
  std::mt19937 rng(53);
  std::uniform_real_distribution<float> wide(-140.0f, 0.0f), near_zero(-2.0f, 0.0f);
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    SCOPED_TRACE(set.name);
    double worst_ulps = 0.0;
    float worst_x = 0.0f;
    for (uint32_t round = 0; round < 400; ++round) {
      const uint32_t n = round % 4 < 2 ? stride : 37;
      const bool stale = round % 2 == 1;
      const float m = stale ? -3.0f : 8.0f;  // the running maximum the weights are taken against
      std::vector<float> scores(size_t{2} * stride, 0.0f);
      for (uint32_t j = 0; j < 2 * stride; ++j) scores[j] = 8.0f + (j % 3 == 0 ? near_zero(rng) : wide(rng));
      scores[0] = scores[stride] = 8.0f;  // each row's largest score
      if (round < 2) scores[1] = m - 126.0f, scores[2] = m - 125.5f, scores[3] = m - 0.5f;
      const std::vector<float> given = scores;
      float maxima[2] = {-INFINITY, -INFINITY}, sums[2] = {0.0f, 0.0f};
      if (stale) maxima[0] = maxima[1] = m, sums[0] = sums[1] = 1.0f;
      std::vector<float> acc(size_t{2} * d, 0.0f);
      set.attention->fold(scores.data(), stride, 2, n, maxima, sums, acc.data(), d);
      for (uint32_t r = 0; r < 2; ++r) {
        ASSERT_EQ(maxima[r], m);
        if (!stale) ASSERT_EQ(scores[r * stride], 1.0f) << "the row's maximum weighs exactly 1";
        for (uint32_t j = 0; j < n; ++j) {
          const float x = given[r * stride + j] - m;  // rounded as the fold rounds it
          const float got = scores[r * stride + j];
          if (x < -126.0f) {  // below the clamp: 0 (portable) or 2^-126 (SIMD), never more
            ASSERT_LE(got, 0x1p-126f) << "x = " << x;
            continue;
          }
          const double want = std::exp2(double(x));
          const double ulp = double(std::nextafter(float(want), INFINITY) - float(want));
          const double ulps = std::fabs(double(got) - want) / ulp;
          if (ulps > worst_ulps) worst_ulps = ulps, worst_x = x;
        }
      }
    }
    EXPECT_LE(worst_ulps, 1.5) << "at x = " << worst_x;
    std::printf("[ %s ] the fold's 2^x: worst %.2f ulp (at x = %g)\n", set.name, worst_ulps, double(worst_x));
  }
}

// A row maximum that is infinite (only an overflowed key or query gives one: an f16/bf16 key past
// its range is stored as infinity) takes the softmax's limit, in every set: each score equal to
// the maximum weighs 1 and every other one 0, where 2^(s - m) = 2^(inf - inf) gave NaN weights
// and a NaN sum. Rows 0 and 1 are folded together (the SIMD sets interleave two rows), with
// n = 37 (whole vectors and a tail) and d = 40 (a vector tail).
TEST(AttentionKernels, FoldGivesInfiniteMaximaTheSoftmaxLimit) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const uint32_t n = 37, d = 40, stride = rotor::kKeyBlock;
  for (uint32_t k = 0; rotor::available_kernel(k) != nullptr; ++k) {
    const rotor::KernelSet &set = *rotor::available_kernel(k);
    SCOPED_TRACE(set.name);
    std::mt19937 rng(31);
    std::uniform_real_distribution<float> dist(-4.0f, 4.0f);
    std::vector<float> scores(size_t{3} * stride, 0.0f);
    for (float &x : scores) x = dist(rng);
    // Row 0: a previous block (maximum 3, sum 2), then +inf twice among finite scores and -inf.
    // Row 1: every score -inf, nothing before.
    scores[5] = scores[20] = inf;
    scores[9] = -inf;
    for (uint32_t j = 0; j < n; ++j) scores[stride + j] = -inf;
    float maxima[3] = {3.0f, -inf, -inf}, sums[3] = {2.0f, 0.0f, 0.0f};
    std::vector<float> acc(size_t{3} * d, 1.0f);
    for (uint32_t i = 0; i < d; ++i) acc[d + i] = 0.0f;
    set.attention->fold(scores.data(), stride, 2, n, maxima, sums, acc.data(), d);

    // Counted, not asserted one by one: every set reports, each in a few lines.
    auto differing = [](const float *got, uint32_t count, auto want) {
      uint32_t bad = 0;
      for (uint32_t j = 0; j < count; ++j) bad += !(got[j] == want(j));
      return bad;
    };
    EXPECT_EQ(maxima[0], inf);
    EXPECT_EQ(sums[0], 2.0f) << "the two +inf scores, the earlier block rescaled by exp(3 - inf) = 0";
    EXPECT_EQ(differing(scores.data(), n, [](uint32_t j) { return j == 5 || j == 20 ? 1.0f : 0.0f; }), 0u)
        << "weights of row 0 other than 1 at the +inf scores and 0 elsewhere; weight 5 is " << scores[5];
    EXPECT_EQ(differing(acc.data(), d, [](uint32_t) { return 0.0f; }), 0u) << "row 0's accumulators, rescaled by 0";
    EXPECT_EQ(maxima[1], -inf);
    EXPECT_EQ(sums[1], float(n)) << "equal scores weigh evenly";
    EXPECT_EQ(differing(scores.data() + stride, n, [](uint32_t) { return 1.0f; }), 0u) << "weights of row 1 other than 1";

    // Row 1's next block brings finite scores: the -inf block's share goes (to 2^-126 of it at
    // most, the SIMD 2^x's clamp) and the row continues as if that block had not been there.
    for (uint32_t i = 0; i < d; ++i) acc[d + i] = 5.0f;  // what the -inf block's values added
    std::vector<float> block(n), fresh_block(n);
    for (float &x : block) x = dist(rng);
    fresh_block = block;
    std::copy(block.begin(), block.end(), scores.begin() + stride);
    set.attention->fold(scores.data() + stride, stride, 1, n, maxima + 1, sums + 1, acc.data() + d, d);
    float fresh_max = -inf, fresh_sum = 0.0f;
    std::vector<float> fresh_acc(d, 0.0f);
    set.attention->fold(fresh_block.data(), stride, 1, n, &fresh_max, &fresh_sum, fresh_acc.data(), d);
    EXPECT_EQ(maxima[1], fresh_max);
    EXPECT_EQ(sums[1], fresh_sum);
    EXPECT_EQ(differing(scores.data() + stride, n, [&](uint32_t j) { return fresh_block[j]; }), 0u) << "row 1's weights";
    for (uint32_t i = 0; i < d; ++i) acc[d + i] = std::fabs(acc[d + i]) <= 1e-36f ? 0.0f : acc[d + i];
    EXPECT_EQ(differing(acc.data() + d, d, [](uint32_t) { return 0.0f; }), 0u) << "row 1's accumulators: " << acc[d];

    // A NaN score still makes the row NaN.
    std::vector<float> with_nan(n, 1.0f);
    with_nan[3] = inf;
    with_nan[7] = std::nanf("");
    float nan_max = -inf, nan_sum = 0.0f;
    std::vector<float> nan_acc(d, 0.0f);
    set.attention->fold(with_nan.data(), stride, 1, n, &nan_max, &nan_sum, nan_acc.data(), d);
    EXPECT_TRUE(std::isnan(nan_sum));
  }
}
