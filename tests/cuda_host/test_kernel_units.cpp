// The kernels' per-thread body (cuda/rotate_unit.hpp) run on the host for every unit of each
// launch in a shuffled order, through the real entry points and mirror, compared with
// rotor_apply / rotor_apply_qk (scalar kernel) on the same bytes: every dtype bit for bit, every
// byte of the buffer (gaps, dims past rotary_dim, V of a fused QKV buffer untouched).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "support/aligned_buffer.hpp"
#include "support/cuda_case.hpp"
#include "host_fixture.hpp"
#include "support/reference.hpp"

namespace {

using namespace cuda_case;
using rotor::cuda::DeviceTensor;
using rotor::cuda::KernelArgs;
using rotor::cuda::unit_coords;
using rotor::cuda::UnitCoords;
using rotor::cuda::vector_loads_ok;

void *const kStream = reinterpret_cast<void *>(uintptr_t{0x5100});

// Runs one case through rotor_cuda_apply(_qk) on host memory and through rotor_apply(_qk);
// returns the status of the CUDA call, and whether the launch took the vector path.
struct Outcome {
  rotor_status cuda_status, host_status;
  bool vec = false;
  std::vector<unsigned char> cuda_bytes, host_bytes;
};

Outcome run_case(host_device::HostDevice &device, const Case &c, rotor_table *table, rotor_cuda_table *mirror,
                 const std::vector<unsigned char> &original, const int32_t *positions, uint32_t offset,
                 rotor_direction dir) {
  Outcome out;
  out.host_bytes = original;
  out.host_status = apply_on_host(table, c, out.host_bytes.data(), positions, offset, dir);
  // Device memory is host memory here: a buffer of its own, aligned as cudaMalloc aligns.
  void *buffer = device.allocate(original.size());
  std::memcpy(buffer, original.data(), original.size());
  const size_t launches = device.launches.size();
  out.cuda_status = apply_on_mirror(mirror, c, buffer, positions, offset, dir, kStream);
  if (device.launches.size() > launches) out.vec = device.launches.back().vec;
  out.cuda_bytes.assign(static_cast<unsigned char *>(buffer), static_cast<unsigned char *>(buffer) + original.size());
  device.release(buffer);
  return out;
}

TEST_F(CudaOnHost, KernelUnitsMatchHostApplyBitForBitOnRandomCases) {
  std::mt19937 rng(20261123);
  int vector_cases = 0, element_cases = 0, fused_cases = 0, device_position_cases = 0;
  for (int iteration = 0; iteration < 400; ++iteration) {
    const RandomCall call(rng, kStream);
    const Case &c = call.c;
    SCOPED_TRACE(c.describe);
    ASSERT_EQ(call.problem, "");
    device_position_cases += call.device_positions;
    const Outcome o = run_case(device, c, call.table, call.mirror.t, call.original, call.host_positions(), call.offset,
                               call.dir);
    ASSERT_EQ(o.host_status, ROTOR_OK);
    ASSERT_EQ(o.cuda_status, ROTOR_OK) << "the host accepts this call: so must the CUDA path";
    size_t where = 0;
    EXPECT_EQ(max_ulps(c.dtype, o.cuda_bytes, o.host_bytes, &where), 0) << "element " << where;
    EXPECT_EQ(std::memcmp(o.cuda_bytes.data(), o.host_bytes.data(), o.host_bytes.size()), 0);
    (o.vec ? vector_cases : element_cases)++;
    fused_cases += c.describe.rfind("fused-qkv", 0) == 0 && c.qk;
    EXPECT_EQ(call.mirror.take_skipped(kStream), 0u);
  }
  EXPECT_GT(vector_cases, 20);
  EXPECT_GT(element_cases, 20);
  EXPECT_GT(fused_cases, 10);
  EXPECT_GT(device_position_cases, 20);
  std::printf("[   info   ] %d vector / %d element cases (%d fused Q+K, %d with device positions), all bit-exact\n",
              vector_cases, element_cases, fused_cases, device_position_cases);
}

// The case of the bug report: Q and K of one fused QKV buffer [2, 3, (4 + 2*2) * 8] (their
// heads interleave token by token, so their byte ranges overlap although no element is shared).
TEST_F(CudaOnHost, FusedQkvQAndKAreAcceptedAsOnTheHost) {
  for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    const uint32_t batch = 2, seq = 3, hq = 4, hk = 2, d = 8;
    Case c;
    c.dtype = dtype;
    c.pairing = ROTOR_PAIRING_HALF;
    c.rotary_dim = d;
    c.qk = true;
    const int64_t row = int64_t(hq + 2 * hk) * d;
    for (rotor_tensor *v : {&c.q, &c.k}) {
      v->dtype = dtype;
      v->batch = batch;
      v->seq = seq;
      v->head_dim = d;
      v->stride_head = d;
      v->stride_seq = row;
      v->stride_batch = int64_t(seq) * row;
    }
    c.q.heads = hq;
    c.k.heads = hk;
    c.q.data = nullptr;
    c.k.data = reinterpret_cast<void *>(uintptr_t{hq * d});
    c.elems = size_t(batch) * seq * size_t(row);
    ref::Table table(ref::config(d, ROTOR_PAIRING_HALF, 64, 16));
    MirrorHandle mirror(table, kStream);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    std::mt19937 rng(13);
    const auto original = random_bytes(dtype, c.elems, rng);
    const Outcome o = run_case(device, c, table, mirror.t, original, nullptr, 5, ROTOR_FORWARD);
    ASSERT_EQ(o.host_status, ROTOR_OK);
    EXPECT_EQ(o.cuda_status, ROTOR_OK) << "rotor_cuda_apply_qk refuses Q and K of a fused QKV buffer";
    EXPECT_TRUE(o.cuda_bytes == o.host_bytes) << "results differ from rotor_apply_qk";
  }
}

// Vector qualification at its boundaries: each case is run and must match the host; the plan
// must take the vector path exactly when the data, strides and r/2 allow it.
TEST_F(CudaOnHost, VectorPathExactlyAtItsBoundaries) {
  struct Boundary {
    rotor_dtype dtype;
    rotor_pairing pairing;
    uint32_t rotary_dim, head_dim, shift_elems, head_pad;
    bool vec;
  };
  const Boundary cases[] = {
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 128, 128, 0, 0, true},
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 128, 128, 1, 0, false},   // start 2 bytes off
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 128, 128, 8, 0, true},    // 16 bytes off: aligned
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 128, 128, 0, 2, false},   // head stride 130
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 128, 128, 0, 8, true},    // head stride 136
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 24, 128, 0, 0, false},    // r/2 = 12, not a multiple of 8
      {ROTOR_DTYPE_F16, ROTOR_PAIRING_HALF, 32, 128, 0, 0, true},     // partial rotary, r/2 = 16
      {ROTOR_DTYPE_BF16, ROTOR_PAIRING_INTERLEAVED, 8, 8, 0, 0, true},  // r/2 = 4: one vector
      {ROTOR_DTYPE_BF16, ROTOR_PAIRING_INTERLEAVED, 12, 16, 0, 0, false},  // r/2 = 6
      {ROTOR_DTYPE_F32, ROTOR_PAIRING_HALF, 8, 8, 0, 0, true},        // r/2 = 4
      {ROTOR_DTYPE_F32, ROTOR_PAIRING_HALF, 12, 12, 0, 0, false},     // r/2 = 6, stride 12 ok
      {ROTOR_DTYPE_F32, ROTOR_PAIRING_INTERLEAVED, 4, 4, 0, 0, true}, // r/2 = 2
      {ROTOR_DTYPE_F32, ROTOR_PAIRING_INTERLEAVED, 6, 8, 0, 0, false},// r/2 = 3
      {ROTOR_DTYPE_F32, ROTOR_PAIRING_INTERLEAVED, 4, 4, 2, 0, false},// 8 bytes off
  };
  std::mt19937 rng(77);
  for (const Boundary &b : cases) {
    SCOPED_TRACE(::testing::Message() << "dtype " << b.dtype << " pairing " << b.pairing << " r " << b.rotary_dim
                                      << " d " << b.head_dim << " shift " << b.shift_elems << " pad " << b.head_pad);
    const uint32_t batch = 2, seq = 5, heads = 3;
    Case c;
    c.dtype = b.dtype;
    c.pairing = b.pairing;
    c.rotary_dim = b.rotary_dim;
    c.qk = false;
    c.q.dtype = b.dtype;
    c.q.batch = batch;
    c.q.seq = seq;
    c.q.heads = heads;
    c.q.head_dim = b.head_dim;
    c.q.stride_head = b.head_dim + b.head_pad;
    c.q.stride_seq = int64_t(heads) * c.q.stride_head;
    c.q.stride_batch = int64_t(seq) * c.q.stride_seq;
    c.q.data = reinterpret_cast<void *>(uintptr_t{b.shift_elems});
    c.elems = b.shift_elems + size_t(batch) * size_t(c.q.stride_batch);
    ref::Table table(ref::config(b.rotary_dim, b.pairing, 64, 16));
    MirrorHandle mirror(table, kStream);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    const auto original = random_bytes(b.dtype, c.elems, rng);
    for (rotor_direction dir : {ROTOR_FORWARD, ROTOR_INVERSE}) {
      const Outcome o = run_case(device, c, table, mirror.t, original, nullptr, 7, dir);
      ASSERT_EQ(o.cuda_status, ROTOR_OK);
      EXPECT_EQ(o.vec, b.vec);
      EXPECT_TRUE(o.cuda_bytes == o.host_bytes) << "results differ from rotor_apply";
    }
  }
}

// Device positions out of [0, rows held): the token is left exactly as it was in every head of
// Q and K, counted once per token, and its neighbours are rotated as on the host.
TEST_F(CudaOnHost, DevicePositionsPastTheMirrorAreSkippedAndCountedOnce) {
  const PastTheMirror past(kStream);
  ASSERT_EQ(past.mirror.status, ROTOR_OK);
  ASSERT_EQ(past.held, 16);
  const MirrorHandle &mirror = past.mirror;
  const int32_t held = past.held;
  const uint32_t s = past.s, d = past.d, hq = past.hq, hk = past.hk;
  const std::vector<bool> &bad = past.bad;
  for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    SCOPED_TRACE(dtype);
    const size_t q_elems = past.q_elems(), es = elem_size(dtype);
    std::mt19937 rng(3);
    const auto original = random_bytes(dtype, past.elems(), rng);
    std::vector<unsigned char> got = original;
    rotor_tensor q = past.q_at(got.data(), dtype), k = past.k_at(got.data(), dtype);
    ASSERT_EQ(rotor_cuda_apply_qk(mirror.t, &q, &k, past.positions.data(), 0, ROTOR_FORWARD, kStream), ROTOR_OK);
    EXPECT_EQ(mirror.rows(), uint32_t(held)) << "device positions grow nothing";
    uint32_t skipped = 0;
    int32_t position = 0;
    ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, kStream, &skipped, &position), ROTOR_OK);
    EXPECT_EQ(skipped, 4u);  // once per token, not per head or tensor
    EXPECT_TRUE(position == int32_t(held) || position == -5 || position == 4000 || position == INT32_MIN);
    ASSERT_EQ(rotor_cuda_table_take_errors(mirror.t, kStream, &skipped, &position), ROTOR_OK);
    EXPECT_EQ(skipped, 0u) << "taking clears the record";
    EXPECT_EQ(position, -1);

    const std::vector<unsigned char> expected = past.expected(original, dtype);
    ASSERT_FALSE(expected.empty());
    for (uint32_t t = 0; t < s; ++t)
      for (uint32_t part = 0; part < 2; ++part) {
        const uint32_t heads = part == 0 ? hq : hk;
        const size_t first = ((part == 0 ? 0 : q_elems) + size_t(t) * heads * d) * es, bytes = size_t(heads) * d * es;
        const unsigned char *want = (bad[t] ? original : expected).data() + first;
        EXPECT_EQ(std::memcmp(got.data() + first, want, bytes), 0) << "token " << t << (part ? " K" : " Q");
      }
  }
}

// The host-side choice between 16-byte vectors and element accesses (the kernels trust it: a
// wrong "yes" would be a misaligned access on a GPU), for every dtype and pairing, from the
// rule: the start on the 16-byte grid, every stride a whole number of vectors, and r/2 a whole
// number of the pairs one vector holds (HALF: a lane per pair; INTERLEAVED: two). Here, not in
// tests/test_cuda.cpp, so that every build runs it.
TEST(CudaLaunchPlan, VectorLoadsOnlyForAlignedStridesAndRotaryDims) {
  alignas(16) static unsigned char storage[64];
  for (rotor_dtype dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16})
    for (rotor_pairing pairing : {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED}) {
      SCOPED_TRACE(std::to_string(dtype) + " pairing " + std::to_string(pairing));
      const uint32_t lanes = uint32_t(16 / elem_size(dtype));
      const uint32_t pairs = pairing == ROTOR_PAIRING_HALF ? lanes : lanes / 2;  // pairs in one vector
      const DeviceTensor fit{storage, 64 * int64_t(lanes), 8 * int64_t(lanes), 2 * int64_t(lanes), 4};
      EXPECT_TRUE(vector_loads_ok(fit, dtype, pairing, pairs));
      EXPECT_TRUE(vector_loads_ok(fit, dtype, pairing, 4 * pairs)) << "partial rotary: any whole number";
      EXPECT_FALSE(vector_loads_ok(fit, dtype, pairing, 3 * pairs / 2)) << "r/2 not a whole number of vectors";
      // Each of the start and the three strides one element off the grid.
      for (int field = 0; field < 4; ++field) {
        DeviceTensor off = fit;
        if (field == 0) off.data = storage + elem_size(dtype);
        if (field == 1) off.stride_batch += 1;
        if (field == 2) off.stride_seq += 1;
        if (field == 3) off.stride_head += 1;
        EXPECT_FALSE(vector_loads_ok(off, dtype, pairing, pairs)) << "field " << field;
      }
    }
}

// The index function: the 32-bit path (fewer than 2^32 units) and the 64-bit path give the
// same coordinates, and the 64-bit path is exact past 2^32 units (tested on the function
// alone: such a launch is too large to run on the host).
TEST(CudaUnitIndex, SmallAndWidePathsAgreeAndWideIsExactPast32Bits) {
  KernelArgs args{};
  args.t0.heads = 32;
  args.t1.heads = 8;
  args.chunks = 16;
  args.seq = 4096;
  const uint64_t tokens_small = 1000, tokens_wide = (uint64_t{1} << 32) / (32 * 16) + 12345;  // > 2^32 units
  auto expect_coords = [](const KernelArgs &a, uint64_t unit) {
    const bool second = unit >= a.units0;
    const uint64_t u = second ? unit - a.units0 : unit;
    const uint32_t heads = second ? a.t1.heads : a.t0.heads;
    return UnitCoords{second, u / a.chunks / heads, uint32_t(u / a.chunks % heads), uint32_t(u % a.chunks)};
  };
  auto same = [](const UnitCoords &x, const UnitCoords &y) {
    return x.second == y.second && x.token == y.token && x.head == y.head && x.chunk == y.chunk;
  };
  std::mt19937_64 rng(5);
  // Small: both paths over every unit of a launch.
  args.units0 = tokens_small * 32 * 16;
  args.units_total = args.units0 + tokens_small * 8 * 16;
  for (uint64_t unit = 0; unit < args.units_total; ++unit) {
    KernelArgs narrow = args, wide = args;
    narrow.small = true;
    wide.small = false;
    const UnitCoords a = unit_coords(narrow, unit), b = unit_coords(wide, unit);
    ASSERT_TRUE(same(a, b)) << unit;
    ASSERT_TRUE(same(a, expect_coords(args, unit))) << unit;
  }
  // Wide: past 2^32 units in Q, and in K after them, at random and at the boundaries.
  args.units0 = tokens_wide * 32 * 16;
  args.units_total = args.units0 + tokens_wide * 8 * 16;
  ASSERT_GT(args.units0, uint64_t{UINT32_MAX});
  args.small = false;
  std::vector<uint64_t> units = {0, UINT32_MAX, uint64_t{UINT32_MAX} + 1, args.units0 - 1, args.units0,
                                 args.units0 + UINT32_MAX + 7, args.units_total - 1};
  for (int i = 0; i < 100000; ++i) units.push_back(rng() % args.units_total);
  for (uint64_t unit : units) ASSERT_TRUE(same(unit_coords(args, unit), expect_coords(args, unit))) << unit;
  // The plan picks the 32-bit path exactly below 2^32 units.
  rotor::cuda::RotateLaunch launch{};
  launch.tensors[0] = DeviceTensor{nullptr, 0, 0, 0, 1};
  launch.tensor_count = 1;
  launch.dtype = ROTOR_DTYPE_F32;
  launch.pairing = ROTOR_PAIRING_HALF;
  launch.half = 1;
  launch.batch = 65536;
  launch.seq = 65535;  // 2^32 - 65536 units
  EXPECT_TRUE(rotor::cuda::plan_launch(launch).args.small);
  launch.seq = 65536;
  launch.batch = 65537;  // 2^32 + 65536 units
  EXPECT_FALSE(rotor::cuda::plan_launch(launch).args.small);
  EXPECT_EQ(rotor::cuda::plan_launch(launch).blocks, uint32_t(rotor::cuda::kMaxBlocks));
}

}  // namespace

namespace {

// The same launch run through the 32-bit and the 64-bit index paths writes the same bytes
// (a real launch past 2^32 units is too large for the host; the function alone is tested above).
TEST_F(CudaOnHost, WideIndexPathRunsLikeTheSmallOne) {
  std::mt19937 rng(99);
  for (int iteration = 0; iteration < 40; ++iteration) {
    const Case c = random_case(rng);
    SCOPED_TRACE(c.describe);
    ref::Table table(ref::config(c.rotary_dim, c.pairing, 2048, 2048));
    MirrorHandle mirror(table, kStream);
    ASSERT_EQ(mirror.status, ROTOR_OK);
    const auto original = random_bytes(c.dtype, c.elems, rng);
    // One launch through the entry point gives the plan (small: fewer than 2^32 units).
    // Both copies 64-byte aligned, as device memory is: the plan's vector loads were chosen for
    // the first one's alignment (plain vectors are only 8-byte aligned on 32-bit targets).
    const test_support::AlignedBuffer small_buffer = test_support::aligned_buffer(original.size());
    const test_support::AlignedBuffer wide_buffer = test_support::aligned_buffer(original.size());
    unsigned char *small = small_buffer.get(), *wide = wide_buffer.get();
    std::memcpy(small, original.data(), original.size());
    std::memcpy(wide, original.data(), original.size());
    rotor_tensor q = at(c.q, small), k = at(c.k, small);
    ASSERT_EQ(c.qk ? rotor_cuda_apply_qk(mirror.t, &q, &k, nullptr, 100, ROTOR_FORWARD, kStream)
                   : rotor_cuda_apply(mirror.t, &q, nullptr, 100, ROTOR_FORWARD, kStream),
              ROTOR_OK);
    rotor::cuda::LaunchPlan plan = device.launches.back();
    ASSERT_TRUE(plan.args.small);
    // The same plan, rebased onto a fresh copy, through the 64-bit path.
    const std::ptrdiff_t shift = wide - small;
    plan.args.t0.data = static_cast<unsigned char *>(plan.args.t0.data) + shift;
    plan.args.t1.data = static_cast<unsigned char *>(plan.args.t1.data) + shift;
    plan.args.small = false;
    host_device::run_plan(plan, 12345);
    EXPECT_EQ(std::memcmp(wide, small, original.size()), 0);
  }
}

}  // namespace
