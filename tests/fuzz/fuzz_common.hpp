// Shared pieces of the libFuzzer targets: the checks every call gets (a defined status; on
// error, no byte the caller owns changed), buffers sized exactly to what a view may touch (so
// AddressSanitizer sees any access outside it), and plain decoders for the reference checks.
//
// A harness bug must never look like a library bug, so a view is only handed to the library
// when (a) its memory is really there, or (b) the call is certain to fail before touching it
// (the view is invalid by the header's rules, or another argument is), in which case the call
// must return an error and write nothing.
#pragma once
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "rotor/rotor.h"
#include "support/elements.hpp"

namespace fuzz {

// A failed property: print it and abort, which libFuzzer records as a crash with its input.
[[noreturn]] inline void fail(const char *what, long long a = 0, long long b = 0) {
  std::fprintf(stderr, "rotor fuzz property failed: %s (%lld, %lld)\n", what, a, b);
  std::abort();
}
inline void require(bool ok, const char *what, long long a = 0, long long b = 0) {
  if (!ok) fail(what, a, b);
}

// The target's one pool of `threads` threads, made on first use and kept for the process (each
// target is its own program and asks with one count).
inline rotor_pool *shared_pool(uint32_t threads) {
  static rotor_pool *pool = [threads] {
    rotor_pool *p = nullptr;
    require(rotor_pool_create(&p, threads) == ROTOR_OK, "pool_create");
    return p;
  }();
  return pool;
}

// A defined status is one the library itself can name (this follows the enum as it grows).
inline void check_status(rotor_status s) {
  int value;
  std::memcpy(&value, &s, sizeof value);
  require(value >= 0 && std::strcmp(rotor_status_string(s), "unknown rotor status") != 0,
          "status outside the enum", value);
}

// Memory the caller owns, allocated at exactly `bytes` (ASan poisons what lies past it),
// 64-byte aligned, filled with a pattern, with a snapshot to compare against.
class Block {
 public:
  Block() = default;
  explicit Block(size_t bytes, uint8_t seed = 0x5A) : bytes_(bytes) {
    data_ = static_cast<unsigned char *>(::operator new(bytes ? bytes : 1, std::align_val_t{64}));
    for (size_t i = 0; i < bytes; ++i) data_[i] = static_cast<unsigned char>(seed + i * 131);
  }
  ~Block() {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t{64});
  }
  Block(Block &&o) noexcept : data_(o.data_), bytes_(o.bytes_), snap_(std::move(o.snap_)) { o.data_ = nullptr; }
  Block &operator=(Block &&o) noexcept {
    std::swap(data_, o.data_);
    std::swap(bytes_, o.bytes_);
    std::swap(snap_, o.snap_);
    return *this;
  }
  Block(const Block &) = delete;
  Block &operator=(const Block &) = delete;

  unsigned char *data() const { return data_; }
  size_t size() const { return bytes_; }
  void snapshot() { snap_.assign(data_, data_ + bytes_); }
  bool unchanged() const { return bytes_ == 0 || std::memcmp(snap_.data(), data_, bytes_) == 0; }
  const std::vector<unsigned char> &before() const { return snap_; }

 private:
  unsigned char *data_ = nullptr;
  size_t bytes_ = 0;
  std::vector<unsigned char> snap_;
};

// The int an enum field holds, read without loading it as the enum (it may be out of range).
template <typename E>
int enum_bits_of(const E &field) {
  int value;
  std::memcpy(&value, &field, sizeof value);
  return value;
}

inline bool valid_dtype(int dt) { return dt >= 0 && dt <= 2; }
using test_support::element_bytes;
inline size_t elem_size(int dt) { return element_bytes(dt); }

// One past the last element of a view with non-negative strides, in elements; false on any
// overflow (128-bit arithmetic, so the answer is exact).
inline bool view_extent(const rotor_tensor &v, uint64_t *elements) {
  if (v.batch == 0 || v.seq == 0 || v.heads == 0 || v.head_dim == 0) return false;
  if (v.stride_batch < 0 || v.stride_seq < 0 || v.stride_head < 0) return false;
  unsigned __int128 last = (unsigned __int128)(v.batch - 1) * uint64_t(v.stride_batch) +
                           (unsigned __int128)(v.seq - 1) * uint64_t(v.stride_seq) +
                           (unsigned __int128)(v.heads - 1) * uint64_t(v.stride_head) + v.head_dim;
  if (last > (unsigned __int128)UINT64_MAX) return false;
  *elements = uint64_t(last);
  return true;
}

// Element offset of (b, s, h, d).
inline int64_t offset_of(const rotor_tensor &v, uint32_t b, uint32_t s, uint32_t h, uint32_t d) {
  return int64_t{b} * v.stride_batch + int64_t{s} * v.stride_seq + int64_t{h} * v.stride_head + d;
}

// Whether two heads of a (small) view share an element, by brute force: head starts sorted,
// each must be head_dim past the previous.
inline bool heads_overlap(const rotor_tensor &v) {
  std::vector<int64_t> starts;
  for (uint32_t b = 0; b < v.batch; ++b)
    for (uint32_t s = 0; s < v.seq; ++s)
      for (uint32_t h = 0; h < v.heads; ++h) starts.push_back(offset_of(v, b, s, h, 0));
  std::sort(starts.begin(), starts.end());
  for (size_t i = 1; i < starts.size(); ++i)
    if (starts[i] - starts[i - 1] < int64_t(v.head_dim)) return true;
  return false;
}

// Byte mask of the elements a view covers inside a block starting at base.
inline void mark_view(const rotor_tensor &v, const unsigned char *base, std::vector<bool> *mask) {
  const size_t elem = elem_size(v.dtype);
  const int64_t start = static_cast<const unsigned char *>(v.data) - base;
  for (uint32_t b = 0; b < v.batch; ++b)
    for (uint32_t s = 0; s < v.seq; ++s)
      for (uint32_t h = 0; h < v.heads; ++h)
        for (size_t byte = 0; byte < v.head_dim * elem; ++byte)
          (*mask)[size_t(start + offset_of(v, b, s, h, 0) * int64_t(elem)) + byte] = true;
}

// Plain decoders, written from the formats (tests/support/elements.hpp).
inline double load(const void *base, int dt, int64_t index) { return test_support::element_value(base, dt, index); }
// Relative precision of one rounding to dtype (the result is rounded once).
inline double dtype_epsilon(int dt) {
  return dt == ROTOR_DTYPE_F32 ? 0x1p-23 : dt == ROTOR_DTYPE_F16 ? 0x1p-10 : 0x1p-7;
}
// Smallest normal magnitude of the dtype: below it the error is absolute, not relative.
inline double dtype_tiny(int dt) { return dt == ROTOR_DTYPE_F16 ? 0x1p-14 : 0x1p-126; }

// Checks one rotated pair against a + i b times (c + i s) (s negated for INVERSE): the kernel
// rounds each product and sum in float, then once to the dtype.
inline void check_pair(double a, double b, double c, double s, double got_a, double got_b, int dt,
                       const char *what) {
  const double mag = (std::fabs(a) + std::fabs(b)) * (std::fabs(c) + std::fabs(s));
  if (!std::isfinite(mag) || mag > 1e30) return;  // inputs near overflow: no cheap bound
  const double want_a = a * c - b * s, want_b = b * c + a * s;
  const double tol = mag * (4 * 0x1p-24 + dtype_epsilon(dt)) + dtype_tiny(dt);
  if (!(std::fabs(got_a - want_a) <= tol + std::fabs(want_a) * dtype_epsilon(dt)) ||
      !(std::fabs(got_b - want_b) <= tol + std::fabs(want_b) * dtype_epsilon(dt))) {
    std::fprintf(stderr, "%s: a=%g b=%g c=%g s=%g got (%g, %g) want (%g, %g)\n", what, a, b, c, s, got_a, got_b,
                 want_a, want_b);
    fail(what);
  }
}

// Reads an int that is mostly one of the valid enum values and sometimes anything.
inline int enum_value(FuzzedDataProvider &in, int count) {
  const uint8_t pick = in.ConsumeIntegral<uint8_t>();
  if (pick < 240) return pick % count;
  return in.ConsumeIntegral<int32_t>();
}

}  // namespace fuzz

namespace fuzz {

// Largest finite value of a dtype: a result past it rounds to infinity (not an error).
inline double dtype_max(int dt) { return dt == ROTOR_DTYPE_F16 ? 65504.0 : 3.4028234663852886e38; }

// A small valid table in an arena of exactly rotor_table_arena_size bytes (so the table's own
// writes are bounds-checked too), with a scaling type, pairing and growth drawn from the input.
struct SmallTable {
  rotor_table *table = nullptr;
  Block arena;
  rotor_config cfg{};
  int scaling = ROTOR_SCALING_NONE;
  int pairing = ROTOR_PAIRING_HALF;
  std::vector<float> long_factor, short_factor;
};

inline bool make_small_table(FuzzedDataProvider &in, SmallTable *st) {
  const uint32_t rotary_dim = 2 * in.ConsumeIntegralInRange<uint32_t>(1, 32);
  rotor_config_init(&st->cfg, rotary_dim);
  st->pairing = in.ConsumeBool() ? ROTOR_PAIRING_INTERLEAVED : ROTOR_PAIRING_HALF;
  st->cfg.pairing = static_cast<rotor_pairing>(st->pairing);
  st->cfg.max_len = in.ConsumeIntegralInRange<uint32_t>(1, 256);
  st->cfg.initial_len = in.ConsumeIntegralInRange<uint32_t>(0, 300);
  st->cfg.growth = static_cast<rotor_growth>(in.ConsumeIntegralInRange<int>(0, 3));
  st->cfg.growth_increment = in.ConsumeIntegralInRange<uint32_t>(1, 100);
  st->cfg.growth_margin = float(in.ConsumeIntegralInRange<int>(0, 8)) * 0.25f;
  st->cfg.growth_threshold = float(in.ConsumeIntegralInRange<int>(1, 4)) * 0.25f;
  st->cfg.base = in.ConsumeBool() ? 10000.0 : 500000.0;
  st->scaling = in.ConsumeIntegralInRange<int>(0, 6);
  if (rotary_dim < 4 && (st->scaling == ROTOR_SCALING_NTK || st->scaling == ROTOR_SCALING_DYNAMIC_NTK))
    st->scaling = ROTOR_SCALING_NONE;  // NTK needs r >= 4 (r - 2 divides)
  st->cfg.scaling = static_cast<rotor_scaling>(st->scaling);
  st->cfg.original_max_len = in.ConsumeIntegralInRange<uint32_t>(1, 64);
  switch (st->scaling) {
    case ROTOR_SCALING_LINEAR: st->cfg.factor = 2.0f; break;
    case ROTOR_SCALING_NTK:
      st->cfg.factor = float(in.ConsumeIntegralInRange<int>(1, 4));
      st->cfg.ntk_dynamic = in.ConsumeBool() ? 1 : 0;
      break;
    case ROTOR_SCALING_DYNAMIC_NTK: st->cfg.factor = 2.0f; break;
    case ROTOR_SCALING_YARN: st->cfg.factor = 4.0f; break;
    case ROTOR_SCALING_LLAMA3: st->cfg.factor = 8.0f; break;
    case ROTOR_SCALING_LONGROPE:
      st->cfg.factor = 4.0f;
      for (uint32_t i = 0; i < rotary_dim / 2; ++i) {
        st->short_factor.push_back(1.0f + 0.25f * float(i % 4));
        st->long_factor.push_back(1.0f + float(i));
      }
      st->cfg.long_factor = st->long_factor.data();
      st->cfg.short_factor = st->short_factor.data();
      break;
    default: break;
  }
  const size_t bytes = rotor_table_arena_size(&st->cfg);
  require(bytes > 0, "arena size of a valid config is 0");
  st->arena = Block(bytes);
  rotor_status s = rotor_table_init(&st->table, &st->cfg, st->arena.data(), bytes);
  require(s == ROTOR_OK, "init of a valid config failed", s);
  return true;
}

inline rotor_table_stats table_stats(rotor_table *t) {
  rotor_table_stats s{};
  s.struct_size = sizeof s;
  require(rotor_table_stats_get(t, &s) == ROTOR_OK, "stats_get failed");
  return s;
}

}  // namespace fuzz

namespace fuzz {

// Outcome counters, printed at exit when ROTOR_FUZZ_STATS is set: they show how often a
// target reaches its success path and its reference checks (not only the error paths).
struct Tally {
  const char *names[16] = {};
  uint64_t counts[16] = {};
  ~Tally() {
    if (std::getenv("ROTOR_FUZZ_STATS") == nullptr) return;
    for (int i = 0; i < 16 && names[i] != nullptr; ++i) std::fprintf(stderr, "tally %s: %llu\n", names[i],
                                                                     static_cast<unsigned long long>(counts[i]));
  }
};
inline void count(const char *name) {
  static Tally tally;
  for (int i = 0; i < 16; ++i) {
    if (tally.names[i] == nullptr) tally.names[i] = name;
    if (tally.names[i] == name || std::strcmp(tally.names[i], name) == 0) {
      ++tally.counts[i];
      return;
    }
  }
}

}  // namespace fuzz
