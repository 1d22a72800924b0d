// The measurement study of issue 26 (quantized KV caches), written before the feature: which key
// layout and which RoPE design a q8_0 / q4_0 cache should have in rotor. One self-contained
// program, no Google Benchmark; docs/quantized-kv.md has the question, the results and the
// recommendation.
//
// Decode step, GQA 32 q heads / 8 kv heads, d 128, N cached tokens (8192, 32768), 1 and 2 threads:
//   f16-lib    rotor_attention_forward on an f16 cache (the library itself: the baseline)
//   f16-dm     f16 keys in rotor's layout ([dim][64 tokens] blocks), f16 value rows, re-implemented
//              here with the same driver as the quantized variants (so their ratios compare kernels)
//   q8-dm      q8_0 keys (ggml's per-token 32-dim blocks: the same numbers), stored dimension-major
//              in 64-token blocks: int8 [128][64] then f16 scales [4][64] (136 B per token, as
//              ggml); score = per 32-dim group sum of q_d * k_int, times the group's per-token scale
//   q8-rows    q8_0 keys in ggml's own layout: [token][4 blocks of 34 bytes]
//   q4-dm      q4_0 keys dimension-major: nibbles [128][32 bytes] (byte j: token j low, token j + 32
//              high) then f16 scales [4][64] (72 B per token, as ggml)
//   q4-rows    q4_0 keys in ggml's layout: [token][4 blocks of 18 bytes]
//   q8-dm-B    design B: q8_0 keys stored UN-rotated, each rotated inside the score kernel by its
//              position's cos/sin (a table stored [pair][position], read once per block for the
//              kv heads of a thread)
//   q8-ch      not ggml's blocks: per-channel key scales (one f16 per dimension and 64-token block,
//              KIVI-style; 132 B per token), folded into the query once per block
//   q8-dmp     q8-dm's bytes with each dimension pair interleaved per token ([64 pairs][64][2]),
//              scored with vpdpwssd on an int16-quantized query (AVX512-VNNI)
//   q8-int     q8-dmp keys, and q8_0 values as token pairs ([32 pairs][128][2] + scales per
//              64-token block) accumulated with vpdpwssd on int16 weights
// Values are ggml rows in the cache's type ([token][4 blocks]), f16 rows for f16.
// Each variant's time is compared with a same-run streaming read of its own keys and values.
//
// Accuracy: attention output against a double-precision attention over the f32 cache (f32 keys
// rotated in double), relative RMS over the 32 heads x 128 dims, on N(0,1) keys and values and on
// keys with 4 outlier channels (x10 .. x20, before rotation): the kernels here, a double
// attention over each dequantized cache, and ggml's CPU rule for q8_0 / q4_0 keys (the query
// quantized to q8_0, integer block dots times the two f16 scales: ggml_compute_forward_flash_attn_ext
// with kq_vec_dot), written plainly here; it matches ggml built and run on the inputs `dump`
// writes to 3 digits (docs/quantized-kv.md).
//
// Context shift: 64 StreamingLLM shifts (sink 4) of a q8_0 cache, design A (each moved key
// dequantized, rotated by the angle difference in double, quantized again in place) and design B
// (un-rotated keys: a shift only moves bytes), against a fresh prefill of the kept tokens at their
// new positions.
//
//   build/bench/rotor_kv_quant_study                 # everything (about a minute)
//   build/bench/rotor_kv_quant_study accuracy|shift|decode [rounds] [tokens] [heads-inner]
//   build/bench/rotor_kv_quant_study dump DIR          # the accuracy inputs, for a check with ggml
//   build/bench/rotor_kv_quant_study library           # accuracy and 64 shifts through the library's
//                                                      # quantized caches (after issue 26; under a minute)
//   build/bench/rotor_kv_quant_study libsteps KEY VALUE FLAGS TOKENS STEPS  # library decode steps alone,
//                                                      # for perf record --delay (dtype numbers: rotor_dtype)
//   KVQ_PART=1 (scores only) or 2 (scores and softmax) times part of each step (the breakdown).
// Step and read times are CPU time per thread (CLOCK_PROCESS_CPUTIME_ID / threads): the machine
// this was written on is shared, and wall time is printed beside them.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <time.h>
#include <vector>

#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__F16C__)
// GCC 12's AVX-512 headers start some intrinsics from _mm512_undefined_*(), which its
// -Wuninitialized reports at every use (GCC bug 105593): silenced for those headers only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#pragma GCC diagnostic pop
#define KVQ_AVX512 1
#else
#define KVQ_AVX512 0
#endif

#include "attention/kv_cache.hpp"  // only to give the f16-lib cache a length without a 40 s prefill
#include "rotor/rotor.h"

namespace {

constexpr uint32_t kQHeads = 32, kKvHeads = 8, kDim = 128, kGroup = kQHeads / kKvHeads;
constexpr uint32_t kBlk = 64;          // tokens per key block (rotor's kKeyBlock)
constexpr uint32_t kHalf = kDim / 2;   // rotated pairs (i, i + 64): ROTOR_PAIRING_HALF
constexpr uint32_t kQBlocks = kDim / 32;
constexpr double kBase = 10000.0;

// ---- memory ------------------------------------------------------------------------------------
struct Buffer {
  unsigned char *p = nullptr;
  size_t n = 0;
  explicit Buffer(size_t bytes = 0) : n(bytes) {
    if (bytes) {
      p = static_cast<unsigned char *>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
      if (!p) { std::fprintf(stderr, "out of memory\n"); std::exit(1); }
      std::memset(p, 0, bytes);
    }
  }
  Buffer(const Buffer &) = delete;
  Buffer &operator=(const Buffer &) = delete;
  Buffer(Buffer &&o) noexcept : p(o.p), n(o.n) { o.p = nullptr; o.n = 0; }
  Buffer &operator=(Buffer &&o) noexcept { std::swap(p, o.p); std::swap(n, o.n); return *this; }
  ~Buffer() { std::free(p); }
};

// ---- f16 (nearest even), written plainly so the portable path needs nothing -------------------
uint16_t to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax >= 0x7f800000u) return uint16_t(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u : 0u));
  if (ax >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504
  if (ax < 0x38800000u) {                                   // subnormal or zero in f16
    const uint32_t total = 126u - (ax >> 23);  // f16 subnormal: m * 2^-24, m = mantissa >> total
    if (total > 24) return uint16_t(sign);
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    uint32_t r = m >> total;
    const uint32_t rem = m & ((1u << total) - 1u), halfway = 1u << (total - 1u);
    if (rem > halfway || (rem == halfway && (r & 1u))) ++r;
    return uint16_t(sign | r);
  }
  uint32_t r = ((ax - 0x38000000u) >> 13);
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return uint16_t(sign | r);
}
float from_f16(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  float f;
  if (e == 0) {
    f = std::ldexp(float(m), -24);
    uint32_t x;
    std::memcpy(&x, &f, 4);
    x |= sign;
    std::memcpy(&f, &x, 4);
    return f;
  }
  const uint32_t x = e == 31 ? (sign | 0x7f800000u | (m << 13)) : (sign | ((e + 112u) << 23) | (m << 13));
  std::memcpy(&f, &x, 4);
  return f;
}

// ---- ggml's q8_0 and q4_0 blocks and their reference quantizers (ggml-quants.c's *_ref rules) -
struct Q8Block {
  uint16_t d;
  int8_t qs[32];
};
struct Q4Block {
  uint16_t d;
  uint8_t qs[16];  // element j: low nibble of qs[j]; element j + 16: high nibble
};
static_assert(sizeof(Q8Block) == 34 && sizeof(Q4Block) == 18, "ggml's block sizes");

Q8Block quant_q8(const float *x) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
  const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  Q8Block b;
  b.d = to_f16(d);
  for (int j = 0; j < 32; ++j) b.qs[j] = int8_t(std::round(x[j] * id));
  return b;
}
Q4Block quant_q4(const float *x) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < 32; ++j)
    if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
  const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  Q4Block b;
  b.d = to_f16(d);
  for (int j = 0; j < 16; ++j) {
    const int lo = std::min(15, int(int8_t(x[j] * id + 8.5f)));
    const int hi = std::min(15, int(int8_t(x[j + 16] * id + 8.5f)));
    b.qs[j] = uint8_t(lo | (hi << 4));
  }
  return b;
}
float q8_value(const Q8Block &b, int j) { return float(b.qs[j]) * from_f16(b.d); }
float q4_value(const Q4Block &b, int j) {
  const int n = j < 16 ? (b.qs[j] & 15) : (b.qs[j - 16] >> 4);
  return float(n - 8) * from_f16(b.d);
}

// ---- rotation ------------------------------------------------------------------------------------
double freq(uint32_t i) { return std::pow(kBase, -2.0 * double(i) / double(kDim)); }
// x rotated to position p (pairs (i, i + 64)), in double, rounded once to float.
void rotate_to(const float *x, double p, float *out) {
  for (uint32_t i = 0; i < kHalf; ++i) {
    const double a = p * freq(i), c = std::cos(a), s = std::sin(a);
    const double x0 = x[i], x1 = x[i + kHalf];
    out[i] = float(c * x0 - s * x1);
    out[i + kHalf] = float(s * x0 + c * x1);
  }
}

// ---- data --------------------------------------------------------------------------------------
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) {}
  uint64_t next() {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  double uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }
  float normal() {
    return float(std::sqrt(-2.0 * std::log(uniform())) * std::cos(6.283185307179586 * uniform()));
  }
};

// The outlier channels of the "model-like" keys (pre-rotation), one per 32-dim group of the
// rotated key (channel i pairs with i +- 64), and their factors.
constexpr uint32_t kOutlierChannel[4] = {20, 50, 90, 120};
constexpr float kOutlierFactor[4] = {10.0f, 13.0f, 16.0f, 20.0f};

// One layer's keys (un-rotated, [head][token][dim]), values and a decode query (un-rotated).
struct Data {
  uint32_t n;
  std::vector<float> k0, v, q;
  Data(uint32_t tokens, bool outliers, uint64_t seed)
      : n(tokens), k0(size_t{tokens} * kKvHeads * kDim), v(k0.size()), q(size_t{kQHeads} * kDim) {
    Rng r(seed);
    for (float &x : k0) x = r.normal();
    for (float &x : v) x = r.normal();
    for (float &x : q) x = r.normal();
    if (outliers)
      for (size_t t = 0; t < size_t{tokens} * kKvHeads; ++t)
        for (int o = 0; o < 4; ++o) k0[t * kDim + kOutlierChannel[o]] *= kOutlierFactor[o];
  }
  const float *key(uint32_t h, uint32_t t) const { return &k0[(size_t{h} * n + t) * kDim]; }
  const float *value(uint32_t h, uint32_t t) const { return &v[(size_t{h} * n + t) * kDim]; }
};

// ---- caches ------------------------------------------------------------------------------------
// Q8Ch / Q4Ch: not ggml's blocks but per-channel scales (KIVI, KVQuant): one f16 scale per
// (dimension, 64-token block), int8 [128][64] or nibbles [128][32] then the 128 scales. A block's
// scales need all its 64 keys, so these are filled block by block (accuracy and decode only).
// Q8DMP: q8_0 keys as Q8DM (same bytes, same scales) with the dimensions of each pair (2i, 2i + 1)
// interleaved per token, [64 pairs][64 tokens][2], so that an integer dot instruction
// (vpdpwssd: two int16 products summed into an int32 lane) takes a token's two dimensions at once.
enum class KFmt { F16DM, Q8DM, Q4DM, Q8Rows, Q4Rows, Q8Ch, Q4Ch, Q8DMP };
// Q8P: q8_0 values (the same numbers and bytes as Q8) laid out per 64-token block as int8
// [32 token pairs][128 dims][2] then the f16 scales [4 blocks][64 tokens], so that vpdpwssd sums
// two tokens' products of one dimension (int16 weights x int8 values) in one int32 lane.
enum class VFmt { F16, Q8, Q4, Q8P };

size_t key_bytes_per_head(KFmt f, uint32_t n) {
  switch (f) {
    case KFmt::F16DM: return size_t{n} * kDim * 2;
    case KFmt::Q8DM: case KFmt::Q8Rows: case KFmt::Q8DMP: return size_t{n} * kQBlocks * sizeof(Q8Block);
    case KFmt::Q8Ch: return size_t{n} / kBlk * (kBlk * kDim + kDim * 2);
    case KFmt::Q4Ch: return size_t{n} / kBlk * (kBlk * kDim / 2 + kDim * 2);
    default: return size_t{n} * kQBlocks * sizeof(Q4Block);
  }
}
size_t value_bytes_per_head(VFmt f, uint32_t n) {
  return f == VFmt::F16 ? size_t{n} * kDim * 2 : size_t{n} * kQBlocks * (f == VFmt::Q4 ? 18 : 34);
}
constexpr size_t kQ8DmBlockBytes = kBlk * kDim + kQBlocks * kBlk * 2;      // 8704
constexpr size_t kQ4DmBlockBytes = kBlk * kDim / 2 + kQBlocks * kBlk * 2;  // 4608
constexpr size_t kQ8ChBlockBytes = kBlk * kDim + kDim * 2;                  // 8448: 132 B a token
constexpr size_t kQ4ChBlockBytes = kBlk * kDim / 2 + kDim * 2;              // 4352: 68 B a token

struct Cache {
  std::string name;
  KFmt kf;
  VFmt vf;
  bool unrotated;  // design B: keys stored before rotation
  uint32_t n;      // tokens (capacity and length)
  Buffer keys, values;
  Cache(std::string name_, KFmt k, VFmt v, bool unrot, uint32_t tokens)
      : name(std::move(name_)), kf(k), vf(v), unrotated(unrot), n(tokens),
        keys(key_bytes_per_head(k, tokens) * kKvHeads), values(value_bytes_per_head(v, tokens) * kKvHeads) {}
  size_t bytes() const { return keys.n + values.n; }
  unsigned char *key_head(uint32_t h) const { return keys.p + key_bytes_per_head(kf, n) * h; }
  unsigned char *value_head(uint32_t h) const { return values.p + value_bytes_per_head(vf, n) * h; }

  // Key of (head, token) in float (rotated or not, as stored), from its 128 elements.
  void store_key(uint32_t h, uint32_t t, const float *x) {
    unsigned char *head = key_head(h);
    const uint32_t b = t / kBlk, c = t % kBlk;
    switch (kf) {
      case KFmt::F16DM: {
        uint16_t *blk = reinterpret_cast<uint16_t *>(head) + size_t{b} * kBlk * kDim;
        for (uint32_t i = 0; i < kDim; ++i) blk[i * kBlk + c] = to_f16(x[i]);
        break;
      }
      case KFmt::Q8DM: {
        unsigned char *blk = head + size_t{b} * kQ8DmBlockBytes;
        for (uint32_t g = 0; g < kQBlocks; ++g) {
          const Q8Block q = quant_q8(x + 32 * g);
          for (uint32_t j = 0; j < 32; ++j) reinterpret_cast<int8_t *>(blk)[(32 * g + j) * kBlk + c] = q.qs[j];
          std::memcpy(blk + kBlk * kDim + (g * kBlk + c) * 2, &q.d, 2);
        }
        break;
      }
      case KFmt::Q8DMP: {
        unsigned char *blk = head + size_t{b} * kQ8DmBlockBytes;
        for (uint32_t g = 0; g < kQBlocks; ++g) {
          const Q8Block q = quant_q8(x + 32 * g);
          for (uint32_t j = 0; j < 32; ++j) {
            const uint32_t i = 32 * g + j;
            reinterpret_cast<int8_t *>(blk)[((i / 2) * kBlk + c) * 2 + i % 2] = q.qs[j];
          }
          std::memcpy(blk + kBlk * kDim + (g * kBlk + c) * 2, &q.d, 2);
        }
        break;
      }
      case KFmt::Q4DM: {
        unsigned char *blk = head + size_t{b} * kQ4DmBlockBytes;
        for (uint32_t g = 0; g < kQBlocks; ++g) {
          const Q4Block q = quant_q4(x + 32 * g);
          for (uint32_t j = 0; j < 32; ++j) {
            const unsigned nib = j < 16 ? (q.qs[j] & 15u) : (q.qs[j - 16] >> 4);
            unsigned char &byte = blk[(32 * g + j) * (kBlk / 2) + c % 32];
            byte = c < 32 ? (unsigned char)((byte & 0xf0u) | nib) : (unsigned char)((byte & 0x0fu) | (nib << 4));
          }
          std::memcpy(blk + kBlk * kDim / 2 + (g * kBlk + c) * 2, &q.d, 2);
        }
        break;
      }
      case KFmt::Q8Rows: {
        Q8Block *row = reinterpret_cast<Q8Block *>(head) + size_t{t} * kQBlocks;
        for (uint32_t g = 0; g < kQBlocks; ++g) row[g] = quant_q8(x + 32 * g);
        break;
      }
      case KFmt::Q4Rows: {
        Q4Block *row = reinterpret_cast<Q4Block *>(head) + size_t{t} * kQBlocks;
        for (uint32_t g = 0; g < kQBlocks; ++g) row[g] = quant_q4(x + 32 * g);
        break;
      }
      case KFmt::Q8Ch: case KFmt::Q4Ch: std::fprintf(stderr, "per-channel keys are stored by block\n"); std::exit(1);
    }
  }
  void key(uint32_t h, uint32_t t, float *x) const {
    const unsigned char *head = key_head(h);
    const uint32_t b = t / kBlk, c = t % kBlk;
    switch (kf) {
      case KFmt::F16DM: {
        const uint16_t *blk = reinterpret_cast<const uint16_t *>(head) + size_t{b} * kBlk * kDim;
        for (uint32_t i = 0; i < kDim; ++i) x[i] = from_f16(blk[i * kBlk + c]);
        break;
      }
      case KFmt::Q8DM: {
        const unsigned char *blk = head + size_t{b} * kQ8DmBlockBytes;
        for (uint32_t i = 0; i < kDim; ++i) {
          uint16_t d;
          std::memcpy(&d, blk + kBlk * kDim + ((i / 32) * kBlk + c) * 2, 2);
          x[i] = float(reinterpret_cast<const int8_t *>(blk)[i * kBlk + c]) * from_f16(d);
        }
        break;
      }
      case KFmt::Q8DMP: {
        const unsigned char *blk = head + size_t{b} * kQ8DmBlockBytes;
        for (uint32_t i = 0; i < kDim; ++i) {
          uint16_t d;
          std::memcpy(&d, blk + kBlk * kDim + ((i / 32) * kBlk + c) * 2, 2);
          x[i] = float(reinterpret_cast<const int8_t *>(blk)[((i / 2) * kBlk + c) * 2 + i % 2]) * from_f16(d);
        }
        break;
      }
      case KFmt::Q4DM: {
        const unsigned char *blk = head + size_t{b} * kQ4DmBlockBytes;
        for (uint32_t i = 0; i < kDim; ++i) {
          uint16_t d;
          std::memcpy(&d, blk + kBlk * kDim / 2 + ((i / 32) * kBlk + c) * 2, 2);
          const unsigned byte = blk[i * (kBlk / 2) + c % 32];
          x[i] = float(int(c < 32 ? byte & 15u : byte >> 4) - 8) * from_f16(d);
        }
        break;
      }
      case KFmt::Q8Rows: {
        const Q8Block *row = reinterpret_cast<const Q8Block *>(head) + size_t{t} * kQBlocks;
        for (uint32_t i = 0; i < kDim; ++i) x[i] = q8_value(row[i / 32], int(i % 32));
        break;
      }
      case KFmt::Q8Ch: {
        const unsigned char *blk = head + size_t{b} * kQ8ChBlockBytes;
        for (uint32_t i = 0; i < kDim; ++i) {
          uint16_t d;
          std::memcpy(&d, blk + kBlk * kDim + i * 2, 2);
          x[i] = float(reinterpret_cast<const int8_t *>(blk)[i * kBlk + c]) * from_f16(d);
        }
        break;
      }
      case KFmt::Q4Ch: {
        const unsigned char *blk = head + size_t{b} * kQ4ChBlockBytes;
        for (uint32_t i = 0; i < kDim; ++i) {
          uint16_t d;
          std::memcpy(&d, blk + kBlk * kDim / 2 + i * 2, 2);
          const unsigned byte = blk[i * (kBlk / 2) + c % 32];
          x[i] = float(int(c < 32 ? byte & 15u : byte >> 4) - 8) * from_f16(d);
        }
        break;
      }
      case KFmt::Q4Rows: {
        const Q4Block *row = reinterpret_cast<const Q4Block *>(head) + size_t{t} * kQBlocks;
        for (uint32_t i = 0; i < kDim; ++i) x[i] = q4_value(row[i / 32], int(i % 32));
        break;
      }
    }
  }
  void store_value(uint32_t h, uint32_t t, const float *x) {
    unsigned char *head = value_head(h);
    if (vf == VFmt::F16) {
      for (uint32_t i = 0; i < kDim; ++i) reinterpret_cast<uint16_t *>(head)[size_t{t} * kDim + i] = to_f16(x[i]);
    } else if (vf == VFmt::Q8P) {
      unsigned char *blk = head + size_t{t / kBlk} * kBlk * 136;
      const uint32_t c = t % kBlk;
      for (uint32_t g = 0; g < kQBlocks; ++g) {
        const Q8Block q = quant_q8(x + 32 * g);
        for (uint32_t j = 0; j < 32; ++j) reinterpret_cast<int8_t *>(blk)[((c / 2) * kDim + 32 * g + j) * 2 + c % 2] = q.qs[j];
        std::memcpy(blk + kBlk * kDim + (g * kBlk + c) * 2, &q.d, 2);
      }
    } else if (vf == VFmt::Q8) {
      for (uint32_t g = 0; g < kQBlocks; ++g) reinterpret_cast<Q8Block *>(head)[size_t{t} * kQBlocks + g] = quant_q8(x + 32 * g);
    } else {
      for (uint32_t g = 0; g < kQBlocks; ++g) reinterpret_cast<Q4Block *>(head)[size_t{t} * kQBlocks + g] = quant_q4(x + 32 * g);
    }
  }
  void value(uint32_t h, uint32_t t, float *x) const {
    const unsigned char *head = value_head(h);
    if (vf == VFmt::Q8P) {
      const unsigned char *blk = head + size_t{t / kBlk} * kBlk * 136;
      const uint32_t c = t % kBlk;
      for (uint32_t i = 0; i < kDim; ++i) {
        uint16_t d;
        std::memcpy(&d, blk + kBlk * kDim + ((i / 32) * kBlk + c) * 2, 2);
        x[i] = float(reinterpret_cast<const int8_t *>(blk)[((c / 2) * kDim + i) * 2 + c % 2]) * from_f16(d);
      }
      return;
    }
    for (uint32_t i = 0; i < kDim; ++i) {
      if (vf == VFmt::F16) x[i] = from_f16(reinterpret_cast<const uint16_t *>(head)[size_t{t} * kDim + i]);
      else if (vf == VFmt::Q8) x[i] = q8_value(reinterpret_cast<const Q8Block *>(head)[size_t{t} * kQBlocks + i / 32], int(i % 32));
      else x[i] = q4_value(reinterpret_cast<const Q4Block *>(head)[size_t{t} * kQBlocks + i / 32], int(i % 32));
    }
  }
  // Token t holds the key of position pos (design A: rotated there; B: stored as it is).
  void put(const Data &data, uint32_t h, uint32_t t, uint32_t src, uint32_t pos) {
    float r[kDim];
    if (unrotated) std::memcpy(r, data.key(h, src), sizeof r);
    else rotate_to(data.key(h, src), double(pos), r);
    store_key(h, t, r);
    store_value(h, t, data.value(h, src));
  }
  // Per-channel keys: block b of head h from its 64 keys x[64][128], each channel quantized with
  // ggml's rule for its type over the block's 64 tokens (q8: amax / 127; q4: signed max / -8).
  void store_key_block(uint32_t h, uint32_t b, const float *x) {
    const bool q8 = kf == KFmt::Q8Ch;
    unsigned char *blk = key_head(h) + size_t{b} * (q8 ? kQ8ChBlockBytes : kQ4ChBlockBytes);
    for (uint32_t i = 0; i < kDim; ++i) {
      float amax = 0.0f, mx = 0.0f;
      for (uint32_t t = 0; t < kBlk; ++t)
        if (std::fabs(x[t * kDim + i]) > amax) { amax = std::fabs(x[t * kDim + i]); mx = x[t * kDim + i]; }
      const float d = q8 ? amax / 127.0f : mx / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
      const uint16_t dh = to_f16(d);
      std::memcpy(blk + (q8 ? kBlk * kDim : kBlk * kDim / 2) + i * 2, &dh, 2);
      for (uint32_t t = 0; t < kBlk; ++t) {
        const float v = x[t * kDim + i] * id;
        if (q8) {
          reinterpret_cast<int8_t *>(blk)[i * kBlk + t] = int8_t(std::round(v));
        } else {
          const unsigned nib = unsigned(std::min(15, int(int8_t(v + 8.5f))));
          unsigned char &byte = blk[i * (kBlk / 2) + t % 32];
          byte = t < 32 ? (unsigned char)((byte & 0xf0u) | nib) : (unsigned char)((byte & 0x0fu) | (nib << 4));
        }
      }
    }
  }
  void fill(const Data &data) {
    if (kf == KFmt::Q8Ch || kf == KFmt::Q4Ch) {
      std::vector<float> x(size_t{kBlk} * kDim);
      for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t b = 0; b < n / kBlk; ++b) {
          for (uint32_t t = 0; t < kBlk; ++t) {
            const uint32_t tok = b * kBlk + t;
            if (unrotated) std::memcpy(&x[size_t{t} * kDim], data.key(h, tok), kDim * 4);
            else rotate_to(data.key(h, tok), double(tok), &x[size_t{t} * kDim]);
            store_value(h, tok, data.value(h, tok));
          }
          store_key_block(h, b, x.data());
        }
      return;
    }
    for (uint32_t h = 0; h < kKvHeads; ++h)
      for (uint32_t t = 0; t < n; ++t) put(data, h, t, t, t);
  }
};

// The table as design B reads it: cos and sin of (position, pair) stored [pair][position], so one
// vector load is 16 positions of one pair (the kernel's lanes are tokens).
struct PairTable {
  uint32_t n;
  std::vector<float> cos_, sin_;
  explicit PairTable(uint32_t positions) : n(positions), cos_(size_t{kHalf} * positions), sin_(cos_.size()) {
    for (uint32_t i = 0; i < kHalf; ++i)
      for (uint32_t p = 0; p < positions; ++p) {
        const double a = double(p) * freq(i);
        cos_[size_t{i} * n + p] = float(std::cos(a));
        sin_[size_t{i} * n + p] = float(std::sin(a));
      }
  }
};

// ---- the decode step -----------------------------------------------------------------------------
// q: the 32 rotated queries times the softmax scale; qsum[h][g]: the sum of query h's elements of
// group g (the q4 kernels fold the -8 of every nibble into it); positions[t]: what design B rotates
// cached token t to (the identity unless a shift moved it).
struct Step {
  const float *q;
  float qsum[kQHeads][kQBlocks];
  const PairTable *table;
  uint32_t position_base;  // design B: token t sits at position t + position_base (after shifts: 0)
  // q8-dmp: each query's 32-dim groups quantized to int16 (scale amax / 32767; relative error
  // 1.5e-5 of the group's largest element, 300x below q8_0's), as pairs for vpdpwssd.
  int16_t qi[kQHeads][kDim];
  float qscale[kQHeads][kQBlocks];
};

#if KVQ_AVX512
inline __m512 cvt_i8(const void *p) {
  return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(static_cast<const __m128i *>(p))));
}
inline float hf(uint16_t h) { return _cvtsh_ss(h); }
inline void prefetch_ahead(const unsigned char *p, size_t bytes) {
  for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char *>(p) + 4096 + o, _MM_HINT_T0);
}

// exp of x <= 0 (scores minus their maximum): 2^n * e^r, |r| <= ln2 / 2, degree-6 polynomial.
inline __m512 exp512(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-87.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)), _MM_FROUND_TO_NEAREST_INT);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);
  __m512 p = _mm512_set1_ps(1.0f / 720);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// Scores of 4 query rows (q: 4 x 128) against the 64 keys of block b of head h: s[4][64].
void score_f16_dm(const Cache &c, uint32_t h, uint32_t b, const float *q, float *s) {
  const uint16_t *blk = reinterpret_cast<const uint16_t *>(c.key_head(h)) + size_t{b} * kBlk * kDim;
  __m512 acc[4][4];
  for (auto &row : acc)
    for (auto &a : row) a = _mm512_setzero_ps();
  for (uint32_t i = 0; i < kDim; ++i) {
    prefetch_ahead(reinterpret_cast<const unsigned char *>(blk + i * kBlk), 128);
    __m512 k[4];
    for (uint32_t v = 0; v < 4; ++v)
      k[v] = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i *>(blk + i * kBlk + 16 * v)));
    for (uint32_t r = 0; r < 4; ++r) {
      const __m512 x = _mm512_set1_ps(q[r * kDim + i]);
      for (uint32_t v = 0; v < 4; ++v) acc[r][v] = _mm512_fmadd_ps(x, k[v], acc[r][v]);
    }
  }
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(s + r * kBlk + 16 * v, acc[r][v]);
}

void score_q8_dm(const Cache &c, uint32_t h, uint32_t b, const float *q, float *s) {
  const unsigned char *blk = c.key_head(h) + size_t{b} * kQ8DmBlockBytes;
  const uint16_t *scales = reinterpret_cast<const uint16_t *>(blk + kBlk * kDim);
  __m512 tot[4][4];
  for (auto &row : tot)
    for (auto &a : row) a = _mm512_setzero_ps();
  for (uint32_t g = 0; g < kQBlocks; ++g) {
    __m512 acc[4][4];
    for (auto &row : acc)
      for (auto &a : row) a = _mm512_setzero_ps();
    for (uint32_t i = 32 * g; i < 32 * g + 32; ++i) {
      prefetch_ahead(blk + i * kBlk, 64);
      __m512 k[4];
      for (uint32_t v = 0; v < 4; ++v) k[v] = cvt_i8(blk + i * kBlk + 16 * v);
      for (uint32_t r = 0; r < 4; ++r) {
        const __m512 x = _mm512_set1_ps(q[r * kDim + i]);
        for (uint32_t v = 0; v < 4; ++v) acc[r][v] = _mm512_fmadd_ps(x, k[v], acc[r][v]);
      }
    }
    for (uint32_t v = 0; v < 4; ++v) {
      const __m512 d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i *>(scales + g * kBlk + 16 * v)));
      for (uint32_t r = 0; r < 4; ++r) tot[r][v] = _mm512_fmadd_ps(acc[r][v], d, tot[r][v]);
    }
  }
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(s + r * kBlk + 16 * v, tot[r][v]);
}

void score_q4_dm(const Cache &c, uint32_t h, uint32_t b, const float *q, const float (*qsum)[kQBlocks], float *s) {
  const unsigned char *blk = c.key_head(h) + size_t{b} * kQ4DmBlockBytes;
  const uint16_t *scales = reinterpret_cast<const uint16_t *>(blk + kBlk * kDim / 2);
  const __m512i low = _mm512_set1_epi32(15);
  __m512 tot[4][4];
  for (auto &row : tot)
    for (auto &a : row) a = _mm512_setzero_ps();
  for (uint32_t g = 0; g < kQBlocks; ++g) {
    __m512 acc[4][4];
    for (auto &row : acc)
      for (auto &a : row) a = _mm512_setzero_ps();
    for (uint32_t i = 32 * g; i < 32 * g + 32; ++i) {
      if (i % 2 == 0) prefetch_ahead(blk + i * (kBlk / 2), 64);
      const __m512i a = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + i * (kBlk / 2))));
      const __m512i bb = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(blk + i * (kBlk / 2) + 16)));
      const __m512 k[4] = {_mm512_cvtepi32_ps(_mm512_and_si512(a, low)), _mm512_cvtepi32_ps(_mm512_and_si512(bb, low)),
                           _mm512_cvtepi32_ps(_mm512_srli_epi32(a, 4)), _mm512_cvtepi32_ps(_mm512_srli_epi32(bb, 4))};
      for (uint32_t r = 0; r < 4; ++r) {
        const __m512 x = _mm512_set1_ps(q[r * kDim + i]);
        for (uint32_t v = 0; v < 4; ++v) acc[r][v] = _mm512_fmadd_ps(x, k[v], acc[r][v]);
      }
    }
    for (uint32_t v = 0; v < 4; ++v) {
      const __m512 d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i *>(scales + g * kBlk + 16 * v)));
      for (uint32_t r = 0; r < 4; ++r) {
        // sum q (n - 8) = sum q n - 8 sum q
        const __m512 dot = _mm512_fnmadd_ps(_mm512_set1_ps(8.0f), _mm512_set1_ps(qsum[r][g]), acc[r][v]);
        tot[r][v] = _mm512_fmadd_ps(dot, d, tot[r][v]);
      }
    }
  }
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(s + r * kBlk + 16 * v, tot[r][v]);
}

// Per-channel q8 keys: the block's 128 scales fold into the 4 query rows (512 products per block),
// then the f16 kernel's loop on int8.
void score_q8_ch(const Cache &c, uint32_t h, uint32_t b, const float *q, float *s) {
  const unsigned char *blk = c.key_head(h) + size_t{b} * kQ8ChBlockBytes;
  const uint16_t *scales = reinterpret_cast<const uint16_t *>(blk + kBlk * kDim);
  alignas(64) float qs[4][kDim];
  for (uint32_t i = 0; i < kDim; i += 16) {
    const __m512 d = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(scales + i)));
    for (uint32_t r = 0; r < 4; ++r) _mm512_store_ps(qs[r] + i, _mm512_mul_ps(d, _mm512_loadu_ps(q + r * kDim + i)));
  }
  __m512 acc[4][4];
  for (auto &row : acc)
    for (auto &a : row) a = _mm512_setzero_ps();
  for (uint32_t i = 0; i < kDim; ++i) {
    prefetch_ahead(blk + i * kBlk, 64);
    __m512 k[4];
    for (uint32_t v = 0; v < 4; ++v) k[v] = cvt_i8(blk + i * kBlk + 16 * v);
    for (uint32_t r = 0; r < 4; ++r) {
      const __m512 x = _mm512_set1_ps(qs[r][i]);
      for (uint32_t v = 0; v < 4; ++v) acc[r][v] = _mm512_fmadd_ps(x, k[v], acc[r][v]);
    }
  }
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(s + r * kBlk + 16 * v, acc[r][v]);
}

#if defined(__AVX512VNNI__)
// q8-dmp: int16 queries x int8 keys widened to int16, 32 products per instruction (vpdpwssd),
// accumulated exactly in int32 over a 32-dim group (|sum| <= 32767 * 127 * 32 < 2^31), then
// scaled by the key's per-token scale and the query's group scale.
void score_q8_dmp(const Cache &c, uint32_t h, uint32_t b, const Step &st, float *s) {
  const unsigned char *blk = c.key_head(h) + size_t{b} * kQ8DmBlockBytes;
  const uint16_t *scales = reinterpret_cast<const uint16_t *>(blk + kBlk * kDim);
  const uint32_t q0 = h * kGroup;
  __m512 tot[4][4];
  for (auto &row : tot)
    for (auto &a : row) a = _mm512_setzero_ps();
  for (uint32_t g = 0; g < kQBlocks; ++g) {
    __m512i acc[4][4];
    for (auto &row : acc)
      for (auto &a : row) a = _mm512_setzero_si512();
    for (uint32_t j = 16 * g; j < 16 * g + 16; ++j) {
      prefetch_ahead(blk + j * kBlk * 2, 128);
      __m512i k[4];
      for (uint32_t v = 0; v < 4; ++v)
        k[v] = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(blk + (j * kBlk + 16 * v) * 2)));
      for (uint32_t r = 0; r < 4; ++r) {
        int32_t pair;
        std::memcpy(&pair, &st.qi[q0 + r][2 * j], 4);
        const __m512i x = _mm512_set1_epi32(pair);
        for (uint32_t v = 0; v < 4; ++v) acc[r][v] = _mm512_dpwssd_epi32(acc[r][v], k[v], x);
      }
    }
    for (uint32_t v = 0; v < 4; ++v) {
      const __m512 d = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i *>(scales + g * kBlk + 16 * v)));
      for (uint32_t r = 0; r < 4; ++r)
        tot[r][v] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][v]), _mm512_mul_ps(d, _mm512_set1_ps(st.qscale[q0 + r][g])), tot[r][v]);
    }
  }
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(s + r * kBlk + 16 * v, tot[r][v]);
}
#endif

// ggml's layout: one token at a time, 4 blocks, a horizontal sum per (row, token).
void score_q8_rows(const Cache &c, uint32_t h, uint32_t b, const float *q, float *s) {
  const Q8Block *row = reinterpret_cast<const Q8Block *>(c.key_head(h)) + size_t{b} * kBlk * kQBlocks;
  for (uint32_t t = 0; t < kBlk; ++t, row += kQBlocks) {
    prefetch_ahead(reinterpret_cast<const unsigned char *>(row), t % 8 < 2 ? 64 : 0);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (uint32_t g = 0; g < kQBlocks; ++g) {
      const __m512 k0 = cvt_i8(row[g].qs), k1 = cvt_i8(row[g].qs + 16);
      const __m512 d = _mm512_set1_ps(hf(row[g].d));
      for (uint32_t r = 0; r < 4; ++r) {
        const __m512 x = _mm512_fmadd_ps(_mm512_loadu_ps(q + r * kDim + 32 * g + 16), k1,
                                         _mm512_mul_ps(_mm512_loadu_ps(q + r * kDim + 32 * g), k0));
        acc[r] = _mm512_fmadd_ps(x, d, acc[r]);
      }
    }
    for (uint32_t r = 0; r < 4; ++r) s[r * kBlk + t] = _mm512_reduce_add_ps(acc[r]);
  }
}

void score_q4_rows(const Cache &c, uint32_t h, uint32_t b, const float *q, float *s) {
  const Q4Block *row = reinterpret_cast<const Q4Block *>(c.key_head(h)) + size_t{b} * kBlk * kQBlocks;
  const __m512i low = _mm512_set1_epi32(15), eight = _mm512_set1_epi32(8);
  for (uint32_t t = 0; t < kBlk; ++t, row += kQBlocks) {
    prefetch_ahead(reinterpret_cast<const unsigned char *>(row), t % 8 == 0 ? 64 : 0);
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (uint32_t g = 0; g < kQBlocks; ++g) {
      const __m512i z = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(row[g].qs)));
      const __m512 k0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(z, low), eight));
      const __m512 k1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(z, 4), eight));
      const __m512 d = _mm512_set1_ps(hf(row[g].d));
      for (uint32_t r = 0; r < 4; ++r) {
        const __m512 x = _mm512_fmadd_ps(_mm512_loadu_ps(q + r * kDim + 32 * g + 16), k1,
                                         _mm512_mul_ps(_mm512_loadu_ps(q + r * kDim + 32 * g), k0));
        acc[r] = _mm512_fmadd_ps(x, d, acc[r]);
      }
    }
    for (uint32_t r = 0; r < 4; ++r) s[r * kBlk + t] = _mm512_reduce_add_ps(acc[r]);
  }
}

// Design B on q8-dm: keys un-rotated; each is dequantized (the pair's two elements lie in groups
// g and g + 2, whose scales differ), rotated by its position's (cos, sin) and scored.
void score_q8_dm_b(const Cache &c, uint32_t h, uint32_t b, const float *q, const Step &st, float *s) {
  const unsigned char *blk = c.key_head(h) + size_t{b} * kQ8DmBlockBytes;
  const uint16_t *scales = reinterpret_cast<const uint16_t *>(blk + kBlk * kDim);
  alignas(64) float sc[kQBlocks][kBlk];
  for (uint32_t g = 0; g < kQBlocks; ++g)
    for (uint32_t v = 0; v < 4; ++v)
      _mm512_store_ps(sc[g] + 16 * v, _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i *>(scales + g * kBlk + 16 * v))));
  const uint32_t p0 = b * kBlk + st.position_base;
  const float *cs = st.table->cos_.data() + p0, *sn = st.table->sin_.data() + p0;
  const size_t tn = st.table->n;
  __m512 acc[4][4];
  for (auto &row : acc)
    for (auto &a : row) a = _mm512_setzero_ps();
  for (uint32_t i = 0; i < kHalf; ++i) {
    prefetch_ahead(blk + i * kBlk, 64);
    prefetch_ahead(blk + (i + kHalf) * kBlk, 64);
    const uint32_t g1 = i / 32, g2 = g1 + 2;
    for (uint32_t v = 0; v < 4; ++v) {
      const __m512 k1 = _mm512_mul_ps(cvt_i8(blk + i * kBlk + 16 * v), _mm512_load_ps(sc[g1] + 16 * v));
      const __m512 k2 = _mm512_mul_ps(cvt_i8(blk + (i + kHalf) * kBlk + 16 * v), _mm512_load_ps(sc[g2] + 16 * v));
      const __m512 co = _mm512_loadu_ps(cs + i * tn + 16 * v), si = _mm512_loadu_ps(sn + i * tn + 16 * v);
      const __m512 r1 = _mm512_fmsub_ps(co, k1, _mm512_mul_ps(si, k2));
      const __m512 r2 = _mm512_fmadd_ps(si, k1, _mm512_mul_ps(co, k2));
      for (uint32_t r = 0; r < 4; ++r) {
        acc[r][v] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * kDim + i]), r1, acc[r][v]);
        acc[r][v] = _mm512_fmadd_ps(_mm512_set1_ps(q[r * kDim + i + kHalf]), r2, acc[r][v]);
      }
    }
  }
  for (uint32_t r = 0; r < 4; ++r)
    for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(s + r * kBlk + 16 * v, acc[r][v]);
}

#if defined(__AVX512VNNI__)
// Q8P values: the weights times each token's block scale, quantized to int16 per (row, group,
// block) (scale: the largest / 32767), then vpdpwssd over token pairs, exact in int32 over the
// block (|sum| <= 32767 * 127 * 64 < 2^31), scaled once per block.
void values_q8p(const Cache &c, uint32_t h, uint32_t b, const float *p, float *acc) {
  const unsigned char *blk = c.value_head(h) + size_t{b} * kBlk * 136;
  const uint16_t *scales = reinterpret_cast<const uint16_t *>(blk + kBlk * kDim);
  alignas(64) int16_t wi[4][kQBlocks][kBlk];
  float ws[4][kQBlocks];
  const __m512 sign_off = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (uint32_t g = 0; g < kQBlocks; ++g) {
    __m512 d[4];
    for (uint32_t v = 0; v < 4; ++v) d[v] = _mm512_cvtph_ps(_mm256_load_si256(reinterpret_cast<const __m256i *>(scales + g * kBlk + 16 * v)));
    for (uint32_t r = 0; r < 4; ++r) {
      __m512 w[4], m = _mm512_setzero_ps();
      for (uint32_t v = 0; v < 4; ++v) {
        w[v] = _mm512_mul_ps(_mm512_loadu_ps(p + r * kBlk + 16 * v), d[v]);
        m = _mm512_max_ps(m, _mm512_and_ps(w[v], sign_off));
      }
      const float amax = _mm512_reduce_max_ps(m);
      const float sd = amax / 32767.0f, id = sd != 0.0f ? 1.0f / sd : 0.0f;
      ws[r][g] = sd;
      for (uint32_t v = 0; v < 4; ++v)
        _mm256_store_si256(reinterpret_cast<__m256i *>(wi[r][g] + 16 * v),
                           _mm512_cvtsepi32_epi16(_mm512_cvtps_epi32(_mm512_mul_ps(w[v], _mm512_set1_ps(id)))));
    }
  }
  for (uint32_t half = 0; half < 2; ++half) {
    __m512i a[4][4];
    for (auto &row : a)
      for (auto &x : row) x = _mm512_setzero_si512();
    for (uint32_t j = 0; j < kBlk / 2; ++j) {
      const unsigned char *pair = blk + (size_t{j} * kDim + 64 * half) * 2;
      if (half == 0) prefetch_ahead(pair, 256);
      __m512i x[4];
      for (uint32_t v = 0; v < 4; ++v) x[v] = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(pair + 32 * v)));
      for (uint32_t r = 0; r < 4; ++r)
        for (uint32_t v = 0; v < 4; ++v) {
          int32_t w2;
          std::memcpy(&w2, &wi[r][2 * half + v / 2][2 * j], 4);
          a[r][v] = _mm512_dpwssd_epi32(a[r][v], x[v], _mm512_set1_epi32(w2));
        }
    }
    for (uint32_t r = 0; r < 4; ++r)
      for (uint32_t v = 0; v < 4; ++v) {
        float *o = acc + r * kDim + 64 * half + 16 * v;
        _mm512_storeu_ps(o, _mm512_fmadd_ps(_mm512_cvtepi32_ps(a[r][v]), _mm512_set1_ps(ws[r][2 * half + v / 2]), _mm512_loadu_ps(o)));
      }
  }
}
#endif

// acc[4][128] += sum_t p[r][t] v_t over the 64 values of block b of head h, half the dims at a
// time (16 accumulators).
void values_avx(const Cache &c, uint32_t h, uint32_t b, const float *p, float *acc) {
  const unsigned char *head = c.value_head(h);
  // q8/q4 values: the weights times each token's block scales, wd[r][g][t], formed with vectors
  // once per block (the inner loop then broadcasts them from memory: no scalar multiply, no
  // register broadcast, which compete with the FMAs for the same two ports).
  alignas(64) float wd[4][kQBlocks][kBlk];
  if (c.vf != VFmt::F16) {
    alignas(64) float dsc[kQBlocks][kBlk];
    const size_t row_bytes = c.vf == VFmt::Q8 ? 136 : 72, blk_bytes = c.vf == VFmt::Q8 ? 34 : 18;
    const unsigned char *rows = head + size_t{b} * kBlk * row_bytes;
    for (uint32_t t = 0; t < kBlk; ++t)
      for (uint32_t g = 0; g < kQBlocks; ++g) {
        uint16_t d;
        std::memcpy(&d, rows + t * row_bytes + g * blk_bytes, 2);
        dsc[g][t] = hf(d);
      }
    for (uint32_t r = 0; r < 4; ++r)
      for (uint32_t g = 0; g < kQBlocks; ++g)
        for (uint32_t v = 0; v < 4; ++v)
          _mm512_store_ps(wd[r][g] + 16 * v, _mm512_mul_ps(_mm512_loadu_ps(p + r * kBlk + 16 * v), _mm512_load_ps(dsc[g] + 16 * v)));
  }
  for (uint32_t half = 0; half < 2; ++half) {
    __m512 a[4][4];
    for (uint32_t r = 0; r < 4; ++r)
      for (uint32_t v = 0; v < 4; ++v) a[r][v] = _mm512_loadu_ps(acc + r * kDim + 64 * half + 16 * v);
    for (uint32_t t = 0; t < kBlk; ++t) {
      const size_t tok = size_t{b} * kBlk + t;
      if (c.vf == VFmt::F16) {
        const uint16_t *row = reinterpret_cast<const uint16_t *>(head) + tok * kDim + 64 * half;
        if (half == 0) prefetch_ahead(reinterpret_cast<const unsigned char *>(row), 256);
        __m512 x[4];
        for (uint32_t v = 0; v < 4; ++v) x[v] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i *>(row + 16 * v)));
        for (uint32_t r = 0; r < 4; ++r) {
          const __m512 w = _mm512_set1_ps(p[r * kBlk + t]);
          for (uint32_t v = 0; v < 4; ++v) a[r][v] = _mm512_fmadd_ps(w, x[v], a[r][v]);
        }
      } else if (c.vf == VFmt::Q8) {
        const Q8Block *row = reinterpret_cast<const Q8Block *>(head) + tok * kQBlocks + 2 * half;
        if (half == 0 && t % 16 == 0) prefetch_ahead(reinterpret_cast<const unsigned char *>(row), 16 * 136);
        for (uint32_t j = 0; j < 2; ++j) {
          const __m512 x0 = cvt_i8(row[j].qs), x1 = cvt_i8(row[j].qs + 16);
          for (uint32_t r = 0; r < 4; ++r) {
            const __m512 w = _mm512_set1_ps(wd[r][2 * half + j][t]);
            a[r][2 * j] = _mm512_fmadd_ps(w, x0, a[r][2 * j]);
            a[r][2 * j + 1] = _mm512_fmadd_ps(w, x1, a[r][2 * j + 1]);
          }
        }
      } else {
        const Q4Block *row = reinterpret_cast<const Q4Block *>(head) + tok * kQBlocks + 2 * half;
        if (half == 0 && t % 16 == 0) prefetch_ahead(reinterpret_cast<const unsigned char *>(row), 16 * 72);
        const __m512i low = _mm512_set1_epi32(15), eight = _mm512_set1_epi32(8);
        for (uint32_t j = 0; j < 2; ++j) {
          const __m512i z = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i *>(row[j].qs)));
          const __m512 x0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_and_si512(z, low), eight));
          const __m512 x1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(z, 4), eight));
          for (uint32_t r = 0; r < 4; ++r) {
            const __m512 w = _mm512_set1_ps(wd[r][2 * half + j][t]);
            a[r][2 * j] = _mm512_fmadd_ps(w, x0, a[r][2 * j]);
            a[r][2 * j + 1] = _mm512_fmadd_ps(w, x1, a[r][2 * j + 1]);
          }
        }
      }
    }
    for (uint32_t r = 0; r < 4; ++r)
      for (uint32_t v = 0; v < 4; ++v) _mm512_storeu_ps(acc + r * kDim + 64 * half + 16 * v, a[r][v]);
  }
}
#endif

// Portable kernels: dequantize each key / value and use it (the same numbers, plain arithmetic).
void score_portable(const Cache &c, uint32_t h, uint32_t b, const float *q, const Step &st, float *s) {
  float k[kDim], rk[kDim];
  for (uint32_t t = 0; t < kBlk; ++t) {
    c.key(h, b * kBlk + t, k);
    const float *use = k;
    if (c.unrotated) {
      const size_t p = size_t{b} * kBlk + t + st.position_base;
      for (uint32_t i = 0; i < kHalf; ++i) {
        const float co = st.table->cos_[i * st.table->n + p], si = st.table->sin_[i * st.table->n + p];
        rk[i] = co * k[i] - si * k[i + kHalf];
        rk[i + kHalf] = si * k[i] + co * k[i + kHalf];
      }
      use = rk;
    }
    for (uint32_t r = 0; r < 4; ++r) {
      float acc = 0.0f;
      for (uint32_t i = 0; i < kDim; ++i) acc += q[r * kDim + i] * use[i];
      s[r * kBlk + t] = acc;
    }
  }
}
void values_portable(const Cache &c, uint32_t h, uint32_t b, const float *p, float *acc) {
  float x[kDim];
  for (uint32_t t = 0; t < kBlk; ++t) {
    c.value(h, b * kBlk + t, x);
    for (uint32_t r = 0; r < 4; ++r)
      for (uint32_t i = 0; i < kDim; ++i) acc[r * kDim + i] += p[r * kBlk + t] * x[i];
  }
}

bool g_portable = !KVQ_AVX512;
bool g_heads_inner = false;
// Which parts of a step run (the decode study's breakdown, KVQ_PART): 0 all, 1 scores only,
// 2 scores and softmax (no values).
int g_part = std::getenv("KVQ_PART") ? std::atoi(std::getenv("KVQ_PART")) : 0;  // design A's loop order (set by the decode study's "order" argument)

void score_block(const Cache &c, uint32_t h, uint32_t b, const Step &st, float *s) {
  const float *q = st.q + size_t{h} * kGroup * kDim;
#if KVQ_AVX512
  if (!g_portable) {
    if (c.unrotated && c.kf == KFmt::Q8DM) return score_q8_dm_b(c, h, b, q, st, s);
    if (c.kf == KFmt::Q8Ch && !c.unrotated) return score_q8_ch(c, h, b, q, s);
#if defined(__AVX512VNNI__)
    if (c.kf == KFmt::Q8DMP && !c.unrotated) return score_q8_dmp(c, h, b, st, s);
#endif
    switch (c.kf) {
      case KFmt::F16DM: return score_f16_dm(c, h, b, q, s);
      case KFmt::Q8DM: return score_q8_dm(c, h, b, q, s);
      case KFmt::Q4DM: return score_q4_dm(c, h, b, q, st.qsum + h * kGroup, s);
      case KFmt::Q8Rows: return score_q8_rows(c, h, b, q, s);
      case KFmt::Q4Rows: return score_q4_rows(c, h, b, q, s);
      default: break;
    }
  }
#endif
  score_portable(c, h, b, q, st, s);
}

// One thread's share of a decode step: kv heads [h0, h1), blocks outer and heads inner (design B
// reads each block of the table once for all of them), an online softmax per query row.
void decode_heads(const Cache &c, const Step &st, uint32_t h0, uint32_t h1, float *out) {
  const uint32_t heads = h1 - h0;
  std::vector<float> acc(size_t{heads} * kGroup * kDim, 0.0f), m(size_t{heads} * kGroup, -INFINITY),
      l(size_t{heads} * kGroup, 0.0f);
  alignas(64) float s[kGroup * kBlk];
  // Design A walks one head's blocks after the other (as rotor does: two streams, keys and
  // values); design B walks the blocks in the outer loop so that each block of the table is read
  // once for the thread's heads (heads outer would read the table once per head).
  const uint32_t blocks = c.n / kBlk;
  const bool heads_inner = c.unrotated || g_heads_inner;
  for (uint64_t item = 0; item < uint64_t{blocks} * heads; ++item) {
    {
      const uint32_t b = heads_inner ? uint32_t(item / heads) : uint32_t(item % blocks);
      const uint32_t h = h0 + (heads_inner ? uint32_t(item % heads) : uint32_t(item / blocks));
      score_block(c, h, b, st, s);
      if (g_part == 1) continue;
      float *a = &acc[size_t{h - h0} * kGroup * kDim];
      for (uint32_t r = 0; r < kGroup; ++r) {
        float *sr = s + r * kBlk;
        float &mr = m[(h - h0) * kGroup + r], &lr = l[(h - h0) * kGroup + r];
        float bmax = -INFINITY;
#if KVQ_AVX512
        if (!g_portable)
          bmax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(_mm512_loadu_ps(sr), _mm512_loadu_ps(sr + 16)),
                                                    _mm512_max_ps(_mm512_loadu_ps(sr + 32), _mm512_loadu_ps(sr + 48))));
        else
#endif
          for (uint32_t t = 0; t < kBlk; ++t) bmax = std::max(bmax, sr[t]);
        const float mnew = std::max(mr, bmax);
        const float alpha = std::exp(mr - mnew);
        // The running maximum rarely moves after the first blocks: rescale only when it does.
        if (mnew != mr)
          for (uint32_t i = 0; i < kDim; ++i) a[r * kDim + i] *= alpha;
        float sum = 0.0f;
#if KVQ_AVX512
        if (!g_portable) {
          __m512 tot = _mm512_setzero_ps();
          for (uint32_t t = 0; t < kBlk; t += 16) {
            const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(sr + t), _mm512_set1_ps(mnew)));
            _mm512_storeu_ps(sr + t, e);
            tot = _mm512_add_ps(tot, e);
          }
          sum = _mm512_reduce_add_ps(tot);
        } else
#endif
        {
          for (uint32_t t = 0; t < kBlk; ++t) {
            sr[t] = std::exp(sr[t] - mnew);
            sum += sr[t];
          }
        }
        lr = lr * alpha + sum;
        mr = mnew;
      }
      if (g_part == 2) continue;
#if KVQ_AVX512
      if (!g_portable && c.vf == VFmt::Q8P) {
#if defined(__AVX512VNNI__)
        values_q8p(c, h, b, s, a);
#else
        values_portable(c, h, b, s, a);
#endif
      } else if (!g_portable) values_avx(c, h, b, s, a);
      else
#endif
        values_portable(c, h, b, s, a);
    }
  }
  for (uint32_t h = h0; h < h1; ++h)
    for (uint32_t r = 0; r < kGroup; ++r)
      for (uint32_t i = 0; i < kDim; ++i)
        out[(size_t{h} * kGroup + r) * kDim + i] =
            acc[(size_t{h - h0} * kGroup + r) * kDim + i] / l[(h - h0) * kGroup + r];
}

// ---- two threads: one helper, started once, spinning briefly between jobs -------------------
class Team {
 public:
  explicit Team(int threads) : threads_(threads) {
    if (threads_ > 1) helper_ = std::thread([this] { loop(); });
  }
  ~Team() {
    if (threads_ > 1) {
      stop_ = true;
      gen_.fetch_add(1);
      helper_.join();
    }
  }
  Team(const Team &) = delete;
  Team &operator=(const Team &) = delete;
  int threads() const { return threads_; }
  void run(const std::function<void(int)> &job) {
    if (threads_ == 1) return job(0);
    job_ = &job;
    const uint64_t g = gen_.fetch_add(1) + 1;
    job(0);
    while (done_.load() != g) std::this_thread::yield();
  }

 private:
  void loop() {
    uint64_t seen = 0;
    for (;;) {
      while (gen_.load() == seen) std::this_thread::yield();
      seen = gen_.load();
      if (stop_) return;
      (*job_)(1);
      done_.store(seen);
    }
  }
  int threads_;
  std::thread helper_;
  std::atomic<uint64_t> gen_{0}, done_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)> *job_ = nullptr;
};

void decode(const Cache &c, const Step &st, Team &team, float *out) {
  team.run([&](int tid) {
    const uint32_t per = kKvHeads / uint32_t(team.threads());
    decode_heads(c, st, per * uint32_t(tid), per * uint32_t(tid + 1), out);
  });
}

// A streaming read of [p, p + bytes): the roofline of a step that reads a cache once.
uint64_t read_range(const unsigned char *p, size_t bytes) {
#if KVQ_AVX512
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  size_t o = 0;
  for (; o + 256 <= bytes; o += 256) {
    a0 = _mm512_add_epi32(a0, _mm512_load_si512(p + o));
    a1 = _mm512_add_epi32(a1, _mm512_load_si512(p + o + 64));
    a2 = _mm512_add_epi32(a2, _mm512_load_si512(p + o + 128));
    a3 = _mm512_add_epi32(a3, _mm512_load_si512(p + o + 192));
  }
  uint64_t r = uint64_t(_mm512_reduce_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3))));
  for (; o < bytes; ++o) r += p[o];
  return r;
#else
  uint64_t r = 0;
  for (size_t o = 0; o + 8 <= bytes; o += 8) {
    uint64_t x;
    std::memcpy(&x, p + o, 8);
    r += x;
  }
  return r;
#endif
}
std::atomic<uint64_t> g_sink{0};
void stream_cache(const Cache &c, Team &team) {
  team.run([&](int tid) {
    const size_t nt = size_t(team.threads());
    const size_t kh = (c.keys.n / nt) & ~size_t{63}, vh = (c.values.n / nt) & ~size_t{63};
    const size_t k0 = kh * size_t(tid), v0 = vh * size_t(tid);
    const size_t kn = size_t(tid) + 1 == nt ? c.keys.n - k0 : kh, vn = size_t(tid) + 1 == nt ? c.values.n - v0 : vh;
    g_sink += read_range(c.keys.p + k0, kn) + read_range(c.values.p + v0, vn);
  });
}

// ---- references ------------------------------------------------------------------------------
// Double-precision attention of the 32 query rows qr (rotated, scaled) over keys(h, t) and
// values(h, t) given as functions writing floats.
std::vector<double> attend_double(const float *qr, uint32_t n, const std::function<void(uint32_t, uint32_t, float *)> &key,
                                  const std::function<void(uint32_t, uint32_t, float *)> &value,
                                  const std::function<double(uint32_t, const float *, const float *)> &score = nullptr) {
  std::vector<double> out(size_t{kQHeads} * kDim, 0.0);
  std::vector<double> s(n);
  std::vector<float> ks(size_t{n} * kDim), vs(size_t{n} * kDim);
  for (uint32_t h = 0; h < kKvHeads; ++h) {
    for (uint32_t t = 0; t < n; ++t) {
      key(h, t, &ks[size_t{t} * kDim]);
      value(h, t, &vs[size_t{t} * kDim]);
    }
    for (uint32_t r = 0; r < kGroup; ++r) {
      const uint32_t qh = h * kGroup + r;
      const float *q = qr + size_t{qh} * kDim;
      double mx = -INFINITY;
      for (uint32_t t = 0; t < n; ++t) {
        if (score) s[t] = score(qh, q, &ks[size_t{t} * kDim]);
        else {
          double a = 0.0;
          for (uint32_t i = 0; i < kDim; ++i) a += double(q[i]) * double(ks[size_t{t} * kDim + i]);
          s[t] = a;
        }
        mx = std::max(mx, s[t]);
      }
      double sum = 0.0;
      for (uint32_t t = 0; t < n; ++t) {
        s[t] = std::exp(s[t] - mx);
        sum += s[t];
      }
      double *o = &out[size_t{qh} * kDim];
      for (uint32_t t = 0; t < n; ++t)
        for (uint32_t i = 0; i < kDim; ++i) o[i] += s[t] / sum * double(vs[size_t{t} * kDim + i]);
    }
  }
  return out;
}

template <typename T>
double rel_rms(const std::vector<T> &x, const std::vector<double> &ref) {
  double e = 0.0, r = 0.0;
  for (size_t i = 0; i < ref.size(); ++i) {
    e += (double(x[i]) - ref[i]) * (double(x[i]) - ref[i]);
    r += ref[i] * ref[i];
  }
  return std::sqrt(e / r);
}

// The 32 rotated queries at position pos, times the softmax scale, and their group sums.
struct Queries {
  std::vector<float> q;
  Step step;
  Queries(const Data &d, uint32_t pos, const PairTable *table, uint32_t position_base = 0)
      : q(size_t{kQHeads} * kDim) {
    const float scale = 1.0f / std::sqrt(float(kDim));
    for (uint32_t h = 0; h < kQHeads; ++h) {
      rotate_to(&d.q[size_t{h} * kDim], double(pos), &q[size_t{h} * kDim]);
      for (uint32_t i = 0; i < kDim; ++i) q[size_t{h} * kDim + i] *= scale;
    }
    step.q = q.data();
    for (uint32_t h = 0; h < kQHeads; ++h)
      for (uint32_t g = 0; g < kQBlocks; ++g) {
        float s = 0.0f;
        for (uint32_t i = 0; i < 32; ++i) s += q[size_t{h} * kDim + 32 * g + i];
        step.qsum[h][g] = s;
      }
    for (uint32_t h = 0; h < kQHeads; ++h)
      for (uint32_t g = 0; g < kQBlocks; ++g) {
        float amax = 0.0f;
        for (uint32_t i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(q[size_t{h} * kDim + 32 * g + i]));
        const float qd = amax / 32767.0f, id = qd != 0.0f ? 1.0f / qd : 0.0f;
        step.qscale[h][g] = qd;
        for (uint32_t i = 0; i < 32; ++i) step.qi[h][32 * g + i] = int16_t(std::lround(q[size_t{h} * kDim + 32 * g + i] * id));
      }
    step.table = table;
    step.position_base = position_base;
  }
};

// ggml's CPU rule for a q8_0 / q4_0 K cache (ggml_compute_forward_flash_attn_ext: q_to_vec_dot
// quantizes the query row to q8_0, kq_vec_dot sums per block int(q) * int(k) and multiplies by
// fp16(d_k) * fp16(d_q)), applied to the scaled query; ggml multiplies by the scale afterwards,
// the difference is one float rounding.
double ggml_score(const float *q, const Cache &c, uint32_t h, uint32_t t) {
  double total = 0.0;
  float sumf = 0.0f;
  for (uint32_t g = 0; g < kQBlocks; ++g) {
    const Q8Block qb = quant_q8(q + 32 * g);
    int sumi = 0;
    float dk;
    if (c.kf == KFmt::Q8Rows) {
      const Q8Block &kb = reinterpret_cast<const Q8Block *>(c.key_head(h))[size_t{t} * kQBlocks + g];
      for (int j = 0; j < 32; ++j) sumi += int(qb.qs[j]) * int(kb.qs[j]);
      dk = from_f16(kb.d);
    } else {
      const Q4Block &kb = reinterpret_cast<const Q4Block *>(c.key_head(h))[size_t{t} * kQBlocks + g];
      for (int j = 0; j < 16; ++j)
        sumi += int(qb.qs[j]) * (int(kb.qs[j] & 15) - 8) + int(qb.qs[j + 16]) * (int(kb.qs[j] >> 4) - 8);
      dk = from_f16(kb.d);
    }
    sumf += float(sumi) * (dk * from_f16(qb.d));
  }
  total = sumf;
  return total;
}

// Attention over a Q8Rows/Q4Rows cache with ggml_score's rule, in double otherwise. The score
// needs the token index, which attend_double's score hook does not see: the key hook records
// the head and passes the token index in the key's first element instead.
std::vector<double> attend_ggml_rule(const float *qr, uint32_t n, const Cache &c) {
  uint32_t cur_h = 0;
  return attend_double(
      qr, n,
      [&](uint32_t h, uint32_t t, float *x) {
        cur_h = h;
        std::memset(x, 0, kDim * 4);
        std::memcpy(x, &t, sizeof t);
      },
      [&](uint32_t h, uint32_t t, float *x) { c.value(h, t, x); },
      [&](uint32_t, const float *q, const float *k) {
        uint32_t t;
        std::memcpy(&t, k, sizeof t);
        return ggml_score(q, c, cur_h, t);
      });
}

// ---- accuracy ------------------------------------------------------------------------------
void accuracy() {
  const uint32_t n = 8192;
  std::printf("\n== accuracy: decode step over %u cached tokens, attention output relative RMS error vs the f32 cache "
              "(double attention), 32 q heads x 128 dims ==\n", n);
  std::printf("%-10s %-34s %12s %12s\n", "keys", "path", "N(0,1)", "outliers");
  struct Row {
    std::string what;
    double err[2];
  };
  std::vector<Row> rows;
  auto put = [&](const std::string &what, int set, double e) {
    for (Row &r : rows)
      if (r.what == what) { r.err[set] = e; return; }
    rows.push_back(Row{what, {set == 0 ? e : 0.0, set == 1 ? e : 0.0}});
  };
  const PairTable table(n + 1);
  for (int set = 0; set < 2; ++set) {
    const Data data(n, set == 1, 1234 + uint64_t(set));
    const Queries qs(data, n, &table);
    std::vector<float> kr(size_t{kKvHeads} * n * kDim);
    for (uint32_t h = 0; h < kKvHeads; ++h)
      for (uint32_t t = 0; t < n; ++t) rotate_to(data.key(h, t), double(t), &kr[(size_t{h} * n + t) * kDim]);
    const auto ref = attend_double(
        qs.q.data(), n, [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, &kr[(size_t{h} * n + t) * kDim], kDim * 4); },
        [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, data.value(h, t), kDim * 4); });
    struct V {
      const char *name;
      KFmt kf;
      VFmt vf;
      bool unrot;
    };
    const V variants[] = {{"f16", KFmt::F16DM, VFmt::F16, false}, {"q8_0", KFmt::Q8DM, VFmt::Q8, false},
                          {"q8_0", KFmt::Q8Rows, VFmt::Q8, false}, {"q8_0", KFmt::Q8DM, VFmt::Q8, true},
                          {"q8_0", KFmt::Q8DMP, VFmt::Q8, false}, {"q8_0", KFmt::Q8DMP, VFmt::Q8P, false},
                          {"q4_0", KFmt::Q4DM, VFmt::Q4, false}, {"q4_0", KFmt::Q4Rows, VFmt::Q4, false},
                          {"q8-ch", KFmt::Q8Ch, VFmt::Q8, false}, {"q8-ch", KFmt::Q8Ch, VFmt::Q8, true},
                          {"q4-ch", KFmt::Q4Ch, VFmt::Q4, false}, {"q4-ch", KFmt::Q4Ch, VFmt::Q4, true}};
    Team team(1);
    for (const V &v : variants) {
      Cache c(v.name, v.kf, v.vf, v.unrot, n);
      c.fill(data);
      const std::string layout = (v.kf == KFmt::Q8Rows || v.kf == KFmt::Q4Rows) ? "rows"
                                 : v.vf == VFmt::Q8P ? "q8-int (int16 q and weights, vpdpwssd)"
                                 : v.kf == KFmt::Q8DMP ? "dmp (int16 query, vpdpwssd)" : "dm";
      const std::string tag = std::string(v.name) + "|" + (v.unrot ? "B: un-rotated keys, dm" : layout);
      std::vector<float> out(size_t{kQHeads} * kDim);
      decode(c, qs.step, team, out.data());
      put(tag + "|kernel (float)", set, rel_rms(out, ref));
      if (!v.unrot) {
        const auto deq = attend_double(
            qs.q.data(), n, [&](uint32_t h, uint32_t t, float *x) { c.key(h, t, x); },
            [&](uint32_t h, uint32_t t, float *x) { c.value(h, t, x); });
        put(tag + "|dequantize, attend in double", set, rel_rms(deq, ref));
        if (v.kf == KFmt::F16DM || v.kf == KFmt::Q8DM || v.kf == KFmt::Q4DM || v.kf == KFmt::Q8Ch || v.kf == KFmt::Q4Ch) {
          const auto konly = attend_double(
              qs.q.data(), n, [&](uint32_t h, uint32_t t, float *x) { c.key(h, t, x); },
              [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, data.value(h, t), kDim * 4); });
          put(tag + "|  keys only (values exact)", set, rel_rms(konly, ref));
          if (v.kf != KFmt::Q8Ch && v.kf != KFmt::Q4Ch) {
            const auto vonly = attend_double(
                qs.q.data(), n,
                [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, &kr[(size_t{h} * n + t) * kDim], kDim * 4); },
                [&](uint32_t h, uint32_t t, float *x) { c.value(h, t, x); });
            put(tag + "|  values only (keys exact)", set, rel_rms(vonly, ref));
          }
        }
      } else {
        // The un-rotated keys dequantized, then rotated in double: the exact value design B means.
        const auto deq = attend_double(
            qs.q.data(), n,
            [&](uint32_t h, uint32_t t, float *x) {
              float k[kDim];
              c.key(h, t, k);
              rotate_to(k, double(t), x);
            },
            [&](uint32_t h, uint32_t t, float *x) { c.value(h, t, x); });
        put(tag + "|dequantize, rotate, attend in double", set, rel_rms(deq, ref));
      }
      if (v.kf == KFmt::Q8Rows || v.kf == KFmt::Q4Rows) {
        put(tag + "|ggml CPU rule (q quantized to q8_0)", set, rel_rms(attend_ggml_rule(qs.q.data(), n, c), ref));
      }
    }
  }
  for (const Row &r : rows) {
    const size_t a = r.what.find('|'), b = r.what.find('|', a + 1);
    std::printf("%-10s %-52s %10.3e %10.3e\n", r.what.substr(0, a).c_str(),
                (r.what.substr(a + 1, b - a - 1) + ", " + r.what.substr(b + 1)).c_str(), r.err[0], r.err[1]);
  }
}

// The accuracy inputs as raw little-endian files for an outside check with ggml itself
// (docs/quantized-kv.md): per set (0: N(0,1), 1: outliers) the 32 rotated, unscaled queries
// [32][128] f32, the rotated keys and the values [8][8192][128] f32 (ggml's [d, n_kv, heads]
// order), the double reference output [32][128] f64, and the keys as the study's q8_0 / q4_0 rows.
void dump(const std::string &dir) {
  const uint32_t n = 8192;
  for (int set = 0; set < 2; ++set) {
    const Data data(n, set == 1, 1234 + uint64_t(set));
    std::vector<float> q(size_t{kQHeads} * kDim), kr(size_t{kKvHeads} * n * kDim);
    for (uint32_t h = 0; h < kQHeads; ++h) rotate_to(&data.q[size_t{h} * kDim], double(n), &q[size_t{h} * kDim]);
    for (uint32_t h = 0; h < kKvHeads; ++h)
      for (uint32_t t = 0; t < n; ++t) rotate_to(data.key(h, t), double(t), &kr[(size_t{h} * n + t) * kDim]);
    const Queries qs(data, n, nullptr);
    const auto ref = attend_double(
        qs.q.data(), n, [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, &kr[(size_t{h} * n + t) * kDim], kDim * 4); },
        [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, data.value(h, t), kDim * 4); });
    auto write = [&](const char *name, const void *p, size_t bytes) {
      const std::string path = dir + "/" + name + std::to_string(set) + ".bin";
      FILE *f = std::fopen(path.c_str(), "wb");
      if (!f || std::fwrite(p, 1, bytes, f) != bytes) { std::fprintf(stderr, "cannot write %s\n", path.c_str()); std::exit(1); }
      std::fclose(f);
    };
    write("q", q.data(), q.size() * 4);
    write("k", kr.data(), kr.size() * 4);
    write("v", data.v.data(), data.v.size() * 4);
    write("ref", ref.data(), ref.size() * 8);
    // The study's own q8_0 / q4_0 blocks of those keys, ggml's row layout: ggml_quantize_chunk
    // must give the same bytes (the bit-compatibility the recommendation rests on).
    for (KFmt f : {KFmt::Q8Rows, KFmt::Q4Rows}) {
      Cache c("dump", f, VFmt::Q8, false, n);
      for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t t = 0; t < n; ++t) c.store_key(h, t, &kr[(size_t{h} * n + t) * kDim]);
      write(f == KFmt::Q8Rows ? "kq8_" : "kq4_", c.keys.p, c.keys.n);
    }
  }
  std::printf("wrote q, k, v, ref {0,1}.bin to %s\n", dir.c_str());
}

// ---- context shift ---------------------------------------------------------------------------
// Design A's shift of one cached key (q8-dm cache, keys rotated): dequantize its 128 elements,
// rotate by the angle difference -count * theta_i in double, quantize again in place. Scratch:
// 128 floats (a workspace of head_dim floats per thread, never a layer-sized buffer).
void shift_key_a(Cache &c, uint32_t h, uint32_t t, uint32_t count) {
  float k[kDim], r[kDim];
  c.key(h, t, k);
  rotate_to(k, -double(count), r);
  c.store_key(h, t, r);
}
// Moves token `from` to `to` (keys and values, bytes as they are).
void move_token(Cache &c, uint32_t h, uint32_t to, uint32_t from) {
  float k[kDim];
  // Keys: the stored bytes, re-packed (for the dm layouts a column copy; q8_0 requantizes the same
  // numbers to the same bytes: exact, as a dequantized q8_0 block quantizes to itself).
  c.key(h, from, k);
  c.store_key(h, to, k);
  const size_t vb = value_bytes_per_head(c.vf, c.n) / c.n;
  std::memmove(c.value_head(h) + size_t{to} * vb, c.value_head(h) + size_t{from} * vb, vb);
}

void shift_study() {
  constexpr uint32_t kSink = 4, kWindow = 2044, kChunk = 32, kShifts = 64;
  constexpr uint32_t kLen = kSink + kWindow;  // 2048 tokens held after every shift
  const uint32_t total = kLen + kShifts * kChunk;
  std::printf("\n== context shift: q8_0 cache of %u tokens, %u StreamingLLM shifts (sink %u, evict %u after it each "
              "time, %u new tokens appended each time) ==\n", kLen, kShifts, kSink, kChunk, kChunk);
  for (int set = 0; set < 2; ++set) {
    const Data data(total, set == 1, 77 + uint64_t(set));
    const PairTable table(kLen + 1);
    for (int design = 0; design < 2; ++design) {
      const bool unrot = design == 1;
      Cache c("q8", KFmt::Q8DM, VFmt::Q8, unrot, kLen);
      // src[t]: which token of the data cached slot t holds; shifts[t]: how many shifts moved it.
      std::vector<uint32_t> src(kLen), shifts(kLen, 0);
      for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t t = 0; t < kLen; ++t) c.put(data, h, t, t, t);
      for (uint32_t t = 0; t < kLen; ++t) src[t] = t;
      uint32_t next = kLen;
      for (uint32_t s = 0; s < kShifts; ++s) {
        // evict [kSink, kSink + kChunk): tokens after it move down by kChunk
        for (uint32_t h = 0; h < kKvHeads; ++h)
          for (uint32_t t = kSink + kChunk; t < kLen; ++t) {
            if (!unrot) shift_key_a(c, h, t, kChunk);
            move_token(c, h, t - kChunk, t);
          }
        for (uint32_t t = kSink + kChunk; t < kLen; ++t) {
          src[t - kChunk] = src[t];
          shifts[t - kChunk] = shifts[t] + 1;
        }
        // append kChunk new tokens at the end (positions kLen - kChunk ..)
        for (uint32_t t = kLen - kChunk; t < kLen; ++t) {
          src[t] = next++;
          shifts[t] = 0;
          for (uint32_t h = 0; h < kKvHeads; ++h) c.put(data, h, t, src[t], t);
        }
      }
      // Fresh prefill of the kept tokens at their new positions, and the exact (f32) attention.
      Cache fresh("q8", KFmt::Q8DM, VFmt::Q8, unrot, kLen);
      for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t t = 0; t < kLen; ++t) fresh.put(data, h, t, src[t], t);
      const Queries qs(data, kLen, &table);
      auto exact_key = [&](uint32_t h, uint32_t t, float *x) { rotate_to(data.key(h, src[t]), double(t), x); };
      auto exact_value = [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, data.value(h, src[t]), kDim * 4); };
      const auto ref = attend_double(qs.q.data(), kLen, exact_key, exact_value);
      Team team(1);
      std::vector<float> o_shift(size_t{kQHeads} * kDim), o_fresh(o_shift.size());
      decode(c, qs.step, team, o_shift.data());
      decode(fresh, qs.step, team, o_fresh.data());
      std::vector<double> of(o_fresh.begin(), o_fresh.end());
      const double e_fresh = rel_rms(o_fresh, ref), e_shift = rel_rms(o_shift, ref), e_diff = rel_rms(o_shift, of);
      // Key error itself (dequantized, rotated to the position for B), RMS over all keys.
      double ke_s = 0, ke_f = 0, kn = 0;
      std::vector<double> by_e(kShifts + 1, 0.0), by_n(kShifts + 1, 0.0);  // key error by shifts undergone
      for (uint32_t h = 0; h < kKvHeads; ++h)
        for (uint32_t t = 0; t < kLen; ++t) {
          float ex[kDim], a[kDim], b[kDim], ra[kDim], rb[kDim];
          exact_key(h, t, ex);
          c.key(h, t, a);
          fresh.key(h, t, b);
          if (unrot) {
            rotate_to(a, double(t), ra);
            rotate_to(b, double(t), rb);
          } else {
            std::memcpy(ra, a, sizeof ra);
            std::memcpy(rb, b, sizeof rb);
          }
          for (uint32_t i = 0; i < kDim; ++i) {
            ke_s += (double(ra[i]) - ex[i]) * (double(ra[i]) - ex[i]);
            by_e[shifts[t]] += (double(ra[i]) - ex[i]) * (double(ra[i]) - ex[i]);
            by_n[shifts[t]] += (double(rb[i]) - ex[i]) * (double(rb[i]) - ex[i]);
            ke_f += (double(rb[i]) - ex[i]) * (double(rb[i]) - ex[i]);
            kn += double(ex[i]) * ex[i];
          }
        }
      const bool same_bytes = std::memcmp(c.keys.p, fresh.keys.p, c.keys.n) == 0 &&
                              std::memcmp(c.values.p, fresh.values.p, c.values.n) == 0;
      uint32_t max_shifts = 0;
      double mean_shifts = 0;
      for (uint32_t t = 0; t < kLen; ++t) {
        max_shifts = std::max(max_shifts, shifts[t]);
        mean_shifts += shifts[t];
      }
      std::printf("%-9s design %s: output err vs exact: fresh q8 %.3e, shifted %.3e (x%.2f); shifted vs fresh %.3e (x%.2f "
                  "of one quantization); key rel err fresh %.3e shifted %.3e (x%.2f); shifts per kept token: max %u "
                  "mean %.1f; cache bytes identical to the fresh prefill: %s\n",
                  set == 0 ? "N(0,1)" : "outliers", unrot ? "B (un-rotated keys)" : "A (rotated keys, requantized)",
                  e_fresh, e_shift, e_shift / e_fresh, e_diff, e_diff / e_fresh, std::sqrt(ke_f / kn),
                  std::sqrt(ke_s / kn), std::sqrt(ke_s / ke_f), max_shifts, mean_shifts / kLen,
                  same_bytes ? "yes" : "no");
      if (!unrot) {
        std::printf("          key error of a token shifted k times / its fresh error:");
        for (uint32_t k : {0u, 1u, 2u, 4u, 8u, 16u, 32u, 63u})
          if (by_n[k] > 0) std::printf("  k=%u: x%.2f", k, std::sqrt(by_e[k] / by_n[k]));
        std::printf("  (sqrt(k + 1) would be a random walk)\n");
      }
      std::fflush(stdout);
    }
  }
}

// ---- the library itself (after issue 26's implementation) ------------------------------------
// The same inputs through rotor_attention_forward on the library's own caches
// (rotor_kv_cache_init_ex), so its errors stand beside the study's kernels' and ggml's.
// rotor_config_init's table is this study's: pairs (i, i + 64), base 10000.

// A library cache of max_len tokens stored as `config` says, its table, and a workspace for a
// pool of 2 threads (prefills) or the calling thread (decode steps).
struct LibLayer {
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  rotor_kv_cache *cache = nullptr;
  Buffer arena, ws, out;
  LibLayer(uint32_t max_len, const rotor_kv_cache_config &config, uint32_t max_new) {
    rotor_config cfg;
    rotor_config_init(&cfg, kDim);
    cfg.max_len = max_len;
    cfg.initial_len = max_len;
    if (rotor_table_create(&table, &cfg) != ROTOR_OK || rotor_pool_create(&pool, 2) != ROTOR_OK) fail("table or pool");
    arena = Buffer(rotor_kv_cache_arena_size_ex(kKvHeads, kDim, max_len, &config));
    if (arena.n == 0 || rotor_kv_cache_init_ex(&cache, kKvHeads, kDim, max_len, &config, arena.p, arena.n) != ROTOR_OK)
      fail("cache");
    ws = Buffer(rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, max_new, 2));
    out = Buffer(size_t{max_new} * kQHeads * kDim * 4);
  }
  ~LibLayer() {
    rotor_pool_destroy(pool);
    rotor_table_destroy(table);
  }
  LibLayer(const LibLayer &) = delete;
  LibLayer &operator=(const LibLayer &) = delete;
  [[noreturn]] static void fail(const char *what) {
    std::fprintf(stderr, "library %s failed: %s\n", what, rotor_last_error_message());
    std::exit(1);
  }
  // Appends `count` tokens: k, v [count][8][128] f32 (un-rotated keys), q [count][q_heads][128].
  // A prefill passes 8 query heads, one per kv head: the cache gets the same keys and values as
  // with 32 for a quarter of the work (its outputs are not used). Returns the outputs.
  const float *forward(const float *q, uint32_t q_heads, const float *k, const float *v, uint32_t count,
                       bool threaded) {
    const rotor_tensor tq = rotor_tensor_bshd(const_cast<float *>(q), ROTOR_DTYPE_F32, 1, count, q_heads, kDim);
    const rotor_tensor tk = rotor_tensor_bshd(const_cast<float *>(k), ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor tv = rotor_tensor_bshd(const_cast<float *>(v), ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor to = rotor_tensor_bshd(out.p, ROTOR_DTYPE_F32, 1, count, q_heads, kDim);
    if (rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 1.0f / std::sqrt(float(kDim)), ws.p, ws.n,
                                threaded ? pool : nullptr) != ROTOR_OK)
      fail("forward");
    return reinterpret_cast<const float *>(out.p);
  }
  // Tokens src[0], src[1], ... of `data` ([head][token][dim]) appended, in chunks of `chunk`.
  void prefill(const Data &data, const uint32_t *src, uint32_t count, uint32_t chunk) {
    std::vector<float> k(size_t{chunk} * kKvHeads * kDim), v(k.size()), q(k.size(), 0.0f);
    for (uint32_t first = 0; first < count; first += chunk) {
      const uint32_t n = std::min(chunk, count - first);
      for (uint32_t t = 0; t < n; ++t)
        for (uint32_t h = 0; h < kKvHeads; ++h) {
          std::memcpy(&k[(size_t{t} * kKvHeads + h) * kDim], data.key(h, src[first + t]), kDim * 4);
          std::memcpy(&v[(size_t{t} * kKvHeads + h) * kDim], data.value(h, src[first + t]), kDim * 4);
        }
      forward(q.data(), kKvHeads, k.data(), v.data(), n, true);
    }
  }
  // A decode step of token `src` of `data` (its key and value appended, data.q its 32 queries),
  // on the calling thread: the 32 x 128 outputs.
  std::vector<float> decode(const Data &data, uint32_t src) {
    std::vector<float> k(size_t{kKvHeads} * kDim), v(k.size());
    for (uint32_t h = 0; h < kKvHeads; ++h) {
      std::memcpy(&k[size_t{h} * kDim], data.key(h, src), kDim * 4);
      std::memcpy(&v[size_t{h} * kDim], data.value(h, src), kDim * 4);
    }
    const float *o = forward(data.q.data(), kQHeads, k.data(), v.data(), 1, false);
    return std::vector<float>(o, o + size_t{kQHeads} * kDim);
  }
};

rotor_kv_cache_config lib_config(rotor_dtype key, rotor_dtype value, uint32_t flags) {
  rotor_kv_cache_config c;
  rotor_kv_cache_config_init(&c, key);
  c.value_dtype = value;
  c.flags = flags;
  return c;
}

const char *lib_type_name(rotor_dtype t) {
  return t == ROTOR_DTYPE_F32 ? "f32" : t == ROTOR_DTYPE_F16 ? "f16" : t == ROTOR_DTYPE_BF16 ? "bf16"
                                       : t == ROTOR_DTYPE_Q8_0 ? "q8_0" : "q4_0";
}

// Accuracy through the library: the accuracy study's data sets (same seeds, 8192 tokens), a
// library cache of each storage filled with tokens 0 .. 8190 by a prefill, then a decode step
// of token 8191 (the library appends it: the query is at position 8191, not 8192 as in the
// study's table), against a double attention over the f32 cache (keys rotated in double). The
// study's dm kernels and ggml's CPU rule run on the same reference beside it. Query 0 is the
// set's own; kQueries - 1 more N(0,1) queries (each step undone by evicting its token) give a
// pooled error, sqrt(sum of squared errors / sum of squared references), as one query's error
// moves by a few per cent with the query.
void library_accuracy() {
  const uint32_t n = 8192, kQueries = 8;
  std::printf("\n== accuracy through the library: rotor_attention_forward decode step over %u cached tokens (query "
              "at position %u), relative RMS error vs the f32 cache (double attention); query 0, then pooled over %u "
              "queries ==\n", n, n - 1, kQueries);
  struct Config {
    rotor_dtype key, value;
    uint32_t flags;
  };
  const Config configs[] = {{ROTOR_DTYPE_F32, ROTOR_DTYPE_F32, 0},
                            {ROTOR_DTYPE_F16, ROTOR_DTYPE_F16, 0},
                            {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, 0},
                            {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_F32, 0},
                            {ROTOR_DTYPE_F32, ROTOR_DTYPE_Q8_0, 0},
                            {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS},
                            {ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0, 0},
                            {ROTOR_DTYPE_Q4_0, ROTOR_DTYPE_Q4_0, 0},
                            {ROTOR_DTYPE_Q4_0, ROTOR_DTYPE_Q4_0, ROTOR_KV_UNROTATED_KEYS}};
  std::vector<std::string> names;
  // Per set: query 0's error, and the pooled sums (squared errors per path, squared references).
  std::vector<double> first[2], pooled_e2[2];
  double pooled_r2[2] = {0.0, 0.0};
  std::vector<uint32_t> src(n);
  for (uint32_t t = 0; t < n; ++t) src[t] = t;
  for (int set = 0; set < 2; ++set) {
    Data data(n, set == 1, 1234 + uint64_t(set));
    const std::vector<float> q0 = data.q;
    std::vector<float> kr(size_t{kKvHeads} * n * kDim);
    for (uint32_t h = 0; h < kKvHeads; ++h)
      for (uint32_t t = 0; t < n; ++t) rotate_to(data.key(h, t), double(t), &kr[(size_t{h} * n + t) * kDim]);
    std::vector<std::unique_ptr<LibLayer>> libs;
    names.clear();
    for (const Config &cf : configs) {
      libs.emplace_back(new LibLayer(n, lib_config(cf.key, cf.value, cf.flags), n - 1));
      libs.back()->prefill(data, src.data(), n - 1, n - 1);
      names.push_back(std::string("library, keys ") + lib_type_name(cf.key) + " / values " + lib_type_name(cf.value) +
                      (cf.flags != 0 ? ", un-rotated keys (B)" : ""));
    }
    std::vector<Cache> study;
    for (KFmt kf : {KFmt::Q8DM, KFmt::Q8Rows, KFmt::Q4DM, KFmt::Q4Rows}) {
      const VFmt vf = kf == KFmt::Q8DM || kf == KFmt::Q8Rows ? VFmt::Q8 : VFmt::Q4;
      study.emplace_back("lib-check", kf, vf, false, n);
      study.back().fill(data);
      const char *type = vf == VFmt::Q8 ? "q8_0" : "q4_0";
      names.push_back(kf == KFmt::Q8DM || kf == KFmt::Q4DM
                          ? std::string("study dm kernel, ") + type + " / " + type
                          : std::string("ggml's CPU rule (q quantized to q8_0), ") + type + " / " + type);
    }
    pooled_e2[set].assign(names.size(), 0.0);
    Team team(1);
    Rng rq(4321 + uint64_t(set));
    for (uint32_t j = 0; j < kQueries; ++j) {
      if (j == 0) data.q = q0;
      else
        for (float &x : data.q) x = rq.normal();
      const Queries qs(data, n - 1, nullptr);
      const auto ref = attend_double(
          qs.q.data(), n,
          [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, &kr[(size_t{h} * n + t) * kDim], kDim * 4); },
          [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, data.value(h, t), kDim * 4); });
      double r2 = 0.0;
      for (double x : ref) r2 += x * x;
      pooled_r2[set] += r2;
      size_t at = 0;
      auto put = [&](double e) {
        if (j == 0) first[set].push_back(e);
        pooled_e2[set][at++] += e * e * r2;
      };
      for (auto &lib : libs) {
        put(rel_rms(lib->decode(data, n - 1), ref));
        if (rotor_kv_cache_evict(lib->table, lib->cache, n - 1, 1, nullptr) != ROTOR_OK) LibLayer::fail("evict");
      }
      for (const Cache &c : study) {
        if (c.kf == KFmt::Q8DM || c.kf == KFmt::Q4DM) {
          std::vector<float> out(size_t{kQHeads} * kDim);
          decode(c, qs.step, team, out.data());
          put(rel_rms(out, ref));
          continue;
        }
        put(rel_rms(attend_ggml_rule(qs.q.data(), n, c), ref));
      }
    }
  }
  std::printf("%-62s %11s %11s %11s %11s\n", "cache", "N(0,1) q0", "outl. q0", "N(0,1) all", "outl. all");
  for (size_t i = 0; i < names.size(); ++i)
    std::printf("%-62s %11.3e %11.3e %11.3e %11.3e\n", names[i].c_str(), first[0][i], first[1][i],
                std::sqrt(pooled_e2[0][i] / pooled_r2[0]), std::sqrt(pooled_e2[1][i] / pooled_r2[1]));
  std::fflush(stdout);
}

// The context-shift experiment through the library: a q8_0 cache of 2048 tokens (max_len 2049),
// 64 times rotor_kv_cache_evict(sink 4, 32 tokens) then 32 new tokens appended by a forward
// call; then a decode step (token `next`, position 2048) against the same step on a fresh
// prefill of the kept tokens at their new positions, and both against the exact attention.
void library_shift() {
  constexpr uint32_t kSink = 4, kLen = 2048, kChunk = 32, kShifts = 64;
  const uint32_t total = kLen + kShifts * kChunk + 1;
  std::printf("\n== context shift through the library: q8_0 cache of %u tokens, %u x (rotor_kv_cache_evict of %u after "
              "a sink of %u, %u new tokens appended), then a decode step ==\n", kLen, kShifts, kChunk, kSink, kChunk);
  for (int set = 0; set < 2; ++set) {
    const Data data(total, set == 1, 77 + uint64_t(set));
    for (uint32_t flags : {0u, ROTOR_KV_UNROTATED_KEYS}) {
      const rotor_kv_cache_config config = lib_config(ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, flags);
      LibLayer lib(kLen + 1, config, kLen);
      std::vector<uint32_t> src(kLen);
      for (uint32_t t = 0; t < kLen; ++t) src[t] = t;
      lib.prefill(data, src.data(), kLen, kLen);
      uint32_t next = kLen;
      const double t0 = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
      double evict_s = 0.0;
      for (uint32_t s = 0; s < kShifts; ++s) {
        const double e0 = std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
        if (rotor_kv_cache_evict(lib.table, lib.cache, kSink, kChunk, lib.pool) != ROTOR_OK) LibLayer::fail("evict");
        evict_s += std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count() - e0;
        for (uint32_t t = kSink + kChunk; t < kLen; ++t) src[t - kChunk] = src[t];
        for (uint32_t t = kLen - kChunk; t < kLen; ++t) src[t] = next++;
        lib.prefill(data, &src[kLen - kChunk], kChunk, kChunk);
      }
      const double shifts_s =
          std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count() - t0;
      const std::vector<float> o_shift = lib.decode(data, next);
      LibLayer fresh(kLen + 1, config, kLen);
      fresh.prefill(data, src.data(), kLen, kLen);
      const std::vector<float> o_fresh = fresh.decode(data, next);
      // Exact: the kept tokens at positions 0 .. 2047 and token `next` at 2048, in double.
      const Queries qs(data, kLen, nullptr);
      auto exact_src = [&](uint32_t t) { return t < kLen ? src[t] : next; };
      const auto ref = attend_double(
          qs.q.data(), kLen + 1,
          [&](uint32_t h, uint32_t t, float *x) { rotate_to(data.key(h, exact_src(t)), double(t), x); },
          [&](uint32_t h, uint32_t t, float *x) { std::memcpy(x, data.value(h, exact_src(t)), kDim * 4); });
      const std::vector<double> of(o_fresh.begin(), o_fresh.end());
      const double e_fresh = rel_rms(o_fresh, ref), e_shift = rel_rms(o_shift, ref), e_diff = rel_rms(o_shift, of);
      const bool same = std::memcmp(o_shift.data(), o_fresh.data(), o_shift.size() * 4) == 0;
      std::printf("%-9s %-30s fresh vs exact %.3e (one quantization), shifted vs exact %.3e, shifted vs fresh %.3e = "
                  "x%.2f of one quantization; outputs bit-identical: %s; 64 evicts %.1f ms (with the appends "
                  "%.1f ms)\n",
                  set == 0 ? "N(0,1)" : "outliers", flags != 0 ? "B (ROTOR_KV_UNROTATED_KEYS)" : "A (rotated keys)",
                  e_fresh, e_shift, e_diff, e_diff / e_fresh, same ? "yes" : "no", evict_s * 1e3, shifts_s * 1e3);
      std::fflush(stdout);
    }
  }
}

// ---- decode timing ---------------------------------------------------------------------------
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
// CPU seconds of the whole process: on this shared 2-core machine other jobs take turns with the
// study, and time the scheduler gives them must not count (rooflines.hpp does the same for its
// FMA peak). Divided by the thread count, it is the time of a step whose threads both run.
double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// rotor_attention_forward on an f16 cache holding the same f16 keys and values as `f16dm`: the
// cache is started with one real token (so it records its rows), then given the length n
// directly (a prefill of 32768 tokens would take 40 s); each timed step appends token n and is
// undone by setting the length back.
struct LibF16 {
  rotor_table *table = nullptr;
  rotor_kv_cache *cache = nullptr;
  Buffer arena, ws, q, kv, out;
  uint32_t n;
  bool ok = false;
  LibF16(const Cache &f16dm, const Data &data, int threads) : n(f16dm.n) {
    rotor_config cfg;
    rotor_config_init(&cfg, kDim);
    cfg.max_len = n + kBlk;
    cfg.initial_len = n + kBlk;
    if (rotor_table_create(&table, &cfg) != ROTOR_OK) return;
    arena = Buffer(rotor_kv_cache_arena_size(kKvHeads, kDim, n + kBlk, ROTOR_DTYPE_F16));
    if (rotor_kv_cache_init(&cache, kKvHeads, kDim, n + kBlk, ROTOR_DTYPE_F16, arena.p, arena.n) != ROTOR_OK) return;
    ws = Buffer(rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, 1, uint32_t(threads)));
    q = Buffer(size_t{kQHeads} * kDim * 4);
    kv = Buffer(size_t{kKvHeads} * kDim * 4);
    out = Buffer(size_t{kQHeads} * kDim * 4);
    std::memcpy(q.p, data.q.data(), q.n);
    if (step(nullptr) != ROTOR_OK) return;  // token 0: the cache records its rows
    rotor::KvCache &kc = *as_cache(cache);
    for (uint32_t h = 0; h < kKvHeads; ++h) {
      std::memcpy(kc.key_block_at(h, 0), f16dm.key_head(h), key_bytes_per_head(KFmt::F16DM, n));
      std::memcpy(kc.value_at(h, 0), f16dm.value_head(h), value_bytes_per_head(VFmt::F16, n));
    }
    ok = true;
  }
  ~LibF16() { rotor_table_destroy(table); }
  LibF16(const LibF16 &) = delete;
  LibF16 &operator=(const LibF16 &) = delete;
  rotor_status step(rotor_pool *pool) {
    const rotor_tensor tq = rotor_tensor_bshd(q.p, ROTOR_DTYPE_F32, 1, 1, kQHeads, kDim);
    const rotor_tensor tk = rotor_tensor_bshd(kv.p, ROTOR_DTYPE_F32, 1, 1, kKvHeads, kDim);
    const rotor_tensor tv = rotor_tensor_bshd(kv.p, ROTOR_DTYPE_F32, 1, 1, kKvHeads, kDim);
    const rotor_tensor to = rotor_tensor_bshd(out.p, ROTOR_DTYPE_F32, 1, 1, kQHeads, kDim);
    return rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 1.0f / std::sqrt(float(kDim)), ws.p, ws.n, pool);
  }
  rotor_status timed_step(rotor_pool *pool) {
    as_cache(cache)->length = n;
    return step(pool);
  }
};

// A profiling loop: a library cache of `n` tokens (tokens 0 .. n - 1 of an N(0,1) set, filled by
// an 8-head prefill), then `steps` decode steps on the calling thread, each undone by
// rotor_kv_cache_evict of the cache's last token (nothing moves), timed after the fill
// (perf record --delay, or ROTOR_KERNEL, sees the steps alone).
void library_steps(rotor_dtype key, rotor_dtype value, uint32_t flags, uint32_t n, uint32_t steps) {
  const Data data(n + 1, false, 99);
  LibLayer lib(n + 1, lib_config(key, value, flags), n);
  std::vector<uint32_t> src(n);
  for (uint32_t t = 0; t < n; ++t) src[t] = t;
  const double f0 = now();
  lib.prefill(data, src.data(), n, n);
  const double f1 = now();
  std::printf("libsteps: keys %s values %s%s, %u tokens: filled in %.2f s; stepping (kernel set %s)\n",
              lib_type_name(key), lib_type_name(value), flags != 0 ? " un-rotated" : "", n, f1 - f0,
              rotor_kernel_name());
  std::fflush(stdout);
  std::vector<double> times;
  for (uint32_t s = 0; s < steps; ++s) {
    const double t0 = now();
    lib.decode(data, n);
    times.push_back(now() - t0);
    if (rotor_kv_cache_evict(lib.table, lib.cache, n, 1, nullptr) != ROTOR_OK) LibLayer::fail("evict");
  }
  std::sort(times.begin(), times.end());
  std::printf("libsteps: %u steps, median %.1f us, min %.1f us\n", steps, times[times.size() / 2] * 1e6,
              times[0] * 1e6);
}

void decode_study(int rounds, uint32_t only_n) {
  std::printf("\n== decode step: 32 q heads / 8 kv heads, d 128; median of %d rounds, each round timing every "
              "variant in turn (steps then a streaming read of its bytes) ==\n", rounds);
  for (uint32_t n : {8192u, 32768u}) {
    if (only_n != 0 && n != only_n) continue;
    const Data data(n, false, 99);
    const PairTable table(n + 1);
    const Queries qs(data, n, &table);
    std::vector<Cache> caches;
    caches.emplace_back("f16-dm", KFmt::F16DM, VFmt::F16, false, n);
    caches.emplace_back("q8-dm", KFmt::Q8DM, VFmt::Q8, false, n);
    caches.emplace_back("q8-rows", KFmt::Q8Rows, VFmt::Q8, false, n);
    caches.emplace_back("q8-dm-B", KFmt::Q8DM, VFmt::Q8, true, n);
    caches.emplace_back("q4-dm", KFmt::Q4DM, VFmt::Q4, false, n);
    caches.emplace_back("q4-rows", KFmt::Q4Rows, VFmt::Q4, false, n);
    caches.emplace_back("q8-ch", KFmt::Q8Ch, VFmt::Q8, false, n);
    caches.emplace_back("q8-dmp", KFmt::Q8DMP, VFmt::Q8, false, n);
    caches.emplace_back("q8-int", KFmt::Q8DMP, VFmt::Q8P, false, n);
    for (Cache &c : caches) c.fill(data);
    for (int threads : {1, 2}) {
      Team team(threads);
      rotor_pool *pool = nullptr;
      if (threads > 1 && rotor_pool_create(&pool, uint32_t(threads)) != ROTOR_OK) pool = nullptr;
      LibF16 lib(caches[0], data, threads);
      const int steps = n <= 8192 ? 12 : 4;
      const size_t nv = caches.size() + 1;  // + the library
      std::vector<std::vector<double>> t_step(nv), t_read(nv), w_step(nv);
      std::vector<float> out(size_t{kQHeads} * kDim);
      for (int round = 0; round < rounds; ++round) {
        for (size_t v = 0; v < nv; ++v) {
          const Cache &c = v == 0 ? caches[0] : caches[v - 1];
          stream_cache(c, team);  // warm as a decode step finds the cache (nothing of it in L2)
          double t0 = cpu_now(), w0 = now();
          for (int s = 0; s < steps; ++s) {
            if (v == 0) {
              if (!lib.ok || lib.timed_step(pool) != ROTOR_OK) { std::printf("library step failed\n"); std::exit(1); }
            } else {
              decode(c, qs.step, team, out.data());
            }
          }
          t_step[v].push_back((cpu_now() - t0) / steps / threads);
          w_step[v].push_back((now() - w0) / steps);
          t0 = cpu_now();
          for (int s = 0; s < steps; ++s) stream_cache(c, team);
          t_read[v].push_back((cpu_now() - t0) / steps / threads);
        }
      }
      rotor_pool_destroy(pool);
      auto median = [](std::vector<double> x) {
        std::sort(x.begin(), x.end());
        return x[x.size() / 2];
      };
      const double f16_bytes = double(caches[0].bytes()), f16_time = median(t_step[0]);
      std::printf("\n%u tokens, %d thread%s (CPU time per thread)\n%-9s %9s %8s %10s %10s %9s %9s %9s %12s\n", n,
                  threads, threads > 1 ? "s" : "", "variant", "MiB", "x f16", "step us", "read us", "read/step", "GB/s",
                  "vs f16lib", "wall step us");
      for (size_t v = 0; v < nv; ++v) {
        const Cache &c = v == 0 ? caches[0] : caches[v - 1];
        const double ts = median(t_step[v]), tr = median(t_read[v]);
        std::printf("%-9s %9.1f %8.3f %10.1f %10.1f %9.3f %9.2f %9.2f %12.1f\n", v == 0 ? "f16-lib" : c.name.c_str(),
                    double(c.bytes()) / 1048576.0, double(c.bytes()) / f16_bytes, ts * 1e6, tr * 1e6, tr / ts,
                    double(c.bytes()) / ts * 1e-9, f16_time / ts, median(w_step[v]) * 1e6);
      }
      std::fflush(stdout);
    }
  }
}

// Every AVX-512 kernel against the portable one on the same cache (a check of the kernels).
void self_check() {
  const uint32_t n = 256;
  const Data data(n, true, 5);
  const PairTable table(n + 1);
  const Queries qs(data, n, &table);
  Team team(1);
  double worst = 0.0;
  for (auto kv : {std::make_pair(KFmt::F16DM, VFmt::F16), std::make_pair(KFmt::Q8DM, VFmt::Q8),
                  std::make_pair(KFmt::Q8Rows, VFmt::Q8), std::make_pair(KFmt::Q4DM, VFmt::Q4),
                  std::make_pair(KFmt::Q4Rows, VFmt::Q4), std::make_pair(KFmt::Q8Ch, VFmt::Q8),
                  std::make_pair(KFmt::Q8DMP, VFmt::Q8), std::make_pair(KFmt::Q8DMP, VFmt::Q8P)})
    for (bool unrot : {false, true}) {
      if (unrot && kv.first != KFmt::Q8DM) continue;  // design B has a vector kernel for q8-dm only
      Cache c("check", kv.first, kv.second, unrot, n);
      c.fill(data);
      std::vector<float> a(size_t{kQHeads} * kDim), b(a.size());
      const bool saved = g_portable;
      g_portable = true;
      decode(c, qs.step, team, a.data());
      g_portable = saved;
      decode(c, qs.step, team, b.data());
      const std::vector<double> ad(a.begin(), a.end());
      worst = std::max(worst, rel_rms(b, ad));
    }
  std::printf("self-check: the vector kernels against the portable ones, worst relative RMS difference %.2e (%s)\n",
              worst, worst < 1e-4 ? "ok" : "MISMATCH");
  // 1e-4: q8-dmp's int16 query differs from the portable path's float one by 1.5e-5 per element.
  if (worst >= 1e-4) std::exit(1);
}

}  // namespace

int main(int argc, char **argv) {
  const std::string what = argc > 1 ? argv[1] : "all";
  if (what == "dump") {
    dump(argc > 2 ? argv[2] : ".");
    return 0;
  }
  if (what == "libsteps") {  // libsteps KEY VALUE FLAGS TOKENS STEPS (dtype numbers: 1 f16, 3 q8_0, 4 q4_0)
    if (argc < 7) return std::fprintf(stderr, "libsteps KEY VALUE FLAGS TOKENS STEPS\n"), 1;
    library_steps(rotor_dtype(std::atoi(argv[2])), rotor_dtype(std::atoi(argv[3])), uint32_t(std::atoi(argv[4])),
                  uint32_t(std::atoi(argv[5])), uint32_t(std::atoi(argv[6])));
    return 0;
  }
  const int rounds = argc > 2 ? std::max(1, std::atoi(argv[2])) : 5;
  std::printf("rotor_kv_quant_study: kernels %s, rotor kernel set %s\n",
              KVQ_AVX512 ? "AVX-512 (+ portable self-check)" : "portable", rotor_kernel_name());
  self_check();
  if (what == "all" || what == "accuracy") accuracy();
  if (what == "all" || what == "shift") shift_study();
  if (what == "library") {
    library_accuracy();
    library_shift();
  }
  const uint32_t only_n = argc > 3 ? uint32_t(std::atoi(argv[3])) : 0;  // 8192 or 32768: that size only
  g_heads_inner = argc > 4 && std::string(argv[4]) == "heads-inner";  // design A's loop order too
  if (what == "all" || what == "decode") decode_study(rounds, only_n);
  return 0;
}
