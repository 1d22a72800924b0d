// Overflow safety at the C boundary: sizes and strides whose arithmetic overflows 64 bits, views
// that overlap or wrap the address space, arenas one byte short and position arithmetic past
// uint32/int32. Every such call must fail with its documented status and leave everything the
// caller owns (buffers, *out, the table) exactly as it was.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rotor/rotor.h"

namespace {

constexpr uint32_t kU32Max = 0xffffffffu;
constexpr int64_t kI64Max = INT64_MAX;

// A buffer filled with a pattern, and a check that nothing wrote into it. The views under test
// claim far more memory than this: a call that wrote anything at all would change (or crash
// past) the pattern.
class Sentinel {
 public:
  explicit Sentinel(size_t bytes) : bytes_(bytes), copy_(bytes) {
    data_ = static_cast<unsigned char *>(std::aligned_alloc(64, bytes));
    for (size_t i = 0; i < bytes; ++i) data_[i] = static_cast<unsigned char>(0xA5 ^ (i * 31));
    std::memcpy(copy_.data(), data_, bytes);
  }
  ~Sentinel() { std::free(data_); }
  Sentinel(const Sentinel &) = delete;
  Sentinel &operator=(const Sentinel &) = delete;
  void *data() { return data_; }
  bool unchanged() const { return std::memcmp(copy_.data(), data_, bytes_) == 0; }

 private:
  size_t bytes_;
  unsigned char *data_;
  std::vector<unsigned char> copy_;
};

rotor_tensor strided(void *data, rotor_dtype dt, uint32_t b, uint32_t s, uint32_t h, uint32_t d,
                     int64_t sb, int64_t ss, int64_t sh) {
  rotor_tensor t = rotor_tensor_bshd(data, dt, b, s, h, d);
  t.stride_batch = sb;
  t.stride_seq = ss;
  t.stride_head = sh;
  return t;
}

// A small plain table (rotary_dim 8, max_len 64) shared by the apply tests below.
class OverflowApply : public ::testing::Test {
 protected:
  void SetUp() override {
    rotor_config cfg;
    rotor_config_init(&cfg, 8);
    cfg.initial_len = 16;
    cfg.max_len = 64;
    cfg.growth = ROTOR_GROWTH_EXACT;
    ASSERT_EQ(rotor_table_create(&table_, &cfg), ROTOR_OK);
    before_ = stats();
  }
  void TearDown() override { rotor_table_destroy(table_); }

  rotor_table_stats stats() const {
    rotor_table_stats s{};
    s.struct_size = sizeof s;
    EXPECT_EQ(rotor_table_stats_get(table_, &s), ROTOR_OK);
    return s;
  }
  // The failed call must not have grown or rescaled the table either.
  void expect_table_unchanged() const {
    const rotor_table_stats now = stats();
    EXPECT_EQ(now.rows, before_.rows);
    EXPECT_EQ(now.grow_events, before_.grow_events);
    EXPECT_EQ(now.rescale_events, before_.rescale_events);
  }
  // Every apply entry point on view x (in place, and out of place into a real buffer).
  void expect_all_reject(const rotor_tensor &x, rotor_status expected, Sentinel &sentinel) {
    EXPECT_EQ(rotor_apply(table_, &x, nullptr, 0, ROTOR_FORWARD, nullptr), expected);
    Sentinel other(4096);
    rotor_tensor k = rotor_tensor_bshd(other.data(), ROTOR_DTYPE_F32, x.batch, x.seq, 1, 8);
    if (uint64_t{x.batch} * x.seq * 8 * 4 <= 4096) {
      EXPECT_EQ(rotor_apply_qk(table_, &x, &k, nullptr, 0, ROTOR_FORWARD, nullptr), expected);
      EXPECT_EQ(rotor_apply_qk(table_, &k, &x, nullptr, 0, ROTOR_FORWARD, nullptr), expected);
    }
    EXPECT_EQ(rotor_apply_to(table_, &x, &x, nullptr, 0, ROTOR_FORWARD, nullptr), expected);
    const float rows[8] = {1, 1, 1, 1, 0, 0, 0, 0};
    EXPECT_EQ(rotor_apply_cos_sin(rows, rows + 4, 1, 8, ROTOR_PAIRING_HALF, &x, &x, nullptr, 0,
                                  ROTOR_FORWARD, nullptr),
              expected);
    EXPECT_TRUE(sentinel.unchanged());
    EXPECT_TRUE(other.unchanged());
    expect_table_unchanged();
  }

  rotor_table *table_ = nullptr;
  rotor_table_stats before_{};
};

TEST_F(OverflowApply, ElementCountPastSixtyFourBitsIsRejected) {
  Sentinel buffer(4096);
  // (2^32 - 1)^4 elements: the contiguous strides saturate and validation refuses them.
  rotor_tensor huge = rotor_tensor_bshd(buffer.data(), ROTOR_DTYPE_F32, kU32Max, kU32Max, kU32Max, kU32Max);
  expect_all_reject(huge, ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // Two dims whose product alone overflows, with sane strides elsewhere.
  rotor_tensor wide = strided(buffer.data(), ROTOR_DTYPE_F32, 1, 2, kU32Max, 8, 0, kI64Max, 1ll << 40);
  expect_all_reject(wide, ROTOR_ERR_INVALID_ARGUMENT, buffer);
}

TEST_F(OverflowApply, ByteSizePastSixtyFourBitsIsRejected) {
  Sentinel buffer(4096);
  // 2^62 + 8 elements fit in 64 bits; times 4 bytes they do not.
  rotor_tensor f32 = strided(buffer.data(), ROTOR_DTYPE_F32, 1, 1, 2, 8, 0, 0, int64_t{1} << 62);
  expect_all_reject(f32, ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // 2^62 + 8 elements of 2 bytes: 2^63 + 16 bytes fits in uint64 but not in int64, which the
  // kernels' signed offsets need.
  rotor_tensor f16 = strided(buffer.data(), ROTOR_DTYPE_F16, 1, 1, 2, 8, 0, 0, int64_t{1} << 62);
  expect_all_reject(f16, ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // The largest stride there is, on the batch axis.
  rotor_tensor batch = strided(buffer.data(), ROTOR_DTYPE_BF16, 2, 1, 1, 8, kI64Max, 8, 8);
  expect_all_reject(batch, ROTOR_ERR_INVALID_ARGUMENT, buffer);
}

TEST_F(OverflowApply, ViewThatWrapsTheAddressSpaceIsRejected) {
  Sentinel buffer(64);
  // A view starting 64 bytes below the top of the address space and spanning more than that.
  // It must be refused on arithmetic alone: the pointer is never dereferenced.
  void *top = reinterpret_cast<void *>(~uintptr_t{63});
  rotor_tensor wrap = rotor_tensor_bshd(top, ROTOR_DTYPE_F32, 1, 4, 1, 8);
  expect_all_reject(wrap, ROTOR_ERR_INVALID_ARGUMENT, buffer);
}

TEST_F(OverflowApply, NegativeAndOverlappingStridesAreRejected) {
  Sentinel buffer(4096);
  const rotor_dtype f32 = ROTOR_DTYPE_F32;
  // Negative strides (the header allows >= 0 only).
  expect_all_reject(strided(buffer.data(), f32, 1, 2, 2, 8, 0, -16, 8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  expect_all_reject(strided(buffer.data(), f32, 1, 2, 2, 8, 0, 16, -8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  expect_all_reject(strided(buffer.data(), f32, 2, 1, 1, 8, -8, 8, 8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // Heads closer than head_dim: head 1 starts inside head 0.
  expect_all_reject(strided(buffer.data(), f32, 1, 1, 2, 8, 0, 0, 7), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // Zero stride on an axis of extent 2: two tokens are the same memory.
  expect_all_reject(strided(buffer.data(), f32, 1, 2, 1, 8, 0, 0, 8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // Batch and seq on the same stride: token (1, 0) is token (0, 1).
  expect_all_reject(strided(buffer.data(), f32, 2, 2, 1, 8, 8, 8, 8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // seq steps past one head but heads step less than two tokens: token 1's head 0 ([8, 16))
  // runs into token 0's head 1 ([12, 20)).
  expect_all_reject(strided(buffer.data(), f32, 1, 2, 2, 8, 0, 8, 12), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  // A huge stride whose multiple wraps around onto the first element (2^62 * 4 = 2^64 == 0).
  expect_all_reject(strided(buffer.data(), f32, 1, 5, 1, 8, 0, int64_t{1} << 62, 8), ROTOR_ERR_INVALID_ARGUMENT,
                    buffer);
}

TEST_F(OverflowApply, MisalignedElementsAreRejected) {
  Sentinel buffer(4096);
  void *odd = static_cast<unsigned char *>(buffer.data()) + 1;
  void *two = static_cast<unsigned char *>(buffer.data()) + 2;
  expect_all_reject(rotor_tensor_bshd(odd, ROTOR_DTYPE_F16, 1, 2, 1, 8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
  expect_all_reject(rotor_tensor_bshd(two, ROTOR_DTYPE_F32, 1, 2, 1, 8), ROTOR_ERR_INVALID_ARGUMENT, buffer);
}

TEST_F(OverflowApply, OutOfPlaceViewsThatPartlyOverlapAreRejected) {
  std::vector<float> data(256, 0.5f);
  const std::vector<float> copy = data;
  rotor_tensor in = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_F32, 1, 4, 2, 8);
  // out one element further along: every head but the last overlaps one of in's heads.
  rotor_tensor out = rotor_tensor_bshd(data.data() + 1, ROTOR_DTYPE_F32, 1, 4, 2, 8);
  EXPECT_EQ(rotor_apply_to(table_, &in, &out, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  // Same data pointer, different strides: not "exactly the same view", so not in place.
  rotor_tensor bhsd = rotor_tensor_bhsd(data.data(), ROTOR_DTYPE_F32, 1, 4, 2, 8);
  EXPECT_EQ(rotor_apply_to(table_, &in, &bhsd, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  const float rows[8] = {1, 1, 1, 1, 0, 0, 0, 0};
  EXPECT_EQ(rotor_apply_cos_sin(rows, rows + 4, 4, 8, ROTOR_PAIRING_HALF, &in, &out, nullptr, 0, ROTOR_FORWARD,
                                nullptr),
            ROTOR_ERR_INVALID_ARGUMENT);
  // q and k at the same address are one tensor, not two.
  EXPECT_EQ(rotor_apply_qk(table_, &in, &in, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(std::memcmp(copy.data(), data.data(), data.size() * sizeof(float)), 0);
  expect_table_unchanged();
}

TEST_F(OverflowApply, PositionArithmeticPastThirtyTwoBitsIsOutOfRange) {
  std::vector<float> data(2 * 8, 0.25f);
  const std::vector<float> copy = data;
  rotor_tensor x = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_F32, 1, 2, 1, 8);
  // offset + s wraps uint32 to a small number if computed in 32 bits.
  EXPECT_EQ(rotor_apply(table_, &x, nullptr, kU32Max, ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_apply(table_, &x, nullptr, kU32Max - 1, ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE);
  const int32_t extremes[][2] = {{0, INT32_MAX}, {INT32_MIN, 0}, {-1, 1}, {63, 64}};
  for (const auto &positions : extremes)
    EXPECT_EQ(rotor_apply(table_, &x, positions, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_OUT_OF_RANGE)
        << positions[0] << ", " << positions[1];
  // The caller's own rows: position == rows is one past the end.
  const float rows[2 * 8] = {};
  const int32_t at_end[2] = {0, 2};
  EXPECT_EQ(rotor_apply_cos_sin(rows, rows + 4, 2, 8, ROTOR_PAIRING_HALF, &x, &x, at_end, 0, ROTOR_FORWARD, nullptr),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_apply_cos_sin(rows, rows + 4, kU32Max, 8, ROTOR_PAIRING_HALF, &x, &x, nullptr, kU32Max - 1,
                                ROTOR_FORWARD, nullptr),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(std::memcmp(copy.data(), data.data(), data.size() * sizeof(float)), 0);
  expect_table_unchanged();
}

TEST_F(OverflowApply, CosSinRangePastThirtyTwoBitsIsOutOfRange) {
  Sentinel cos_out(256), sin_out(256);
  EXPECT_EQ(rotor_table_cos_sin(table_, kU32Max, 2, ROTOR_DTYPE_F32, 0, cos_out.data(), sin_out.data()),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_cos_sin(table_, 1, kU32Max, ROTOR_DTYPE_F32, 1, cos_out.data(), sin_out.data()),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_cos_sin(table_, 60, 5, ROTOR_DTYPE_BF16, 0, cos_out.data(), sin_out.data()),
            ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_reserve(table_, 65), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_EQ(rotor_table_reserve(table_, kU32Max), ROTOR_ERR_OUT_OF_RANGE);
  EXPECT_TRUE(cos_out.unchanged());
  EXPECT_TRUE(sin_out.unchanged());
  expect_table_unchanged();
}

TEST_F(OverflowApply, OlderStatsStructIsFilledOnlyUpToItsSize) {
  // A caller built against a struct that ended after max_len: 12 bytes, nothing past them.
  unsigned char raw[sizeof(rotor_table_stats)];
  std::memset(raw, 0xCD, sizeof raw);
  const uint32_t old_size = 3 * sizeof(uint32_t);
  std::memcpy(raw, &old_size, sizeof old_size);
  ASSERT_EQ(rotor_table_stats_get(table_, reinterpret_cast<rotor_table_stats *>(raw)), ROTOR_OK);
  uint32_t max_len = 0;
  std::memcpy(&max_len, raw + 2 * sizeof(uint32_t), sizeof max_len);
  EXPECT_EQ(max_len, 64u);
  for (size_t i = old_size; i < sizeof raw; ++i) EXPECT_EQ(raw[i], 0xCD) << "byte " << i;
  // Too small to hold even the struct_size and rows: refused, nothing written.
  rotor_table_stats tiny;
  std::memset(&tiny, 0xCD, sizeof tiny);
  tiny.struct_size = 4;
  EXPECT_EQ(rotor_table_stats_get(table_, &tiny), ROTOR_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(tiny.rows, 0xCDCDCDCDu);
}

// ---- arenas ---------------------------------------------------------------------------------

rotor_config small_config(uint32_t rotary_dim, uint32_t max_len) {
  rotor_config cfg;
  rotor_config_init(&cfg, rotary_dim);
  cfg.max_len = max_len;
  cfg.initial_len = 4;
  return cfg;
}

TEST(OverflowArena, SizeThatDoesNotFitIsZeroAndRefused) {
  // max_len x rotary_dim x 4 bytes is about 2^65: arena_size reports 0, not a wrapped size.
  rotor_config cfg = small_config(kU32Max - 1, 0x7fffffffu);
  EXPECT_EQ(rotor_table_arena_size(&cfg), 0u);
  rotor_table *sentinel_handle = reinterpret_cast<rotor_table *>(uintptr_t{0x40});
  rotor_table *out = sentinel_handle;
  EXPECT_EQ(rotor_table_create(&out, &cfg), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(out, sentinel_handle);
  Sentinel arena(4096);
  EXPECT_EQ(rotor_table_init(&out, &cfg, arena.data(), SIZE_MAX), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(out, sentinel_handle);
  EXPECT_TRUE(arena.unchanged());
}

TEST(OverflowArena, SecondRowSetIsCountedInTheOverflowCheck) {
  // One row set of 3 * 2^28 rows x (2^32 - 2) floats is about 1.5 * 2^63 bytes and fits in 64
  // bits; the two sets an adaptive scaling type keeps do not.
  if (sizeof(size_t) < 8) GTEST_SKIP() << "sizes chosen for a 64-bit size_t (one set already overflows)";
  rotor_config one = small_config(kU32Max - 1, 3u << 28);
  const size_t single = rotor_table_arena_size(&one);
  EXPECT_GT(single, size_t{1} << 63);
  rotor_config two = one;
  two.scaling = ROTOR_SCALING_DYNAMIC_NTK;
  two.factor = 2.0f;
  two.original_max_len = 4096;
  EXPECT_EQ(rotor_table_arena_size(&two), 0u);
  rotor_table *out = nullptr;
  EXPECT_EQ(rotor_table_create(&out, &two), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(out, nullptr);
  // A plain table that size: the allocation itself fails, reported as OUT_OF_MEMORY.
  EXPECT_EQ(rotor_table_create(&out, &one), ROTOR_ERR_OUT_OF_MEMORY);
  EXPECT_EQ(out, nullptr);
}

TEST(OverflowArena, ArenaOneByteTooSmallIsRefusedUntouched) {
  const rotor_scaling kinds[] = {ROTOR_SCALING_NONE, ROTOR_SCALING_NTK, ROTOR_SCALING_LONGROPE};
  const float factors[4] = {1.0f, 1.5f, 2.0f, 3.0f};
  for (rotor_scaling kind : kinds) {
    rotor_config cfg = small_config(8, 100);
    cfg.scaling = kind;
    if (kind != ROTOR_SCALING_NONE) {
      cfg.factor = 2.0f;
      cfg.original_max_len = 50;
      cfg.long_factor = factors;
      cfg.short_factor = factors;
    }
    const size_t needed = rotor_table_arena_size(&cfg);
    ASSERT_GT(needed, 0u) << kind;
    EXPECT_EQ(needed % ROTOR_ARENA_ALIGNMENT, 0u);
    Sentinel arena(needed + 64);
    rotor_table *out = nullptr;
    EXPECT_EQ(rotor_table_init(&out, &cfg, arena.data(), needed - 1), ROTOR_ERR_OUT_OF_MEMORY) << kind;
    EXPECT_EQ(rotor_table_init(&out, &cfg, arena.data(), 0), ROTOR_ERR_OUT_OF_MEMORY) << kind;
    // Misaligned by one byte, with room to spare: the alignment is checked, not assumed.
    void *shifted = static_cast<unsigned char *>(arena.data()) + 1;
    EXPECT_EQ(rotor_table_init(&out, &cfg, shifted, needed + 63), ROTOR_ERR_INVALID_ARGUMENT) << kind;
    EXPECT_EQ(out, nullptr);
    EXPECT_TRUE(arena.unchanged()) << kind;
    // Exactly the size asked for works, and the table then really fits: serve every row.
    ASSERT_EQ(rotor_table_init(&out, &cfg, arena.data(), needed), ROTOR_OK) << kind;
    std::vector<float> cos_rows(100 * 4), sin_rows(100 * 4);
    EXPECT_EQ(rotor_table_cos_sin(out, 0, 100, ROTOR_DTYPE_F32, 0, cos_rows.data(), sin_rows.data()), ROTOR_OK);
    rotor_table_destroy(out);
  }
}

TEST(OverflowArena, ArenaSizeIsZeroForInvalidConfigs) {
  rotor_config cfg = small_config(8, 100);
  cfg.struct_size = sizeof(rotor_config) - 1;
  EXPECT_EQ(rotor_table_arena_size(&cfg), 0u);
  cfg = small_config(7, 100);
  EXPECT_EQ(rotor_table_arena_size(&cfg), 0u);
  cfg = small_config(8, 0x80000000u);  // positions are int32: max_len - 1 must fit
  EXPECT_EQ(rotor_table_arena_size(&cfg), 0u);
  EXPECT_EQ(rotor_table_arena_size(nullptr), 0u);
}


// ---- enum values outside their enums --------------------------------------------------------

// A C caller may store any int in an enum field. The library must refuse it (INVALID_ARGUMENT)
// without loading it as the C++ enum, which would be undefined: the sanitizer build's UBSan
// aborts on such a load, so this test guards that. (Enum *arguments* passed by value are
// covered by tests/fuzz, which calls through a C shim: making such a value in C++ test code
// would itself be undefined.)
template <typename E>
void store_int(E *field, int value) {
  static_assert(sizeof(E) == sizeof(int), "C enums are int-sized");
  std::memcpy(field, &value, sizeof value);
}

TEST(OverflowEnums, OutOfRangeEnumFieldsAreRejected) {
  const int pairings[] = {2, 3, 99, -1, INT32_MIN, INT32_MAX};
  const int growths[] = {4, 7, 1000, -1, INT32_MIN, INT32_MAX};
  const int scalings[] = {9, 8, 255, -1, INT32_MIN, INT32_MAX};
  for (int i = 0; i < 6; ++i) {
    rotor_config cfg = small_config(8, 64);
    store_int(&cfg.pairing, pairings[i]);
    EXPECT_EQ(rotor_table_arena_size(&cfg), 0u) << pairings[i];
    cfg = small_config(8, 64);
    store_int(&cfg.growth, growths[i]);
    EXPECT_EQ(rotor_table_arena_size(&cfg), 0u) << growths[i];
    cfg = small_config(8, 64);
    store_int(&cfg.scaling, scalings[i]);
    rotor_table *t = nullptr;
    EXPECT_EQ(rotor_table_create(&t, &cfg), ROTOR_ERR_INVALID_ARGUMENT) << scalings[i];
    EXPECT_EQ(t, nullptr);
  }
}

TEST(OverflowEnums, OutOfRangeTensorDtypeIsRejected) {
  rotor_config cfg = small_config(8, 64);
  rotor_table *t = nullptr;
  ASSERT_EQ(rotor_table_create(&t, &cfg), ROTOR_OK);
  std::vector<float> data(2 * 8, 0.5f), out(2 * 8, 0.25f);
  const std::vector<float> data_copy = data, out_copy = out;
  const int dtypes[] = {3, 99, -7, INT32_MIN, INT32_MAX};
  for (int value : dtypes) {
    rotor_tensor x = rotor_tensor_bshd(data.data(), ROTOR_DTYPE_F32, 1, 2, 1, 8);
    rotor_tensor y = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, 2, 1, 8);
    store_int(&x.dtype, value);
    EXPECT_EQ(rotor_apply(t, &x, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT) << value;
    EXPECT_EQ(rotor_apply_to(t, &x, &y, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT) << value;
    EXPECT_EQ(rotor_apply_qk(t, &y, &x, nullptr, 0, ROTOR_FORWARD, nullptr), ROTOR_ERR_INVALID_ARGUMENT) << value;
  }
  EXPECT_EQ(std::memcmp(data_copy.data(), data.data(), data.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(out_copy.data(), out.data(), out.size() * sizeof(float)), 0);
  rotor_table_destroy(t);
}

}  // namespace
