// Out-of-place calls (rotor_apply_to) whose output goes through the scratch and copy_out
// (src/apply/apply_plan.cpp, arch/common/copy_out_body.hpp): with aligned stores when the
// kernels' own stores would straddle cache lines, with non-temporal stores when the output is
// large. Either way the kernel computes what it would have written directly, so every kernel
// set must still give the scalar reference's bits, and no byte outside the output may change:
// the copy's unaligned head and tail, heads that do not fill a line, strided output heads, and
// the pool's threads (each fencing its own streamed stores) are the risky parts.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "apply/apply_plan.hpp"
#include "common/half.hpp"
#include "kernels/registry.hpp"
#include "rotor/rotor.h"
#include "support/forced_kernel.hpp"
#include "support/reference.hpp"

namespace {

using test_support::ForcedKernel;

// Sets the streaming threshold for one scope.
class StreamThreshold {
 public:
  explicit StreamThreshold(uint64_t bytes) : previous_(rotor::set_stream_min_bytes(bytes)) {}
  ~StreamThreshold() { rotor::set_stream_min_bytes(previous_); }

 private:
  uint64_t previous_;
};

bool kernel_available(const std::string &name) {
  for (uint32_t i = 0; i < rotor_kernel_count(); ++i)
    if (name == rotor_kernel_available(i)) return true;
  return false;
}

size_t element_size(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 4 : 2; }

// Random finite elements of dtype dt.
std::vector<unsigned char> random_elements(rotor_dtype dt, size_t n, uint32_t seed) {
  const std::vector<float> values = ref::random_floats(n, seed);
  std::vector<unsigned char> bytes(n * element_size(dt));
  for (size_t i = 0; i < n; ++i) {
    if (dt == ROTOR_DTYPE_F32) {
      std::memcpy(&bytes[i * 4], &values[i], 4);
    } else {
      const uint16_t h = dt == ROTOR_DTYPE_F16 ? rotor::float_to_f16(values[i]) : rotor::float_to_bf16(values[i]);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

constexpr size_t kGuard = 192;       // bytes checked untouched on both sides of the output
constexpr unsigned char kFill = 0xA5;

struct Case {
  rotor_dtype dtype;
  rotor_pairing pairing;
  uint32_t rotary_dim, head_dim;
  uint32_t batch, seq, heads;
  size_t out_offset;  // bytes past a 64-byte boundary where the output starts
  bool out_bhsd;      // output heads strided (seq * head_dim apart), not contiguous
  uint32_t threads;   // 1: no pool
};

// rotor_apply_to of `c` with `kernel` forced: the whole output buffer, guards included.
std::vector<unsigned char> run_case(const char *kernel, const Case &c, const std::vector<unsigned char> &input,
                                    const std::vector<int32_t> &positions) {
  ForcedKernel forced(kernel);
  EXPECT_EQ(forced.status(), ROTOR_OK);
  ref::Table table(ref::config(c.rotary_dim, c.pairing, 4096, 16));
  rotor_pool *pool = nullptr;
  if (c.threads > 1) EXPECT_EQ(rotor_pool_create(&pool, c.threads), ROTOR_OK);
  const size_t out_bytes = input.size();
  // Room to place the output at any offset from a 64-byte boundary, with guards around it.
  std::vector<unsigned char> raw(out_bytes + 2 * kGuard + 128, kFill);
  const uintptr_t base = reinterpret_cast<uintptr_t>(raw.data()) + kGuard;
  const uintptr_t aligned = (base + 63) & ~uintptr_t{63};
  unsigned char *out_data = reinterpret_cast<unsigned char *>(aligned + c.out_offset);
  const rotor_tensor in = rotor_tensor_bshd(const_cast<unsigned char *>(input.data()), c.dtype, c.batch, c.seq,
                                            c.heads, c.head_dim);
  const rotor_tensor out = c.out_bhsd ? rotor_tensor_bhsd(out_data, c.dtype, c.batch, c.seq, c.heads, c.head_dim)
                                      : rotor_tensor_bshd(out_data, c.dtype, c.batch, c.seq, c.heads, c.head_dim);
  EXPECT_EQ(rotor_apply_to(table, &in, &out, positions.data(), 0, ROTOR_FORWARD, pool), ROTOR_OK);
  rotor_pool_destroy(pool);
  const size_t start = size_t(out_data - raw.data()) - kGuard;
  return std::vector<unsigned char>(raw.begin() + int64_t(start), raw.begin() + int64_t(start + out_bytes + 2 * kGuard));
}

void expect_same_as_scalar(const char *kernel, const Case &c, const std::string &what) {
  const size_t elements = size_t(c.batch) * c.seq * c.heads * c.head_dim;
  const std::vector<unsigned char> input = random_elements(c.dtype, elements, 11 + c.head_dim);
  std::vector<int32_t> positions(size_t(c.batch) * c.seq);
  std::mt19937 rng(5);
  for (int32_t &p : positions) p = int32_t(rng() % 4000);
  const std::vector<unsigned char> expected = run_case("scalar", c, input, positions);
  const std::vector<unsigned char> actual = run_case(kernel, c, input, positions);
  ASSERT_EQ(expected.size(), actual.size());
  for (size_t i = 0; i < kGuard; ++i) {
    ASSERT_EQ(actual[i], kFill) << what << ": byte " << kGuard - i << " before the output written";
    ASSERT_EQ(actual[actual.size() - 1 - i], kFill) << what << ": byte " << i << " past the output written";
  }
  ASSERT_EQ(std::memcmp(expected.data(), actual.data(), expected.size()), 0) << what;
}

class OutOfPlaceByKernel : public ::testing::TestWithParam<const char *> {};

// Every path the write-out can take (direct for aligned outputs; for the others an aligned copy,
// or non-temporal stores when the threshold is 0), on every dtype, pairing, full and partial rotary dims, head
// sizes that are not whole cache lines, output offsets of one or a few elements, strided
// output heads, and one thread or a pool of two.
TEST_P(OutOfPlaceByKernel, EveryWriteOutPathMatchesScalar) {
  if (!kernel_available(GetParam())) GTEST_SKIP() << GetParam() << " not available on this CPU/build";
  const struct {
    uint32_t rotary_dim, head_dim;
  } kDims[] = {{128, 128}, {64, 80}, {6, 10}, {32, 34}};
  for (const uint64_t threshold : {UINT64_MAX, uint64_t{0}}) {
    StreamThreshold stream(threshold);
    for (const rotor_dtype dt : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
      for (const rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
        for (const auto &d : kDims) {
          for (const size_t offset_elements : {0, 1, 4, 7}) {
            for (const bool bhsd : {false, true}) {
              for (const uint32_t threads : {1u, 2u}) {
                const Case c{dt, pairing, d.rotary_dim, d.head_dim, 2, 29, 9, offset_elements * element_size(dt),
                             bhsd, threads};
                expect_same_as_scalar(GetParam(), c,
                                      "threshold " + std::to_string(threshold) + " dtype " + std::to_string(dt) +
                                          " pairing " + std::to_string(pairing) + " dims " +
                                          std::to_string(d.rotary_dim) + "/" + std::to_string(d.head_dim) +
                                          " offset " + std::to_string(offset_elements) + (bhsd ? " bhsd" : " bshd") +
                                          " threads " + std::to_string(threads));
              }
            }
          }
        }
      }
    }
    // Few tokens, many heads: the pool splits each token's heads between threads.
    const Case c{ROTOR_DTYPE_F32, ROTOR_PAIRING_HALF, 128, 128, 1, 2, 160, 4, false, 2};
    expect_same_as_scalar(GetParam(), c, "head chunks, threshold " + std::to_string(threshold));
  }
}

// The default threshold on an output large enough to stream (f32 [1, 2048, 32, 128], 32 MiB),
// 16 bytes past a line boundary (where numpy puts its arrays), on a pool of two threads.
TEST_P(OutOfPlaceByKernel, LargeOutputStreamsAndMatchesScalar) {
  if (!kernel_available(GetParam())) GTEST_SKIP() << GetParam() << " not available on this CPU/build";
  for (const rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
    const Case c{ROTOR_DTYPE_F32, pairing, 128, 128, 1, 2048, 32, 16, false, 2};
    expect_same_as_scalar(GetParam(), c, "large, pairing " + std::to_string(pairing));
  }
}

INSTANTIATE_TEST_SUITE_P(AllKernels, OutOfPlaceByKernel, ::testing::ValuesIn(rotor::known_kernel_names()),
                         [](const ::testing::TestParamInfo<const char *> &info) { return std::string(info.param); });

}  // namespace
