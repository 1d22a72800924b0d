// Random cases of rotor_cuda_apply / rotor_cuda_apply_qk shared by the GPU tests
// (tests/test_cuda.cpp) and the host runs of the CUDA code (tests/cuda_host/): shapes, strides
// (bshd, bhsd, padded, fused QKV, starts off the 16-byte grid), partial rotary dims, dtypes and
// pairings, as element offsets into one buffer; a whole random call (table, mirror, positions);
// the setups of tables both suites mirror; and distances between result buffers. Only rotor.h
// and rotor_cuda.h: the mirror's stream is a void *, so the GPU tests pass a cudaStream_t and
// the host runs a made-up handle.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/half.hpp"
#include "reference.hpp"
#include "rotor/rotor.h"
#include "rotor/rotor_cuda.h"

namespace cuda_case {

inline size_t elem_size(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 4 : 2; }

// Buffer of random values representable in dtype (bytes, host side).
inline std::vector<unsigned char> random_bytes(rotor_dtype dt, size_t elems, std::mt19937 &rng) {
  std::vector<unsigned char> bytes(elems * elem_size(dt));
  std::uniform_real_distribution<float> dist(-3.0f, 3.0f);
  for (size_t i = 0; i < elems; ++i) {
    const float f = dist(rng);
    if (dt == ROTOR_DTYPE_F32) {
      std::memcpy(&bytes[i * 4], &f, 4);
    } else {
      const uint16_t h = dt == ROTOR_DTYPE_F16 ? rotor::float_to_f16(f) : rotor::float_to_bf16(f);
      std::memcpy(&bytes[i * 2], &h, 2);
    }
  }
  return bytes;
}

// Ordered integer of a 16-bit float pattern: neighbours differ by 1, +0 and -0 are equal.
inline int32_t ordered16(uint16_t h) { return (h & 0x8000u) ? -int32_t(h & 0x7fffu) : int32_t(h); }

// Largest distance, in ulps of the type, between two buffers of dtype elements.
inline int64_t max_ulps(rotor_dtype dt, const std::vector<unsigned char> &a, const std::vector<unsigned char> &b,
                 size_t *where) {
  int64_t worst = 0;
  const size_t n = a.size() / elem_size(dt);
  for (size_t i = 0; i < n; ++i) {
    int64_t d;
    if (dt == ROTOR_DTYPE_F32) {
      float x, y;
      std::memcpy(&x, &a[i * 4], 4);
      std::memcpy(&y, &b[i * 4], 4);
      d = ref::ulp_distance(x, y);
    } else {
      uint16_t x, y;
      std::memcpy(&x, &a[i * 2], 2);
      std::memcpy(&y, &b[i * 2], 2);
      d = std::llabs(int64_t(ordered16(x)) - int64_t(ordered16(y)));
    }
    if (d > worst) {
      worst = d;
      *where = i;
    }
  }
  return worst;
}

inline int64_t allowed_ulps(rotor_dtype dt) { return dt == ROTOR_DTYPE_F32 ? 2 : 1; }

// One random case: Q (and K for apply_qk) as element offsets into one buffer.
struct Case {
  rotor_dtype dtype;
  rotor_pairing pairing;
  uint32_t rotary_dim;
  bool qk;
  rotor_tensor q{}, k{};       // data holds the element offset, rebased with at()
  size_t elems = 0;            // buffer length in elements
  std::string describe;
};

inline uint64_t span_of(const rotor_tensor &v) {
  return uint64_t(v.batch - 1) * uint64_t(v.stride_batch) + uint64_t(v.seq - 1) * uint64_t(v.stride_seq) +
         uint64_t(v.heads - 1) * uint64_t(v.stride_head) + v.head_dim;
}

inline rotor_tensor at(const rotor_tensor &v, void *base) {
  rotor_tensor out = v;
  out.data = static_cast<unsigned char *>(base) + reinterpret_cast<uintptr_t>(v.data) * elem_size(v.dtype);
  return out;
}

inline Case random_case(std::mt19937 &rng) {
  auto pick = [&](uint32_t lo, uint32_t hi) { return std::uniform_int_distribution<uint32_t>(lo, hi)(rng); };
  Case c;
  c.dtype = rotor_dtype(pick(0, 2));
  c.pairing = rotor_pairing(pick(0, 1));
  c.qk = pick(0, 1) == 1;
  static const uint32_t dims[] = {2, 6, 8, 16, 24, 32, 64, 80, 96, 128};
  const uint32_t head_dim = dims[pick(0, 9)] + (pick(0, 3) == 0 ? 2 * pick(1, 8) : 0);
  c.rotary_dim = pick(0, 2) == 0 ? 2 * pick(1, head_dim / 2) : head_dim;  // partial rotary a third of the time
  const uint32_t batch = pick(1, 3), seq = pick(1, 33), hq = pick(1, 6), hk = c.qk ? pick(1, hq) : 0;
  const uint32_t layout = pick(0, 3);
  const uint32_t shift = pick(0, 2) == 0 ? pick(1, 3) : 0;  // start off the 16-byte grid sometimes
  rotor_tensor q{}, k{};
  q.dtype = k.dtype = c.dtype;
  q.batch = k.batch = batch;
  q.seq = k.seq = seq;
  q.heads = hq;
  k.heads = hk;
  q.head_dim = k.head_dim = head_dim;
  const char *name = "";
  switch (layout) {
    case 0:  // [b, s, h, d], K after Q
    case 1: {  // [b, h, s, d]
      for (rotor_tensor *v : {&q, &k}) {
        if (v->heads == 0) continue;
        rotor_tensor t = layout == 0 ? rotor_tensor_bshd(nullptr, c.dtype, batch, seq, v->heads, head_dim)
                                     : rotor_tensor_bhsd(nullptr, c.dtype, batch, seq, v->heads, head_dim);
        v->stride_batch = t.stride_batch;
        v->stride_seq = t.stride_seq;
        v->stride_head = t.stride_head;
      }
      q.data = reinterpret_cast<void *>(uintptr_t{shift});
      k.data = reinterpret_cast<void *>(uintptr_t(shift + span_of(q) + pick(0, 5)));
      name = layout == 0 ? "bshd" : "bhsd";
      break;
    }
    case 2: {  // padded: gaps between heads, tokens and batches
      for (rotor_tensor *v : {&q, &k}) {
        if (v->heads == 0) continue;
        v->stride_head = head_dim + pick(0, 5);
        v->stride_seq = int64_t(v->heads) * v->stride_head + pick(0, 7);
        v->stride_batch = int64_t(seq) * v->stride_seq + pick(0, 9);
      }
      q.data = reinterpret_cast<void *>(uintptr_t{shift});
      k.data = reinterpret_cast<void *>(uintptr_t(shift + span_of(q) + pick(0, 5)));
      name = "padded";
      break;
    }
    default: {  // fused QKV [b, s, (hq + 2 hk) * d] (hk = hq when only Q is rotated)
      const uint32_t kv = c.qk ? hk : hq;
      const int64_t row = int64_t(hq + 2 * kv) * head_dim;
      for (rotor_tensor *v : {&q, &k}) {
        v->stride_head = head_dim;
        v->stride_seq = row;
        v->stride_batch = int64_t(seq) * row;
      }
      q.data = reinterpret_cast<void *>(uintptr_t{shift});
      k.data = reinterpret_cast<void *>(uintptr_t(shift + uint64_t(hq) * head_dim));
      name = "fused-qkv";
      break;
    }
  }
  c.q = q;
  c.k = k;
  c.elems = size_t(reinterpret_cast<uintptr_t>(q.data) + span_of(q));
  if (c.qk) c.elems = std::max(c.elems, size_t(reinterpret_cast<uintptr_t>(k.data) + span_of(k)));
  if (layout == 3) c.elems = shift + size_t(batch) * size_t(q.stride_batch);  // V included
  c.elems += pick(0, 4);
  c.describe = std::string(name) + " dtype=" + std::to_string(c.dtype) + " pairing=" + std::to_string(c.pairing) +
               " r=" + std::to_string(c.rotary_dim) + " d=" + std::to_string(head_dim) +
               " b=" + std::to_string(batch) + " s=" + std::to_string(seq) + " hq=" + std::to_string(hq) +
               " hk=" + std::to_string(hk) + " shift=" + std::to_string(shift) + (c.qk ? " qk" : "");
  return c;
}

// A mirror that destroys itself; status: what rotor_cuda_table_create returned.
struct MirrorHandle {
  rotor_cuda_table *t = nullptr;
  rotor_status status = ROTOR_OK;
  MirrorHandle(rotor_table *host, void *stream) { status = rotor_cuda_table_create(&t, host, stream); }
  ~MirrorHandle() { rotor_cuda_table_destroy(t); }
  MirrorHandle(const MirrorHandle &) = delete;
  MirrorHandle &operator=(const MirrorHandle &) = delete;
  uint32_t rows() const {
    uint32_t r = 0;
    rotor_cuda_table_rows(t, &r);
    return r;
  }
  // Tokens skipped since the last take (UINT32_MAX when the take itself fails).
  uint32_t take_skipped(void *stream) const {
    uint32_t skipped = 0;
    return rotor_cuda_table_take_errors(t, stream, &skipped, nullptr) == ROTOR_OK ? skipped : UINT32_MAX;
  }
};

// A table that computes rows only as calls ask (exact growth, no growing ahead), so the rows a
// mirror holds, and the copies that bring them, are known row for row.
inline rotor_config on_demand_config(uint32_t rotary_dim, rotor_pairing pairing, uint32_t max_len,
                                     uint32_t initial_len) {
  rotor_config cfg = ref::config(rotary_dim, pairing, max_len, initial_len);
  cfg.growth = ROTOR_GROWTH_EXACT;
  cfg.growth_threshold = 1.0f;
  return cfg;
}

// The adaptive scalings whose new rows a mirror must copy whole: a rescale (dynamic NTK, NTK
// adopting a larger k) or an NTK outlier served with one-off rows (ntk_dynamic = 0).
struct Rescaling {
  rotor_scaling scaling;
  int ntk_dynamic;
};

inline std::string describe(const Rescaling &r) {
  return "scaling " + std::to_string(r.scaling) + " ntk_dynamic " + std::to_string(r.ntk_dynamic);
}

// Factor 2 over 256 trained positions on 4096: calls ending past 512 rescale or take one-off
// rows, shorter ones do not.
inline rotor_config rescaling_config(uint32_t rotary_dim, rotor_pairing pairing, const Rescaling &r) {
  rotor_config cfg = ref::config(rotary_dim, pairing, 4096, 64);
  cfg.scaling = r.scaling;
  cfg.factor = 2.0f;
  cfg.original_max_len = 256;
  cfg.ntk_dynamic = r.ntk_dynamic;
  return cfg;
}

// The case's call on the host (rotor_apply or rotor_apply_qk), its views rebased on `base`.
inline rotor_status apply_on_host(rotor_table *table, const Case &c, void *base, const int32_t *positions,
                                  uint32_t offset, rotor_direction dir) {
  rotor_tensor q = at(c.q, base), k = at(c.k, base);
  return c.qk ? rotor_apply_qk(table, &q, &k, positions, offset, dir, nullptr)
              : rotor_apply(table, &q, positions, offset, dir, nullptr);
}

// The same call through the mirror (rotor_cuda_apply or rotor_cuda_apply_qk) on device memory.
inline rotor_status apply_on_mirror(rotor_cuda_table *mirror, const Case &c, void *base, const int32_t *positions,
                                    uint32_t offset, rotor_direction dir, void *stream) {
  rotor_tensor q = at(c.q, base), k = at(c.k, base);
  return c.qk ? rotor_cuda_apply_qk(mirror, &q, &k, positions, offset, dir, stream)
              : rotor_cuda_apply(mirror, &q, positions, offset, dir, stream);
}

// One random call of a random case, drawn from rng in a fixed order so a seed always gives the
// same calls: the table (max_len 2048, a random base) and its mirror, the buffer's bytes, the
// direction, and either an offset or device positions (one per token, below a limit the mirror
// is synced to first: positions never skip). problem is empty when all of that worked.
struct RandomCall {
  Case c;
  ref::Table table;
  MirrorHandle mirror;
  std::vector<unsigned char> original;
  rotor_direction dir = ROTOR_FORWARD;
  bool device_positions = false;
  std::vector<int32_t> positions;  // one per token (all 0 when the call takes an offset)
  uint32_t offset = 0;
  std::string problem;

  RandomCall(std::mt19937 &rng, void *stream)
      : c(random_case(rng)), table(random_base(c, rng)), mirror(table, stream) {
    if (table.t == nullptr) problem = "the table was not created";
    else if (mirror.status != ROTOR_OK) problem = "the mirror was not created: " + std::to_string(mirror.status);
    original = random_bytes(c.dtype, c.elems, rng);
    dir = rotor_direction(rng() % 2);
    device_positions = rng() % 2 == 0;
    positions.assign(size_t(c.q.batch) * c.q.seq, 0);
    if (device_positions) {
      const uint32_t limit = 1 + uint32_t(rng() % 1500);
      if (problem.empty()) {
        const rotor_status synced = rotor_cuda_table_sync(mirror.t, limit, stream);
        if (synced != ROTOR_OK) problem = "sync to " + std::to_string(limit) + ": " + std::to_string(synced);
        else if (mirror.rows() < limit) problem = "sync to " + std::to_string(limit) + " left fewer rows";
      }
      for (int32_t &p : positions) p = int32_t(rng() % limit);
    } else {
      offset = uint32_t(rng() % (2048 - c.q.seq));
    }
  }
  RandomCall(const RandomCall &) = delete;
  RandomCall &operator=(const RandomCall &) = delete;

  // The positions as the host takes them (NULL: the offset).
  const int32_t *host_positions() const { return device_positions ? positions.data() : nullptr; }

  // The call on the host on a copy of the original bytes: the expected result, or empty when
  // the host refuses the call.
  std::vector<unsigned char> expected() const {
    std::vector<unsigned char> bytes = original;
    if (apply_on_host(table, c, bytes.data(), host_positions(), offset, dir) != ROTOR_OK) bytes.clear();
    return bytes;
  }

 private:
  static rotor_config random_base(const Case &c, std::mt19937 &rng) {
    rotor_config cfg = ref::config(c.rotary_dim, c.pairing, 2048, 16);
    cfg.base = std::uniform_real_distribution<double>(500.0, 1e6)(rng);
    return cfg;
  }
};

// The test of device positions out of the rows a mirror holds, as both suites run it: an
// on-demand table (r = d = 16) whose mirror holds its 16 initial rows, Q of 4 heads and K of 2
// ([1, s, h, d] one after the other in one buffer), and positions in range, at the edge, past
// it, negative and far off, one per token. bad: the tokens the kernels must leave untouched
// and count once each.
struct PastTheMirror {
  static constexpr uint32_t d = 16, hq = 4, hk = 2;
  ref::Table table;
  MirrorHandle mirror;
  const int32_t held;
  const std::vector<int32_t> positions;
  const std::vector<bool> bad;
  const uint32_t s;

  explicit PastTheMirror(void *stream)
      : table(on_demand_config(16, ROTOR_PAIRING_HALF, 4096, 16)),
        mirror(table, stream),
        held(int32_t(mirror.rows())),
        positions{0, held - 1, held, -5, 4000, 3, INT32_MIN, 7},
        bad{false, false, true, true, true, false, true, false},
        s(uint32_t(positions.size())) {}

  size_t q_elems() const { return size_t(s) * hq * d; }
  size_t elems() const { return q_elems() + size_t(s) * hk * d; }
  rotor_tensor q_at(void *base, rotor_dtype dt) const { return rotor_tensor_bshd(base, dt, 1, s, hq, d); }
  rotor_tensor k_at(void *base, rotor_dtype dt) const {
    return rotor_tensor_bshd(static_cast<unsigned char *>(base) + q_elems() * elem_size(dt), dt, 1, s, hk, d);
  }

  // What the good tokens must become: the host's rotor_apply_qk on a copy, the bad tokens'
  // positions replaced by 0 (their results are not compared); empty if the host refuses.
  std::vector<unsigned char> expected(const std::vector<unsigned char> &original, rotor_dtype dt) const {
    std::vector<unsigned char> bytes = original;
    std::vector<int32_t> clipped = positions;
    for (size_t i = 0; i < clipped.size(); ++i)
      if (bad[i]) clipped[i] = 0;
    rotor_tensor q = q_at(bytes.data(), dt), k = k_at(bytes.data(), dt);
    if (rotor_apply_qk(table, &q, &k, clipped.data(), 0, ROTOR_FORWARD, nullptr) != ROTOR_OK) bytes.clear();
    return bytes;
  }
};

// The invalid-call tests of both suites: a table of 64 rows (r = 8) and its mirror, and the
// bytes of Q and K [1, 4, 2, 8] f32 one after the other (4 floats of slack after them, so views
// may start off an element). views(base): Q, K and views that each break one rule.
struct InvalidCalls {
  static constexpr uint32_t r = 8, d = 8, s = 4, h = 2;
  static constexpr size_t q_elems = size_t(s) * h * d;
  ref::Table table;
  MirrorHandle mirror;
  std::vector<unsigned char> original;

  explicit InvalidCalls(void *stream) : table(ref::config(r, ROTOR_PAIRING_HALF, 64, 16)), mirror(table, stream) {
    std::mt19937 rng(1);
    original = random_bytes(ROTOR_DTYPE_F32, 2 * q_elems + 4, rng);
  }

  struct Views {
    rotor_tensor q, k;
    rotor_tensor narrow;             // head_dim < r
    rotor_tensor shifted;            // shares elements with q
    rotor_tensor shorter, other_batch, other_type;  // K unlike Q
    rotor_tensor bad_dtype, null_data, zero_seq, negative_stride, overlapping_heads, misaligned;
  };
  static Views views(void *base) {
    float *f = static_cast<float *>(base);
    Views v;
    v.q = rotor_tensor_bshd(f, ROTOR_DTYPE_F32, 1, s, h, d);
    v.k = rotor_tensor_bshd(f + q_elems, ROTOR_DTYPE_F32, 1, s, h, d);
    v.narrow = rotor_tensor_bshd(f, ROTOR_DTYPE_F32, 1, s, h * d / 4, 4);
    v.shifted = rotor_tensor_bshd(f + 4, ROTOR_DTYPE_F32, 1, s, h, d);
    v.shorter = rotor_tensor_bshd(f + q_elems, ROTOR_DTYPE_F32, 1, s - 1, h, d);
    v.other_batch = rotor_tensor_bshd(f + q_elems, ROTOR_DTYPE_F32, 2, s / 2, h, d);
    v.other_type = rotor_tensor_bshd(f + q_elems, ROTOR_DTYPE_F16, 1, s, h, d);
    v.bad_dtype = v.null_data = v.zero_seq = v.negative_stride = v.overlapping_heads = v.misaligned = v.q;
    v.bad_dtype.dtype = rotor_dtype(7);
    v.null_data.data = nullptr;
    v.zero_seq.seq = 0;
    v.negative_stride.stride_head = -8;
    v.overlapping_heads.stride_head = 4;
    v.misaligned.data = static_cast<unsigned char *>(base) + 2;
    return v;
  }
};

}  // namespace cuda_case
