// The mirror's decisions and every rotor_cuda_* entry point's validation and bookkeeping, run
// against the host stand-in for the device: which rows are copied after growth or a rescale,
// when a stream waits, what is synchronised, the error record's read-back, every status of
// rotor_cuda.h, nothing written and nothing leaked on error.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "support/cuda_case.hpp"
#include "host_fixture.hpp"
#include "support/reference.hpp"

namespace {

using cuda_case::random_bytes;
using host_device::HostDevice;

void *const kStreamA = reinterpret_cast<void *>(uintptr_t{0xa000});
void *const kStreamB = reinterpret_cast<void *>(uintptr_t{0xb000});

// Bytes of rows [first, end) of a mirror of rotary dim r.
size_t row_bytes(uint32_t rows, uint32_t r) { return size_t(rows) * r * sizeof(float); }

// The one copy of table rows the last call made: its first row and row count.
struct RowCopy {
  uint32_t first, count;
};
std::vector<RowCopy> row_copies(const HostDevice &device, const float *rows_base, uint32_t r) {
  std::vector<RowCopy> out;
  for (const host_device::Copy &c : device.copies_to_device) {
    const auto offset = static_cast<const float *>(c.dst) - rows_base;
    if (c.bytes == 2 * sizeof(rotor::cuda::ErrorRecord)) continue;  // the error record
    out.push_back(RowCopy{uint32_t(offset / r), uint32_t(c.bytes / row_bytes(1, r))});
  }
  return out;
}

TEST_F(CudaOnHost, DeviceCountComesFromTheDevice) {
  uint32_t count = 77;
  device.device_count = 3;
  ASSERT_EQ(rotor_cuda_device_count(&count), ROTOR_OK);
  EXPECT_EQ(count, 3u);
  device.device_count = 0;
  ASSERT_EQ(rotor_cuda_device_count(&count), ROTOR_OK);
  EXPECT_EQ(count, 0u);
  EXPECT_EQ(rotor_cuda_device_count(nullptr), ROTOR_ERR_INVALID_ARGUMENT);
}

TEST_F(CudaOnHost, CreateCopiesTheHostRowsAndDestroyFreesEverything) {
  const uint32_t r = 32;
  ref::Table table(ref::config(r, ROTOR_PAIRING_HALF, 4096, 64));
  {
    MirrorHandle mirror(table, kStreamA);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    EXPECT_EQ(mirror.rows(), table.stats().rows);
    EXPECT_EQ(device.calls[host_device::kAlloc], 2);  // rows for max_len, the error record
    EXPECT_EQ(device.calls[host_device::kEventCreate], 1);
    EXPECT_EQ(device.calls[host_device::kStreamSync], 0) << "creation does not synchronise";
    ASSERT_EQ(device.copies_to_device.size(), 2u);  // the error record, then the rows
    EXPECT_TRUE(device.inside_allocation(device.copies_to_device[1].dst, row_bytes(4096, r)));
    EXPECT_EQ(device.copies_to_device[1].bytes, row_bytes(table.stats().rows, r));
    EXPECT_EQ(device.copies_to_device[1].stream, kStreamA);
    // The copied rows are the host table's, bit for bit.
    const uint32_t rows = mirror.rows();
    std::vector<float> cos(size_t(rows) * r / 2), sin(cos.size());
    ASSERT_EQ(rotor_table_cos_sin(table, 0, rows, ROTOR_DTYPE_F32, 0, cos.data(), sin.data()), ROTOR_OK);
    const float *dev = static_cast<const float *>(device.copies_to_device[1].dst);
    for (uint32_t p = 0; p < rows; ++p)
      for (uint32_t i = 0; i < r / 2; ++i) {
        ASSERT_EQ(std::memcmp(&dev[size_t(p) * r + i], &cos[size_t(p) * r / 2 + i], 4), 0);
        ASSERT_EQ(std::memcmp(&dev[size_t(p) * r + r / 2 + i], &sin[size_t(p) * r / 2 + i], 4), 0);
      }
  }
  EXPECT_EQ(device.live_allocations(), 0u) << "destroy frees rows, error record and event";
  rotor_cuda_table_destroy(nullptr);
}

// Every way creation can fail: its status, *out untouched, nothing left allocated.
TEST_F(CudaOnHost, CreateFailuresReportTheirStatusAndLeakNothing) {
  ref::Table table(ref::config(16, ROTOR_PAIRING_HALF, 1024, 16));
  struct Failure {
    host_device::Op op;
    int after;
    rotor_status want;
  };
  const Failure failures[] = {
      {host_device::kAlloc, 0, ROTOR_ERR_OUT_OF_MEMORY},      // the rows
      {host_device::kAlloc, 1, ROTOR_ERR_OUT_OF_MEMORY},      // the error record
      {host_device::kCurrentDevice, 0, ROTOR_ERR_DEVICE},
      {host_device::kEventCreate, 0, ROTOR_ERR_DEVICE},
      {host_device::kCopyToDevice, 0, ROTOR_ERR_DEVICE},      // the error record's reset
      {host_device::kCopyToDevice, 1, ROTOR_ERR_DEVICE},      // the first rows
      {host_device::kEventRecord, 0, ROTOR_ERR_DEVICE},
  };
  rotor_cuda_table *const sentinel = reinterpret_cast<rotor_cuda_table *>(uintptr_t{0x1000});
  for (const Failure &f : failures) {
    SCOPED_TRACE(::testing::Message() << "op " << f.op << " after " << f.after);
    device.fail(f.op, f.after);
    rotor_cuda_table *out = sentinel;
    EXPECT_EQ(rotor_cuda_table_create(&out, table, kStreamA), f.want);
    EXPECT_EQ(out, sentinel);
    EXPECT_EQ(device.live_allocations(), 0u);
  }
  device.fail_with(host_device::kAlloc, 0, ROTOR_ERR_DEVICE);  // an allocation error that is not "out of memory"
  rotor_cuda_table *out = sentinel;
  EXPECT_EQ(rotor_cuda_table_create(&out, table, kStreamA), ROTOR_ERR_DEVICE);
  device.device_count = 0;
  EXPECT_EQ(rotor_cuda_table_create(&out, table, kStreamA), ROTOR_ERR_DEVICE);
  EXPECT_EQ(out, sentinel);
  EXPECT_EQ(device.live_allocations(), 0u);
}

// Growth between calls: an offset call copies exactly the rows the host table published past
// those held; a steady-state call copies nothing and is one launch; rows the host publishes on
// its own (rotor_table_reserve) are copied by the next call, device positions included.
TEST_F(CudaOnHost, GrowthCopiesOnlyTheNewRows) {
  const uint32_t r = 16, d = 16, h = 2;
  rotor_config cfg = cuda_case::on_demand_config(r, ROTOR_PAIRING_INTERLEAVED, 8192, 16);
  ref::Table table(cfg);
  MirrorHandle mirror(table, kStreamA);
  ASSERT_EQ(mirror.status, ROTOR_OK);
  const float *rows_base = static_cast<const float *>(device.copies_to_device.back().dst);
  std::mt19937 rng(9);
  uint32_t held = mirror.rows();
  const uint32_t ends[] = {10, 16, 100, 100, 5000, 40, 8192};
  for (uint32_t end : ends) {
    SCOPED_TRACE(end);
    const uint32_t s = 8, offset = end - s;
    auto data = random_bytes(ROTOR_DTYPE_F32, size_t(s) * h * d, rng);
    const auto original = data;
    rotor_tensor x = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_F32, 1, s, h, d);
    device.clear_log();
    ASSERT_EQ(rotor_cuda_apply(mirror.t, &x, nullptr, offset, ROTOR_FORWARD, kStreamA), ROTOR_OK);
    const uint32_t published = table.stats().rows;
    EXPECT_EQ(mirror.rows(), published);
    const auto copies = row_copies(device, rows_base, r);
    if (published > held) {
      ASSERT_EQ(copies.size(), 1u);
      EXPECT_EQ(copies[0].first, held);
      EXPECT_EQ(copies[0].count, published - held);
      EXPECT_EQ(device.calls[host_device::kEventRecord], 1);
    } else {
      EXPECT_TRUE(copies.empty()) << "steady state: nothing to copy";
      EXPECT_EQ(device.calls[host_device::kEventRecord], 0);
    }
    EXPECT_EQ(device.launches.size(), 1u);
    EXPECT_EQ(device.calls[host_device::kStreamSync], 0);
    EXPECT_TRUE(device.waits.empty()) << "one stream: no waits";
    held = published;
    std::vector<unsigned char> expected = original;
    rotor_tensor e = rotor_tensor_bshd(expected.data(), ROTOR_DTYPE_F32, 1, s, h, d);
    ASSERT_EQ(rotor_apply(table, &e, nullptr, offset, ROTOR_FORWARD, nullptr), ROTOR_OK);
    EXPECT_TRUE(data == expected) << "results differ from rotor_apply";
  }
  // Reserve on the host, then a device-position call at the last row: the call copies first.
  rotor_config small = cfg;
  ref::Table table2(small);
  MirrorHandle mirror2(table2, kStreamA);
  ASSERT_EQ(mirror2.status, ROTOR_OK);
  const float *rows2 = static_cast<const float *>(device.copies_to_device.back().dst);
  ASSERT_EQ(mirror2.rows(), 16u);
  ASSERT_EQ(rotor_table_reserve(table2, 8192), ROTOR_OK);
  EXPECT_EQ(mirror2.rows(), 16u) << "the mirror learns of host rows at its next call";
  device.clear_log();
  const int32_t last = 8191;
  std::vector<float> one(size_t(h) * d, 1.0f);
  rotor_tensor x = rotor_tensor_bshd(one.data(), ROTOR_DTYPE_F32, 1, 1, h, d);
  ASSERT_EQ(rotor_cuda_apply(mirror2.t, &x, &last, 0, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  const auto copies = row_copies(device, rows2, r);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].first, 16u);
  EXPECT_EQ(copies[0].count, 8192u - 16u);
  uint32_t skipped = 1;
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror2.t, kStreamA, &skipped, nullptr), ROTOR_OK);
  EXPECT_EQ(skipped, 0u);
}

// Rescales between calls: a new epoch makes the next call copy every row again; NTK one-off
// rows (an outlier under ntk_dynamic = 0) are copied for their call and replaced after. Each
// call's results equal the host's for the same call.
TEST_F(CudaOnHost, RescalesAndOneOffRowsAreCopiedWhole) {
  using cuda_case::Rescaling;
  for (Rescaling setup : {Rescaling{ROTOR_SCALING_DYNAMIC_NTK, 0}, Rescaling{ROTOR_SCALING_NTK, 0},
                          Rescaling{ROTOR_SCALING_NTK, 1}, Rescaling{ROTOR_SCALING_LONGROPE, 0}}) {
    SCOPED_TRACE(cuda_case::describe(setup));
    const uint32_t r = 32, d = 32, h = 2;
    rotor_config cfg = cuda_case::rescaling_config(r, ROTOR_PAIRING_HALF, setup);
    std::vector<float> short_factor(r / 2, 1.0f), long_factor(r / 2, 3.0f);
    if (setup.scaling == ROTOR_SCALING_LONGROPE) {
      cfg.short_factor = short_factor.data();
      cfg.long_factor = long_factor.data();
    }
    ref::Table table(cfg);
    ASSERT_NE(table.t, nullptr);
    MirrorHandle mirror(table, kStreamA);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    const float *rows_base = static_cast<const float *>(device.copies_to_device.back().dst);
    std::mt19937 rng(11);
    int full_copies = 0;
    const uint32_t ends[] = {100, 1500, 50, 3000, 200, 200};
    for (uint32_t end : ends) {
      SCOPED_TRACE(end);
      const uint32_t s = 40, offset = end - s;
      auto data = random_bytes(ROTOR_DTYPE_BF16, size_t(s) * h * d, rng);
      std::vector<unsigned char> expected = data;
      rotor_tensor x = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_BF16, 1, s, h, d);
      device.clear_log();
      ASSERT_EQ(rotor_cuda_apply(mirror.t, &x, nullptr, offset, ROTOR_FORWARD, kStreamA), ROTOR_OK);
      for (const auto &copy : row_copies(device, rows_base, r)) full_copies += copy.first == 0;
      rotor_tensor e = rotor_tensor_bshd(expected.data(), ROTOR_DTYPE_BF16, 1, s, h, d);
      ASSERT_EQ(rotor_apply(table, &e, nullptr, offset, ROTOR_FORWARD, nullptr), ROTOR_OK);
      EXPECT_TRUE(data == expected) << "results differ from rotor_apply";
    }
    EXPECT_GE(full_copies, 1) << "a rescale or one-off set is copied from row 0";
  }
}

// A host table in page-locked memory (cudaHostAlloc; common on Jetson): a copy from it is not
// done when copy_to_device returns, it reads the rows until the device has completed it. The
// mirror must hold the rows' lease until then, or a rescale may rebuild them under the copy.
// Each step copies rows to the mirror (creation; a sync that rescales back), then two host
// calls rescale twice (the other row set, then the copied set again, rebuilt), then the device
// completes whatever it still had to do: it must hold the rows as they were when leased. In
// pageable memory (the control) a copy has read its rows when it returns: nothing is waited for.
TEST_F(CudaOnHost, PinnedRowsStayLeasedUntilTheirCopyCompletes) {
  for (const bool pinned : {false, true}) {
    SCOPED_TRACE(pinned ? "page-locked arena" : "pageable arena");
    const uint32_t d = 32;
    const rotor_config cfg =
        cuda_case::rescaling_config(d, ROTOR_PAIRING_HALF, cuda_case::Rescaling{ROTOR_SCALING_DYNAMIC_NTK, 0});
    const size_t arena_bytes = rotor_table_arena_size(&cfg);
    ASSERT_GT(arena_bytes, 0u);
    std::unique_ptr<void, void (*)(void *)> arena(
        std::aligned_alloc(ROTOR_ARENA_ALIGNMENT, (arena_bytes + ROTOR_ARENA_ALIGNMENT - 1) / ROTOR_ARENA_ALIGNMENT *
                                                      ROTOR_ARENA_ALIGNMENT),
        std::free);
    rotor_table *table = nullptr;
    ASSERT_EQ(rotor_table_init(&table, &cfg, arena.get(), arena_bytes), ROTOR_OK);
    if (pinned) device.pin(arena.get(), arena_bytes);
    auto host_call_ending_at = [&](uint32_t end) {
      std::vector<float> x(d, 1.0f);
      rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, d);
      return rotor_apply(table, &v, nullptr, end - 1, ROTOR_FORWARD, nullptr);
    };
    auto bytes_at = [](const void *p, size_t n) {
      const auto *c = static_cast<const unsigned char *>(p);
      return std::vector<unsigned char>(c, c + n);
    };
    // The last copy's source as it is when the step returns (what its lease covered), two
    // rescales, then the device's copy of it once the device is done.
    auto check_last_copy = [&](const char *step) {
      SCOPED_TRACE(step);
      ASSERT_FALSE(device.copies_to_device.empty());
      const host_device::Copy copy = device.copies_to_device.back();
      ASSERT_TRUE(copy.bytes > 2 * sizeof(rotor::cuda::ErrorRecord)) << "the step copied rows";
      EXPECT_EQ(device.calls[host_device::kEventSync], pinned ? 1 : 0)
          << "a copy is waited for exactly when it reads page-locked rows";
      const std::vector<unsigned char> leased = bytes_at(copy.src, copy.bytes);
      ASSERT_EQ(host_call_ending_at(1500), ROTOR_OK);
      ASSERT_EQ(host_call_ending_at(3000), ROTOR_OK);
      ASSERT_FALSE(bytes_at(copy.src, copy.bytes) == leased) << "the second rescale rebuilt the copied rows";
      device.finish_copies();
      EXPECT_TRUE(bytes_at(copy.dst, copy.bytes) == leased)
          << "the device got rows a rescale rebuilt after the copy's lease was released";
    };

    device.clear_log();
    {
      MirrorHandle mirror(table, kStreamA);  // rows [0, 64) of the unscaled set
      ASSERT_EQ(mirror.status, ROTOR_OK);
      check_last_copy("creation");
      device.clear_log();
      ASSERT_EQ(rotor_cuda_table_sync(mirror.t, 100, kStreamA), ROTOR_OK);  // rescales back: a whole copy
      check_last_copy("sync");

      if (pinned) {
        // A wait that fails fails the call and serves nothing (the copy may be incomplete); the
        // next call copies whole. A failed event record is waited for on the stream instead.
        device.fail(host_device::kEventSync);
        EXPECT_EQ(rotor_cuda_table_sync(mirror.t, 100, kStreamA), ROTOR_ERR_DEVICE);
        EXPECT_EQ(mirror.rows(), 0u);
        device.clear_log();
        device.fail(host_device::kEventRecord);
        EXPECT_EQ(rotor_cuda_table_sync(mirror.t, 100, kStreamA), ROTOR_ERR_DEVICE);
        EXPECT_EQ(device.calls[host_device::kStreamSync], 1);
        EXPECT_EQ(device.pending_copies(), 0u);
        device.clear_log();
        ASSERT_EQ(rotor_cuda_table_sync(mirror.t, 100, kStreamA), ROTOR_OK);
        EXPECT_GT(mirror.rows(), 0u);
        check_last_copy("after failures");
      }
    }
    EXPECT_EQ(device.live_allocations(), 0u);
    rotor_table_destroy(table);
  }
}

// One token of ones (r = d = 8) against an on-demand table mirrored on stream A: the setup of
// the tests that count what one call waits on and what fails it.
struct OneToken {
  static constexpr uint32_t d = 8;
  ref::Table table{cuda_case::on_demand_config(d, ROTOR_PAIRING_HALF, 1024, 16)};
  MirrorHandle mirror{table, kStreamA};
  std::vector<float> x = std::vector<float>(d, 1.0f);
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 1, 1, d);
  OneToken() = default;
  OneToken(const OneToken &) = delete;  // v points into x
  OneToken &operator=(const OneToken &) = delete;
};

// Streams: a call on another stream than the last copy's waits on the copy's event (no host
// synchronisation); calls on the copy's stream do not wait.
TEST_F(CudaOnHost, AnotherStreamWaitsForTheLastCopy) {
  OneToken one;
  ASSERT_EQ(one.mirror.status, ROTOR_OK);
  device.clear_log();
  ASSERT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, 3, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  EXPECT_TRUE(device.waits.empty());
  ASSERT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, 3, ROTOR_FORWARD, kStreamB), ROTOR_OK);
  ASSERT_EQ(device.waits.size(), 1u);
  EXPECT_EQ(device.waits[0].stream, kStreamB);
  ASSERT_EQ(device.recorded_on.size(), 1u);
  EXPECT_EQ(device.waits[0].event, device.recorded_on.begin()->first);
  EXPECT_EQ(device.recorded_on.begin()->second, kStreamA);
  // B copies new rows: now A waits for B's copy, and B does not.
  device.clear_log();
  ASSERT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, 500, ROTOR_FORWARD, kStreamB), ROTOR_OK);
  EXPECT_TRUE(device.waits.empty());
  EXPECT_EQ(device.recorded_on.begin()->second, kStreamB);
  ASSERT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, 500, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  ASSERT_EQ(device.waits.size(), 1u);
  EXPECT_EQ(device.waits[0].stream, kStreamA);
  EXPECT_EQ(device.calls[host_device::kStreamSync], 0);
  device.fail(host_device::kStreamWait);
  EXPECT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, 500, ROTOR_FORWARD, kStreamA), ROTOR_ERR_DEVICE)
      << "a wait that cannot be enqueued fails the call before its launch";
  EXPECT_EQ(device.launches.size(), 2u);
}

// take_errors: reads back and clears the record (one launch, one copy to the host, one
// synchronisation of the stream given: the only function that synchronises), DEVICE on each
// failure, with the record then left for the next take.
TEST_F(CudaOnHost, TakeErrorsReadsBackClearsAndSynchronises) {
  ref::Table table(ref::config(8, ROTOR_PAIRING_HALF, 1024, 16));
  MirrorHandle mirror(table, kStreamA);
  ASSERT_EQ(mirror.status, ROTOR_OK);
  std::vector<float> x(16, 1.0f);
  rotor_tensor v = rotor_tensor_bshd(x.data(), ROTOR_DTYPE_F32, 1, 2, 1, 8);
  const int32_t positions[2] = {900, -1};
  ASSERT_EQ(rotor_cuda_apply(mirror.t, &v, positions, 0, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  EXPECT_EQ(x, std::vector<float>(16, 1.0f)) << "both tokens skipped";
  for (host_device::Op op : {host_device::kLaunchTakeErrors, host_device::kCopyToHost, host_device::kStreamSync}) {
    device.fail(op);
    uint32_t skipped = 77;
    int32_t position = 77;
    EXPECT_EQ(rotor_cuda_table_take_errors(mirror.t, kStreamB, &skipped, &position), ROTOR_ERR_DEVICE) << op;
    EXPECT_EQ(skipped, 77u);
    EXPECT_EQ(position, 77);
  }
  device.clear_log();
  uint32_t skipped = 0;
  int32_t position = 0;
  // The failed launch above cleared nothing; the later failures came after the record was
  // taken, as on a GPU (the take kernel ran), so the count read now is what remains.
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, kStreamB, &skipped, &position), ROTOR_OK);
  EXPECT_EQ(device.calls[host_device::kStreamSync], 1);
  EXPECT_EQ(device.calls[host_device::kLaunchTakeErrors], 1);
  EXPECT_EQ(skipped, 0u);
  ASSERT_EQ(rotor_cuda_apply(mirror.t, &v, positions, 0, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, kStreamA, &skipped, nullptr), ROTOR_OK);
  EXPECT_EQ(skipped, 2u);
  ASSERT_EQ(rotor_cuda_apply(mirror.t, &v, positions, 0, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, kStreamA, &skipped, &position), ROTOR_OK);
  EXPECT_EQ(skipped, 2u);
  EXPECT_TRUE(position == 900 || position == -1);
  EXPECT_EQ(rotor_cuda_table_take_errors(mirror.t, kStreamA, nullptr, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(rotor_cuda_table_take_errors(nullptr, kStreamA, &skipped, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
}

// Every invalid call: its status, and the caller's data, the mirror and the device untouched
// (no copy, no launch).
TEST_F(CudaOnHost, InvalidCallsReturnTheirStatusAndTouchNothing) {
  const cuda_case::InvalidCalls calls(kStreamA);
  ASSERT_EQ(calls.mirror.status, ROTOR_OK);
  const MirrorHandle &mirror = calls.mirror;
  const std::vector<unsigned char> &original = calls.original;
  std::vector<unsigned char> data = original;
  const auto &[q, k, narrow, shifted, shorter, other_batch, other_type, bad_dtype, null_data, zero_seq, negative_stride,
               overlapping_heads, misaligned] = cuda_case::InvalidCalls::views(data.data());
  const int32_t positions[8] = {};
  const int32_t *odd = reinterpret_cast<const int32_t *>(reinterpret_cast<const char *>(positions) + 2);
  const rotor_direction dirs_bad[] = {rotor_direction(2), rotor_direction(3), rotor_direction(0x7fffffff)};

  const uint32_t rows_before = mirror.rows();
  device.clear_log();
  auto expect = [&](rotor_status got, rotor_status want, const char *what) { EXPECT_EQ(got, want) << what; };
  const rotor_status INVALID = ROTOR_ERR_INVALID_ARGUMENT;
  expect(rotor_cuda_apply(nullptr, &q, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "t NULL");
  expect(rotor_cuda_apply(mirror.t, nullptr, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "x NULL");
  for (rotor_direction dir : dirs_bad) {
    expect(rotor_cuda_apply(mirror.t, &q, nullptr, 0, dir, kStreamA), INVALID, "bad direction");
    expect(rotor_cuda_apply_qk(mirror.t, &q, &k, nullptr, 0, dir, kStreamA), INVALID, "bad direction (qk)");
  }
  for (const rotor_tensor *bad : {&narrow, &bad_dtype, &null_data, &zero_seq, &negative_stride, &overlapping_heads,
                                  &misaligned}) {
    expect(rotor_cuda_apply(mirror.t, bad, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "bad view");
    expect(rotor_cuda_apply_qk(mirror.t, &q, bad, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "bad K view");
    expect(rotor_cuda_apply_qk(mirror.t, bad, &k, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "bad Q view");
  }
  expect(rotor_cuda_apply(mirror.t, &q, odd, 0, ROTOR_FORWARD, kStreamA), INVALID, "positions misaligned");
  expect(rotor_cuda_apply_qk(mirror.t, &q, &shifted, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "Q, K share");
  expect(rotor_cuda_apply_qk(mirror.t, &q, &q, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "Q is K");
  expect(rotor_cuda_apply_qk(mirror.t, &q, &shorter, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "seq differs");
  expect(rotor_cuda_apply_qk(mirror.t, &q, &other_batch, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID,
         "batch differs");
  expect(rotor_cuda_apply_qk(mirror.t, &q, &other_type, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID,
         "dtype differs");
  expect(rotor_cuda_apply_qk(mirror.t, &q, nullptr, nullptr, 0, ROTOR_FORWARD, kStreamA), INVALID, "k NULL");
  expect(rotor_cuda_apply(mirror.t, &q, nullptr, 61, ROTOR_FORWARD, kStreamA), ROTOR_ERR_OUT_OF_RANGE, "61 + 4");
  expect(rotor_cuda_apply(mirror.t, &q, nullptr, UINT32_MAX, ROTOR_FORWARD, kStreamA), ROTOR_ERR_OUT_OF_RANGE,
         "offset wraps");
  expect(rotor_cuda_apply_qk(mirror.t, &q, &k, nullptr, 61, ROTOR_FORWARD, kStreamA), ROTOR_ERR_OUT_OF_RANGE,
         "61 + 4 (qk)");
  expect(rotor_cuda_table_sync(mirror.t, 0, kStreamA), INVALID, "sync 0");
  expect(rotor_cuda_table_sync(nullptr, 4, kStreamA), INVALID, "sync NULL");
  expect(rotor_cuda_table_sync(mirror.t, 65, kStreamA), ROTOR_ERR_OUT_OF_RANGE, "sync past max_len");
  uint32_t rows = 0;
  expect(rotor_cuda_table_rows(nullptr, &rows), INVALID, "rows of NULL");
  expect(rotor_cuda_table_rows(mirror.t, nullptr), INVALID, "rows into NULL");
  EXPECT_TRUE(data == original) << "an invalid call wrote to the caller's data";
  EXPECT_EQ(mirror.rows(), rows_before);
  EXPECT_TRUE(device.copies_to_device.empty());
  EXPECT_TRUE(device.launches.empty());
  EXPECT_EQ(device.calls[host_device::kStreamSync], 0);

  // The last valid offset works and is the only call that writes.
  ASSERT_EQ(rotor_cuda_apply(mirror.t, &q, nullptr, 60, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  std::vector<unsigned char> expected = original;
  const rotor_tensor e = cuda_case::InvalidCalls::views(expected.data()).q;
  ASSERT_EQ(rotor_apply(calls.table, &e, nullptr, 60, ROTOR_FORWARD, nullptr), ROTOR_OK);
  EXPECT_TRUE(data == expected) << "results differ from rotor_apply";
}

// DEVICE from each device operation a call uses, before anything is written: switching to the
// mirror's device, copying new rows, recording the copy, launching. A failed full copy leaves
// the mirror serving nothing until a copy succeeds (no rows of two epochs are ever mixed).
TEST_F(CudaOnHost, DeviceFailuresReportDeviceAndWriteNothing) {
  OneToken one;
  ASSERT_EQ(one.mirror.status, ROTOR_OK);
  const std::vector<float> original = one.x;
  for (host_device::Op op : {host_device::kCurrentDevice, host_device::kCopyToDevice, host_device::kEventRecord,
                             host_device::kLaunchRotate}) {
    SCOPED_TRACE(op);
    device.fail(op);
    const uint32_t offset = 100 + 50 * uint32_t(op);  // new rows each time: a copy is needed
    EXPECT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, offset, ROTOR_FORWARD, kStreamA), ROTOR_ERR_DEVICE);
    EXPECT_EQ(one.x, original);
  }
  device.fail(host_device::kCopyToDevice);
  EXPECT_EQ(rotor_cuda_table_sync(one.mirror.t, 900, kStreamA), ROTOR_ERR_DEVICE);
  // The mirror on device 0 while device 1 is current: the call switches and switches back.
  device.current_device = 1;
  device.clear_log();
  ASSERT_EQ(rotor_cuda_table_sync(one.mirror.t, 900, kStreamA), ROTOR_OK);
  EXPECT_EQ(device.calls[host_device::kSetDevice], 2);
  EXPECT_EQ(device.current_device, 1);
  device.fail(host_device::kSetDevice);
  EXPECT_EQ(rotor_cuda_apply(one.mirror.t, &one.v, nullptr, 0, ROTOR_FORWARD, kStreamA), ROTOR_ERR_DEVICE);
  device.fail(host_device::kSetDevice);
  uint32_t skipped = 0;
  EXPECT_EQ(rotor_cuda_table_take_errors(one.mirror.t, kStreamA, &skipped, nullptr), ROTOR_ERR_DEVICE);
  EXPECT_EQ(one.x, original);
  device.current_device = 0;

  // A failed full copy (a rescale's) leaves the mirror serving no rows; the next call recopies.
  ref::Table dynamic(cuda_case::rescaling_config(OneToken::d, ROTOR_PAIRING_HALF, {ROTOR_SCALING_DYNAMIC_NTK, 0}));
  MirrorHandle m2(dynamic, kStreamA);
  ASSERT_EQ(m2.status, ROTOR_OK);
  ASSERT_GT(m2.rows(), 0u);
  device.fail(host_device::kCopyToDevice);
  EXPECT_EQ(rotor_cuda_apply(m2.t, &one.v, nullptr, 2000, ROTOR_FORWARD, kStreamA), ROTOR_ERR_DEVICE);
  EXPECT_EQ(m2.rows(), 0u) << "rows of two epochs are never served";
  EXPECT_EQ(one.x, original);
  const int32_t zero = 0;
  EXPECT_EQ(rotor_cuda_apply(m2.t, &one.v, &zero, 0, ROTOR_FORWARD, kStreamA), ROTOR_OK);
  EXPECT_GT(m2.rows(), 0u) << "the next call copies every row again";
}

}  // namespace
