// Tests of rotor_cuda.h.
//
// Every build: the functions exist. Without CUDA they report UNSUPPORTED and touch nothing.
// CUDA builds without a GPU: the host-side parts that need no device (device count, creation
// failing cleanly) run; every test that needs a GPU is skipped with a message saying so (the
// choice of vector loads is tested in tests/cuda_host/, in every build). CUDA builds with a GPU: the kernels are compared with the host's
// rotor_apply on the same data (f32 within 2 ulp, f16/bf16 within 1 ulp of their type, every
// element of the buffer: gaps between heads, dims past rotary_dim and V of a fused QKV buffer
// must come back untouched), on random shapes, strides, positions, pairings, dtypes and
// directions; with an independent double-precision reference for f32; across growth,
// rescales and streams; and with device positions past the mirrored rows.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/half.hpp"
#include "support/cuda_case.hpp"
#include "support/reference.hpp"
#include "rotor/rotor_cuda.h"

#if defined(ROTOR_TEST_HAVE_CUDA)
#include <cuda_runtime_api.h>

#include "../cuda/launch.hpp"
#endif

namespace {

#if !defined(ROTOR_TEST_HAVE_CUDA)

TEST(Cuda, EveryFunctionReportsUnsupportedWithoutCuda) {
  rotor_config cfg = ref::config(8);
  ref::Table table(cfg);
  ASSERT_NE(table.t, nullptr);
  rotor_cuda_table *const sentinel = reinterpret_cast<rotor_cuda_table *>(uintptr_t{0x1000});
  rotor_cuda_table *mirror = sentinel;
  uint32_t count = 77, rows = 77, skipped = 77;
  int32_t position = 77;
  float data[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  rotor_tensor x = rotor_tensor_bshd(data, ROTOR_DTYPE_F32, 1, 1, 1, 8);
  EXPECT_EQ(rotor_cuda_device_count(&count), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(rotor_cuda_table_create(&mirror, table, nullptr), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(rotor_cuda_table_sync(sentinel, 4, nullptr), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(rotor_cuda_table_rows(sentinel, &rows), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(rotor_cuda_table_take_errors(sentinel, nullptr, &skipped, &position), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(rotor_cuda_apply(sentinel, &x, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_UNSUPPORTED);
  EXPECT_EQ(rotor_cuda_apply_qk(sentinel, &x, &x, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_UNSUPPORTED);
  rotor_cuda_table_destroy(nullptr);
  EXPECT_EQ(mirror, sentinel);
  EXPECT_EQ(count, 77u);
  EXPECT_EQ(rows, 77u);
  EXPECT_EQ(skipped, 77u);
  EXPECT_EQ(position, 77);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(data[i], float(i + 1));
}

#else  // ROTOR_TEST_HAVE_CUDA

using namespace cuda_case;
using rotor::cuda::DeviceTensor;
using rotor::cuda::vector_loads_ok;

uint32_t device_count() {
  uint32_t count = 0;
  return rotor_cuda_device_count(&count) == ROTOR_OK ? count : 0;
}

#define SKIP_WITHOUT_GPU()                                                                      \
  do {                                                                                          \
    if (device_count() == 0)                                                                    \
      GTEST_SKIP() << "no CUDA device visible (cudaGetDeviceCount reports none): this CUDA "    \
                      "build's GPU tests need a GPU; run rotor_tests on a machine with one";   \
  } while (0)

#define CUDA_OK(expr) ASSERT_EQ((expr), cudaSuccess) << cudaGetErrorString(expr)

TEST(CudaHost, DeviceCountAnswersWithOrWithoutAGpu) {
  uint32_t count = 12345;
  ASSERT_EQ(rotor_cuda_device_count(&count), ROTOR_OK);
  EXPECT_LT(count, 12345u);
  EXPECT_EQ(rotor_cuda_device_count(nullptr), ROTOR_ERR_INVALID_ARGUMENT);
}

TEST(CudaHost, NullArgumentsAreRejectedBeforeAnyDeviceWork) {
  rotor_config cfg = ref::config(8);
  ref::Table table(cfg);
  rotor_cuda_table *mirror = nullptr;
  uint32_t rows = 0, skipped = 0;
  float data[8] = {};
  rotor_tensor x = rotor_tensor_bshd(data, ROTOR_DTYPE_F32, 1, 1, 1, 8);
  EXPECT_EQ(rotor_cuda_table_create(nullptr, table, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_table_create(&mirror, nullptr, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(mirror, nullptr);
  EXPECT_EQ(rotor_cuda_table_sync(nullptr, 4, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_table_rows(nullptr, &rows), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_table_take_errors(nullptr, nullptr, &skipped, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_apply(nullptr, &x, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_apply_qk(nullptr, &x, nullptr, nullptr, 0, ROTOR_FORWARD, nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);
  rotor_cuda_table_destroy(nullptr);
}

TEST(CudaHost, CreateWithoutADeviceFailsCleanly) {
  if (device_count() != 0) GTEST_SKIP() << "a GPU is present: creation is covered by the GPU tests";
  rotor_config cfg = ref::config(8);
  ref::Table table(cfg);
  rotor_cuda_table *const sentinel = reinterpret_cast<rotor_cuda_table *>(uintptr_t{0x1000});
  rotor_cuda_table *mirror = sentinel;
  EXPECT_EQ(rotor_cuda_table_create(&mirror, table, nullptr), ROTOR_ERR_DEVICE);
  EXPECT_EQ(mirror, sentinel);
}

// ------------------------------------------------------------------------------------------
// GPU tests
// ------------------------------------------------------------------------------------------

// Device memory that frees itself.
struct DeviceBuffer {
  void *ptr = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    if (cudaMalloc(&ptr, bytes == 0 ? 1 : bytes) != cudaSuccess) ptr = nullptr;
  }
  ~DeviceBuffer() { cudaFree(ptr); }
  DeviceBuffer(const DeviceBuffer &) = delete;
  DeviceBuffer &operator=(const DeviceBuffer &) = delete;
};

class CudaGpu : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_GPU();
    ASSERT_EQ(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), cudaSuccess);
  }
  void TearDown() override {
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  // Copies host bytes to a device buffer, runs fn(device base), copies them back.
  template <typename Fn>
  std::vector<unsigned char> on_device(const std::vector<unsigned char> &host, Fn fn, rotor_status expect = ROTOR_OK) {
    DeviceBuffer buffer(host.size());
    EXPECT_NE(buffer.ptr, nullptr);
    std::vector<unsigned char> back(host.size());
    if (buffer.ptr == nullptr) return back;
    EXPECT_EQ(cudaMemcpyAsync(buffer.ptr, host.data(), host.size(), cudaMemcpyHostToDevice, stream_), cudaSuccess);
    EXPECT_EQ(fn(buffer.ptr), expect);
    EXPECT_EQ(cudaMemcpyAsync(back.data(), buffer.ptr, host.size(), cudaMemcpyDeviceToHost, stream_), cudaSuccess);
    EXPECT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
    return back;
  }

  cudaStream_t stream_ = nullptr;
};

TEST_F(CudaGpu, MatchesHostApplyOnRandomCases) {
  std::mt19937 rng(20261123);
  int vector_cases = 0, element_cases = 0;
  int64_t worst[3] = {0, 0, 0};  // largest distance seen per dtype (the design expects 0)
  for (int iteration = 0; iteration < 120; ++iteration) {
    const RandomCall call(rng, stream_);
    const Case &c = call.c;
    SCOPED_TRACE(c.describe);
    ASSERT_EQ(call.problem, "");
    const std::vector<unsigned char> expected = call.expected();  // rotor_apply(_qk) on the host
    ASSERT_FALSE(expected.empty()) << "the host refused the call";
    DeviceBuffer device_pos(call.positions.size() * sizeof(int32_t));
    ASSERT_EQ(cudaMemcpy(device_pos.ptr, call.positions.data(), call.positions.size() * 4, cudaMemcpyHostToDevice),
              cudaSuccess);
    const int32_t *pos_dev = call.device_positions ? static_cast<const int32_t *>(device_pos.ptr) : nullptr;

    const auto got = on_device(call.original, [&](void *base) {
      auto vec_ok = [&](const rotor_tensor &view) {
        const rotor_tensor v = at(view, base);
        return vector_loads_ok(DeviceTensor{v.data, v.stride_batch, v.stride_seq, v.stride_head, v.heads}, c.dtype,
                               c.pairing, c.rotary_dim / 2);
      };
      (vec_ok(c.q) && (!c.qk || vec_ok(c.k)) ? vector_cases : element_cases)++;
      return apply_on_mirror(call.mirror.t, c, base, pos_dev, call.offset, call.dir, stream_);
    });
    size_t where = 0;
    const int64_t ulps = max_ulps(c.dtype, got, expected, &where);
    EXPECT_LE(ulps, allowed_ulps(c.dtype)) << "element " << where;
    worst[c.dtype] = std::max(worst[c.dtype], ulps);
    EXPECT_EQ(call.mirror.take_skipped(stream_), 0u);
  }
  // Both code paths of the kernels were exercised.
  EXPECT_GT(vector_cases, 5);
  EXPECT_GT(element_cases, 5);
  std::printf("[   info   ] %d vector / %d element cases; largest distance from the host: f32 %lld ulp, "
              "f16 %lld ulp, bf16 %lld ulp\n",
              vector_cases, element_cases, static_cast<long long>(worst[0]), static_cast<long long>(worst[1]),
              static_cast<long long>(worst[2]));
}

// f32 against the test's own double-precision rotation with the exact frequencies: the error
// is that of float arithmetic on table rows accurate to 1 ulp (or 2^-26 near zeros).
TEST_F(CudaGpu, F32MatchesIndependentDoubleReference) {
  for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
    const uint32_t d = 64, r = 48, s = 300, h = 3;
    rotor_config cfg = ref::config(r, pairing, 4096, 16);
    ref::Table table(cfg);
    MirrorHandle mirror(table, stream_);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    std::vector<float> x = ref::random_floats(size_t(s) * h * d, 7 + pairing);
    std::vector<unsigned char> bytes(x.size() * 4);
    std::memcpy(bytes.data(), x.data(), bytes.size());
    const uint32_t offset = 3000;
    const auto got = on_device(bytes, [&](void *base) {
      rotor_tensor v = rotor_tensor_bshd(base, ROTOR_DTYPE_F32, 1, s, h, d);
      return rotor_cuda_apply(mirror.t, &v, nullptr, offset, ROTOR_FORWARD, stream_);
    });
    std::vector<float> y(x.size());
    std::memcpy(y.data(), got.data(), got.size());
    const std::vector<double> freqs = ref::plain_freqs(cfg.base, r);
    for (uint32_t t = 0; t < s; ++t)
      for (uint32_t hh = 0; hh < h; ++hh) {
        const size_t base = (size_t(t) * h + hh) * d;
        std::vector<double> head(x.begin() + long(base), x.begin() + long(base + d));
        const std::vector<double> in = head;
        ref::rotate_head(head, r, pairing, freqs, double(offset + t), false);
        for (uint32_t i = 0; i < r / 2; ++i) {
          uint32_t ia, ib;
          ref::pair_dims(pairing, r, i, &ia, &ib);
          const double scale = std::fabs(in[ia]) + std::fabs(in[ib]);
          // Rows within 1 ulp, two products and a sum rounded in float: 4 * 2^-24 of the
          // inputs' size; with a margin, and 2^-26 absolute for rows near a zero.
          const double bound = scale * (6.0 * 0x1p-24 + 0x1p-25);
          ASSERT_NEAR(y[base + ia], head[ia], bound) << "token " << t << " pair " << i;
          ASSERT_NEAR(y[base + ib], head[ib], bound) << "token " << t << " pair " << i;
        }
        for (uint32_t i = r; i < d; ++i) ASSERT_EQ(y[base + i], x[base + i]);
      }
  }
}

// Unit pairs (1, 0) come back as (cos, sin): the mirror's rows read through the kernel equal
// the host table's rows bit for bit, for every position it holds, scaled tables included.
TEST_F(CudaGpu, MirrorRowsEqualHostRows) {
  for (rotor_scaling scaling : {ROTOR_SCALING_NONE, ROTOR_SCALING_YARN}) {
    const uint32_t r = 32, rows = 1024;
    rotor_config cfg = ref::config(r, ROTOR_PAIRING_HALF, 4096, 16);
    cfg.scaling = scaling;
    if (scaling == ROTOR_SCALING_YARN) {
      cfg.factor = 4.0f;
      cfg.original_max_len = 1024;
    }
    ref::Table table(cfg);
    ASSERT_NE(table.t, nullptr);
    MirrorHandle mirror(table, stream_);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    std::vector<float> x(size_t(rows) * r, 0.0f);
    for (uint32_t p = 0; p < rows; ++p)
      for (uint32_t i = 0; i < r / 2; ++i) x[size_t(p) * r + i] = 1.0f;
    std::vector<unsigned char> bytes(x.size() * 4);
    std::memcpy(bytes.data(), x.data(), bytes.size());
    const auto got = on_device(bytes, [&](void *base) {
      rotor_tensor v = rotor_tensor_bshd(base, ROTOR_DTYPE_F32, 1, rows, 1, r);
      return rotor_cuda_apply(mirror.t, &v, nullptr, 0, ROTOR_FORWARD, stream_);
    });
    std::vector<float> cos(size_t(rows) * r / 2), sin(cos.size());
    ASSERT_EQ(rotor_table_cos_sin(table, 0, rows, ROTOR_DTYPE_F32, 0, cos.data(), sin.data()), ROTOR_OK);
    std::vector<float> y(x.size());
    std::memcpy(y.data(), got.data(), got.size());
    for (uint32_t p = 0; p < rows; ++p)
      for (uint32_t i = 0; i < r / 2; ++i) {
        ASSERT_EQ(y[size_t(p) * r + i], cos[size_t(p) * r / 2 + i]) << "position " << p;
        ASSERT_EQ(y[size_t(p) * r + r / 2 + i], sin[size_t(p) * r / 2 + i]) << "position " << p;
      }
  }
}

// The mirror follows the host table: offset calls grow it, rows published on the host by
// rotor_table_reserve are copied by the next call, and calls on another stream see them.
TEST_F(CudaGpu, FollowsHostGrowthAcrossCallsAndStreams) {
  const uint32_t r = 64, d = 64, h = 2;
  rotor_config cfg = ref::config(r, ROTOR_PAIRING_HALF, 8192, 16);
  cfg.growth = ROTOR_GROWTH_EXACT;
  ref::Table table(cfg);
  MirrorHandle mirror(table, stream_);
  ASSERT_EQ(mirror.status, ROTOR_OK);
  EXPECT_EQ(mirror.rows(), table.stats().rows);
  cudaStream_t other = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking), cudaSuccess);
  std::mt19937 rng(5);
  const uint32_t offsets[] = {0, 10, 100, 1000, 5000, 20, 8000};
  for (int step = 0; step < 7; ++step) {
    const uint32_t s = 1 + uint32_t(rng() % 100), offset = std::min<uint32_t>(offsets[step], 8192 - s);
    const cudaStream_t use = step % 2 ? other : stream_;
    const auto original = random_bytes(ROTOR_DTYPE_BF16, size_t(s) * h * d, rng);
    std::vector<unsigned char> expected = original;
    rotor_tensor hv = rotor_tensor_bshd(expected.data(), ROTOR_DTYPE_BF16, 1, s, h, d);
    DeviceBuffer buf(original.size());
    ASSERT_EQ(cudaMemcpy(buf.ptr, original.data(), original.size(), cudaMemcpyHostToDevice), cudaSuccess);
    rotor_tensor dv = rotor_tensor_bshd(buf.ptr, ROTOR_DTYPE_BF16, 1, s, h, d);
    ASSERT_EQ(rotor_cuda_apply(mirror.t, &dv, nullptr, offset, ROTOR_FORWARD, use), ROTOR_OK);
    EXPECT_GE(mirror.rows(), offset + s);
    EXPECT_EQ(mirror.rows(), table.stats().rows) << "the mirror holds every row the host published";
    ASSERT_EQ(rotor_apply(table, &hv, nullptr, offset, ROTOR_FORWARD, nullptr), ROTOR_OK);
    std::vector<unsigned char> got(original.size());
    ASSERT_EQ(cudaMemcpyAsync(got.data(), buf.ptr, got.size(), cudaMemcpyDeviceToHost, use), cudaSuccess);
    ASSERT_EQ(cudaStreamSynchronize(use), cudaSuccess);
    size_t where = 0;
    EXPECT_LE(max_ulps(ROTOR_DTYPE_BF16, got, expected, &where), 1) << "step " << step << " element " << where;
  }
  // Rows the host publishes on its own are copied by the next call, device positions included.
  ASSERT_EQ(rotor_table_reserve(table, 8192), ROTOR_OK);
  const int32_t last = 8191;
  DeviceBuffer pos(sizeof last), buf(size_t(h) * d * 2);
  ASSERT_EQ(cudaMemcpy(pos.ptr, &last, sizeof last, cudaMemcpyHostToDevice), cudaSuccess);
  ASSERT_EQ(cudaMemset(buf.ptr, 0, size_t(h) * d * 2), cudaSuccess);
  rotor_tensor dv = rotor_tensor_bshd(buf.ptr, ROTOR_DTYPE_F16, 1, 1, h, d);
  ASSERT_EQ(rotor_cuda_apply(mirror.t, &dv, static_cast<const int32_t *>(pos.ptr), 0, ROTOR_FORWARD, other),
            ROTOR_OK);
  EXPECT_EQ(mirror.rows(), 8192u);
  uint32_t skipped = 1;
  EXPECT_EQ(rotor_cuda_table_take_errors(mirror.t, other, &skipped, nullptr), ROTOR_OK);
  EXPECT_EQ(skipped, 0u);
  cudaStreamDestroy(other);
}

// Adaptive scaling: each rescale of the host table makes the mirror copy the new rows; NTK
// outliers (a one-off row set) are copied for their call and replaced by the table's own after.
TEST_F(CudaGpu, FollowsRescalesAndOneOffRows) {
  for (Rescaling setup :
       {Rescaling{ROTOR_SCALING_DYNAMIC_NTK, 0}, Rescaling{ROTOR_SCALING_NTK, 0}, Rescaling{ROTOR_SCALING_NTK, 1}}) {
    SCOPED_TRACE(describe(setup));
    const uint32_t r = 32, d = 32, h = 2;
    ref::Table table(rescaling_config(r, ROTOR_PAIRING_INTERLEAVED, setup));
    ASSERT_NE(table.t, nullptr);
    MirrorHandle mirror(table, stream_);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    std::mt19937 rng(11);
    // Short, long (past original_max_len * factor: a rescale or an outlier), short again, long.
    const uint32_t ends[] = {100, 1500, 50, 3000, 200};
    for (uint32_t end : ends) {
      const uint32_t s = 40, offset = end - s;
      const auto original = random_bytes(ROTOR_DTYPE_F32, size_t(s) * h * d, rng);
      const auto got = on_device(original, [&](void *base) {
        rotor_tensor v = rotor_tensor_bshd(base, ROTOR_DTYPE_F32, 1, s, h, d);
        return rotor_cuda_apply(mirror.t, &v, nullptr, offset, ROTOR_FORWARD, stream_);
      });
      // The same call on the host leases the same rows (the GPU call adopted any new scale).
      std::vector<unsigned char> expected = original;
      rotor_tensor hv = rotor_tensor_bshd(expected.data(), ROTOR_DTYPE_F32, 1, s, h, d);
      ASSERT_EQ(rotor_apply(table, &hv, nullptr, offset, ROTOR_FORWARD, nullptr), ROTOR_OK);
      size_t where = 0;
      EXPECT_LE(max_ulps(ROTOR_DTYPE_F32, got, expected, &where), 2) << "end " << end << " element " << where;
    }
  }
}

// Device positions outside [0, rows held) leave their token unchanged in every head of Q and
// K, are counted once per token, and never make the kernel read past the mirrored rows.
TEST_F(CudaGpu, DevicePositionsPastTheMirrorAreSkippedAndReported) {
  const PastTheMirror past(stream_);
  ASSERT_EQ(past.mirror.status, ROTOR_OK);
  ASSERT_EQ(past.held, 16);
  const MirrorHandle &mirror = past.mirror;
  const uint32_t held = uint32_t(past.held), s = past.s, d = past.d, hq = past.hq, hk = past.hk;
  const std::vector<int32_t> &positions = past.positions;
  const std::vector<bool> &bad = past.bad;
  std::mt19937 rng(3);
  const size_t q_elems = past.q_elems();
  const auto original = random_bytes(ROTOR_DTYPE_F16, past.elems(), rng);
  DeviceBuffer pos(positions.size() * 4);
  ASSERT_EQ(cudaMemcpy(pos.ptr, positions.data(), positions.size() * 4, cudaMemcpyHostToDevice), cudaSuccess);
  const int32_t *pos_dev = static_cast<const int32_t *>(pos.ptr);

  auto run = [&]() {
    return on_device(original, [&](void *base) {
      rotor_tensor q = past.q_at(base, ROTOR_DTYPE_F16), k = past.k_at(base, ROTOR_DTYPE_F16);
      return rotor_cuda_apply_qk(mirror.t, &q, &k, pos_dev, 0, ROTOR_FORWARD, stream_);
    });
  };
  const auto got = run();
  EXPECT_EQ(mirror.rows(), held) << "device positions grow nothing";
  uint32_t skipped = 0;
  int32_t position = 0;
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, stream_, &skipped, &position), ROTOR_OK);
  EXPECT_EQ(skipped, 3u + 1u);  // held, -5, 4000, INT32_MIN: once per token, not per head or tensor
  EXPECT_TRUE(position == int32_t(held) || position == -5 || position == 4000 || position == INT32_MIN) << position;
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, stream_, &skipped, &position), ROTOR_OK);
  EXPECT_EQ(skipped, 0u) << "taking clears the record";
  EXPECT_EQ(position, -1);

  // Good tokens match the host (whose rows at those positions are the same); bad ones are
  // bit for bit the input.
  const std::vector<unsigned char> expected = past.expected(original, ROTOR_DTYPE_F16);
  ASSERT_FALSE(expected.empty());
  for (uint32_t t = 0; t < s; ++t) {
    for (uint32_t part = 0; part < 2; ++part) {
      const uint32_t heads = part == 0 ? hq : hk;
      const size_t first = (part == 0 ? 0 : q_elems) + size_t(t) * heads * d;
      const size_t bytes = size_t(heads) * d * 2;
      if (bad[t]) {
        EXPECT_EQ(std::memcmp(got.data() + first * 2, original.data() + first * 2, bytes), 0)
            << "skipped token " << t << (part == 0 ? " Q" : " K") << " was modified";
      } else {
        const std::vector<unsigned char> a(got.begin() + long(first * 2), got.begin() + long(first * 2 + bytes));
        const std::vector<unsigned char> b(expected.begin() + long(first * 2),
                                           expected.begin() + long(first * 2 + bytes));
        size_t where = 0;
        EXPECT_LE(max_ulps(ROTOR_DTYPE_F16, a, b, &where), 1) << "token " << t << (part == 0 ? " Q" : " K");
      }
    }
  }

  // After a sync that covers 4001 rows only the negative positions are still skipped.
  ASSERT_EQ(rotor_cuda_table_sync(mirror.t, 4001, stream_), ROTOR_OK);
  EXPECT_GE(mirror.rows(), 4001u);
  run();
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, stream_, &skipped, &position), ROTOR_OK);
  EXPECT_EQ(skipped, 2u);
  EXPECT_LT(position, 0);
}

TEST_F(CudaGpu, InvalidCallsChangeNothing) {
  const InvalidCalls calls(stream_);
  ASSERT_EQ(calls.mirror.status, ROTOR_OK);
  const MirrorHandle &mirror = calls.mirror;
  const std::vector<unsigned char> &original = calls.original;
  DeviceBuffer pos(64);
  const auto got = on_device(original, [&](void *base) {
    const InvalidCalls::Views v = InvalidCalls::views(base);
    const rotor_tensor &q = v.q, &k = v.k, &narrow = v.narrow, &shifted = v.shifted, &shorter = v.shorter,
                       &other_type = v.other_type, &bad_dtype = v.bad_dtype;
    const int32_t *odd = reinterpret_cast<const int32_t *>(static_cast<char *>(pos.ptr) + 2);
    int failures = 0;
    auto expect = [&](rotor_status got_status, rotor_status want) {
      EXPECT_EQ(got_status, want);
      failures += got_status != want;
    };
    expect(rotor_cuda_apply(mirror.t, nullptr, nullptr, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply(mirror.t, &q, nullptr, 0, rotor_direction(2), stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply(mirror.t, &narrow, nullptr, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply(mirror.t, &bad_dtype, nullptr, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply(mirror.t, &q, odd, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply(mirror.t, &q, nullptr, 61, ROTOR_FORWARD, stream_), ROTOR_ERR_OUT_OF_RANGE);
    expect(rotor_cuda_apply_qk(mirror.t, &q, &shifted, nullptr, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply_qk(mirror.t, &q, &shorter, nullptr, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply_qk(mirror.t, &q, &other_type, nullptr, 0, ROTOR_FORWARD, stream_),
           ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply_qk(mirror.t, &q, nullptr, nullptr, 0, ROTOR_FORWARD, stream_), ROTOR_ERR_INVALID_ARGUMENT);
    expect(rotor_cuda_apply_qk(mirror.t, &q, &k, nullptr, 61, ROTOR_FORWARD, stream_), ROTOR_ERR_OUT_OF_RANGE);
    // The last valid offset works (and is the only call here that writes).
    return failures == 0 ? rotor_cuda_apply(mirror.t, &q, nullptr, 60, ROTOR_FORWARD, stream_) : ROTOR_ERR_DEVICE;
  });
  EXPECT_EQ(rotor_cuda_table_sync(mirror.t, 0, stream_), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_table_sync(mirror.t, 65, stream_), ROTOR_ERR_OUT_OF_RANGE);
  // Only q (rotated at offset 60) changed; k is untouched.
  const size_t k_bytes = InvalidCalls::q_elems * 4;
  EXPECT_EQ(std::memcmp(got.data() + k_bytes, original.data() + k_bytes, k_bytes), 0);
  std::vector<unsigned char> expected = original;
  const rotor_tensor hq = InvalidCalls::views(expected.data()).q;
  ASSERT_EQ(rotor_apply(calls.table, &hq, nullptr, 60, ROTOR_FORWARD, nullptr), ROTOR_OK);
  size_t where = 0;
  EXPECT_LE(max_ulps(ROTOR_DTYPE_F32, got, expected, &where), 2);
}

// A decode step (1 token, Q and K) in the steady state is exactly one kernel launch and nothing
// else: captured into a CUDA graph (where a host synchronisation or a copy from pageable memory
// would fail the capture) it gives a graph of one kernel node.
TEST_F(CudaGpu, DecodeStepIsOneKernelLaunch) {
  const uint32_t r = 128, d = 128, hq = 32, hk = 8;
  ref::Table table(ref::config(r, ROTOR_PAIRING_HALF, 4096, 16));
  MirrorHandle mirror(table, stream_);
  ASSERT_EQ(mirror.status, ROTOR_OK);
  ASSERT_EQ(rotor_cuda_table_sync(mirror.t, 4096, stream_), ROTOR_OK);  // every row copied up front
  DeviceBuffer q(size_t(hq) * d * 2), k(size_t(hk) * d * 2);
  ASSERT_EQ(cudaMemsetAsync(q.ptr, 0x3c, size_t(hq) * d * 2, stream_), cudaSuccess);
  ASSERT_EQ(cudaMemsetAsync(k.ptr, 0x3c, size_t(hk) * d * 2, stream_), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream_), cudaSuccess);
  rotor_tensor qt = rotor_tensor_bshd(q.ptr, ROTOR_DTYPE_F16, 1, 1, hq, d);
  rotor_tensor kt = rotor_tensor_bshd(k.ptr, ROTOR_DTYPE_F16, 1, 1, hk, d);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeRelaxed), cudaSuccess);
  const rotor_status status = rotor_cuda_apply_qk(mirror.t, &qt, &kt, nullptr, 4000, ROTOR_FORWARD, stream_);
  ASSERT_EQ(cudaStreamEndCapture(stream_, &graph), cudaSuccess);
  EXPECT_EQ(status, ROTOR_OK);
  size_t nodes = 0;
  ASSERT_EQ(cudaGraphGetNodes(graph, nullptr, &nodes), cudaSuccess);
  ASSERT_EQ(nodes, 1u);
  cudaGraphNode_t node;
  ASSERT_EQ(cudaGraphGetNodes(graph, &node, &nodes), cudaSuccess);
  cudaGraphNodeType type;
  ASSERT_EQ(cudaGraphNodeGetType(node, &type), cudaSuccess);
  EXPECT_EQ(type, cudaGraphNodeTypeKernel);
  cudaGraphDestroy(graph);
}

// Forward then inverse on the device gives back the input to within rounding.
TEST_F(CudaGpu, InverseUndoesForward) {
  const uint32_t r = 128, d = 128, s = 64, h = 8;
  ref::Table table(ref::config(r, ROTOR_PAIRING_HALF, 4096, 16));
  MirrorHandle mirror(table, stream_);
  ASSERT_EQ(mirror.status, ROTOR_OK);
  std::vector<float> x = ref::random_floats(size_t(s) * h * d, 99);
  std::vector<unsigned char> bytes(x.size() * 4);
  std::memcpy(bytes.data(), x.data(), bytes.size());
  const auto got = on_device(bytes, [&](void *base) {
    rotor_tensor v = rotor_tensor_bshd(base, ROTOR_DTYPE_F32, 1, s, h, d);
    const rotor_status st = rotor_cuda_apply(mirror.t, &v, nullptr, 2000, ROTOR_FORWARD, stream_);
    return st != ROTOR_OK ? st : rotor_cuda_apply(mirror.t, &v, nullptr, 2000, ROTOR_INVERSE, stream_);
  });
  std::vector<float> y(x.size());
  std::memcpy(y.data(), got.data(), got.size());
  for (size_t i = 0; i < x.size(); ++i) ASSERT_NEAR(y[i], x[i], 4e-6f * 4.0f) << i;
}

#endif  // ROTOR_TEST_HAVE_CUDA

}  // namespace
