// The SIMD attention kernels (src/kernels/attention_kernels.hpp), written once with xsimd
// batches and instantiated by each arch/*/attention_*.cpp for its own architecture.
//
// No include guard and no namespace of its own, on purpose (like rope_kernel_body.hpp): each arch
// file includes this inside its own anonymous namespace after defining `Arch` (an xsimd
// architecture with a fused multiply-add), `kAttnRegisters` (vector registers the tiles may use),
// `float attn_hsum(batch<float, Arch>)` (a horizontal sum in a fixed order),
// `float attn_hmax(batch<float, Arch>)` (the largest lane, by pairwise a > b ? a : b),
// `attn_load_f16(p)` and `attn_load_bf16(p)` (kAttnLanes f16 / bf16 elements at p, any
// alignment, widened exactly to a float batch: the hardware conversion for f16, a 16-bit shift
// for bf16), `attn_store_f16(p, v)` (a batch rounded to f16 by the hardware conversion, nearest
// even),
// `attn_load_q8_run<V>(p, out)` (V * kAttnLanes int8 at p as V float batches),
// `attn_load_q4_run<V>(p, shift, out)` (V * kAttnLanes bytes at p, each one's nibble at bit
// `shift` (0 or 4) minus 8, as V float batches),
// `attn_fma(a, b, c)` (a * b + c rounded once: xsimd's own fma is a separate multiply and add on
// some architectures, avx512f among them), so every function has internal linkage and is
// compiled with that file's flags only. The arch file includes <cstddef>, <cstdint>, <cstring>,
// <type_traits> and <cmath> first, at global scope (see the includes below).
//
// Scores are computed with keys in the vector lanes: key blocks are dimension-major
// (kernels/attention_kernels.hpp), so a tile of kAttnKeyTile keys is kAttnKeyVectors aligned
// vectors per dimension, and a register tile of kAttnTileRows query rows x one key tile
// accumulates over the d dimensions with one broadcast query element per row and one fused
// multiply-add per (row, key vector). No horizontal sum per score, no transpose, and each key
// vector loaded feeds kAttnTileRows rows. The values keep head_dim in the lanes: a register tile
// of rows x kAttnKeyVectors vectors of d takes one broadcast weight per row and key.
//
// Per (row, key) arithmetic never depends on how many rows or keys a call has, nor on the tile a
// pair lands in (the contract of the kernel set): a score is d fused multiply-adds in ascending
// order of the dimension, starting from 0, times the scale; an accumulator element gets one fused
// multiply-add per key, keys ascending. Keys and values are read in the cache's type and
// widened as they are loaded (exactly: every f16 and bf16 is a float), so the three element
// types give the same arithmetic on the same values, and an f16/bf16 block never makes a float
// copy of itself that would double what passes through L1.

#include "rope_half_emulation.hpp"  // float_to_bf16_bits: the one vector bf16 rounding

// rotor's scalar f16/bf16 conversions (common/half.hpp: the tails' elements) and line prefetch
// (common/prefetch.hpp) are inline functions with external linkage. Included at global scope,
// every copy the compiler emits out of line (any Debug build does) would be compiled with this
// file's -m flags under the symbol the baseline objects and the other arch files use for
// theirs, and the linker keeps one copy for every caller: the AVX-512 f16_to_float called by
// the scalar code on an AVX2-only CPU. Included here, inside the arch file's anonymous
// namespace, they are this file's own (internal linkage), as everything else of this body; the
// using-declarations fail to compile if either header was already included elsewhere in the
// file (#pragma once would then have made these includes empty). Their own standard includes
// are no-ops here: the arch file includes those headers first. .ci/check-isa-symbols checks
// the objects.
namespace own_copy {
#include "common/half.hpp"
#include "common/prefetch.hpp"
#include "common/quant_blocks.hpp"  // the quantized caches' dequantization loops (rotor/rotor.h: included first)
}  // namespace own_copy
using own_copy::rotor::bf16_to_float;
using own_copy::rotor::f16_to_float;
using own_copy::rotor::float_to_bf16;
using own_copy::rotor::float_to_f16;
using own_copy::rotor::prefetch_lines;
// a * b + c rounded once, for the scalar tails: the builtin, because std::fma is an inline
// function of external linkage too, and <cmath> cannot be wrapped like the two headers above.
float attn_fma_one(float a, float b, float c) { return __builtin_fmaf(a, b, c); }

using AttnV = xsimd::batch<float, Arch>;
constexpr uint32_t kAttnLanes = static_cast<uint32_t>(AttnV::size);
// 4 key vectors with 32 registers (24 accumulators + 4 keys + 1 broadcast), 2 with 16.
constexpr uint32_t kAttnKeyVectors = kAttnRegisters >= 32 ? 4 : 2;
constexpr uint32_t kAttnKeyTile = kAttnKeyVectors * kAttnLanes;
constexpr uint32_t kAttnTileRows = (kAttnRegisters - kAttnKeyVectors - 1) / kAttnKeyVectors;
static_assert(kKeyBlock % kAttnKeyTile == 0, "a key block is a whole number of key tiles");
static_assert(kAttnTileRows == 6, "the row tails below are written for tiles of 6 rows");
static_assert(kAttnKeyVectors <= 4, "the key-vector cases of attn_scores go up to 4");

// bfloat16 narrowing of a batch: the rotation kernels' rounding (rope_half_emulation.hpp: nearest
// even, NaN made quiet, as common/half.hpp's float_to_bf16), then each 32-bit lane's low half
// kept, in the compiler's vector extensions so one text serves every architecture.
using AttnWords = uint32_t __attribute__((vector_size(kAttnLanes * sizeof(float))));
using AttnHalves = uint16_t __attribute__((vector_size(kAttnLanes * sizeof(uint16_t))));
void attn_store_bf16(uint16_t *p, AttnV v) {
  const xsimd::batch<int32_t, Arch> bits = float_to_bf16_bits(v);  // 0 .. 0xffff per lane
  AttnWords u;
  std::memcpy(&u, &bits, sizeof u);
  const AttnHalves h = __builtin_convertvector(u, AttnHalves);
  std::memcpy(p, &h, sizeof h);
}

// The views a tile reads an element type through (below), named by each type as Keys / Values.
template <typename E>
struct AttnPlainKeys;
template <typename E>
struct AttnPlainValues;

// How each element type of a cache is loaded (a batch of kAttnLanes, or one element: the tail of
// a head_dim that is not a multiple of kAttnLanes) and, for f16/bf16, rounded and stored.
struct AttnF32 {
  using T = float;
  using Keys = AttnPlainKeys<AttnF32>;
  using Values = AttnPlainValues<AttnF32>;
  static AttnV load(const float *p) { return AttnV::load_unaligned(p); }
  static float one(float x) { return x; }
};
struct AttnF16 {
  using T = uint16_t;
  using Keys = AttnPlainKeys<AttnF16>;
  using Values = AttnPlainValues<AttnF16>;
  static AttnV load(const uint16_t *p) { return attn_load_f16(p); }
  static void store(uint16_t *p, AttnV v) { attn_store_f16(p, v); }
  static float one(uint16_t x) { return f16_to_float(x); }
  static uint16_t one_rounded(float x) { return float_to_f16(x); }
};
struct AttnBF16 {
  using T = uint16_t;
  using Keys = AttnPlainKeys<AttnBF16>;
  using Values = AttnPlainValues<AttnBF16>;
  static AttnV load(const uint16_t *p) { return attn_load_bf16(p); }
  static void store(uint16_t *p, AttnV v) { attn_store_bf16(p, v); }
  static float one(uint16_t x) { return bf16_to_float(x); }
  static uint16_t one_rounded(float x) { return float_to_bf16(x); }
};

// ---- what the tiles read: views of a key tile and of a value chunk ---------------------------
//
// A score tile reads the V key vectors of dimension i through keys.load<V>(i, k) and a value tile
// the V vectors of token j through values.load<V>(j, x) (V: the tile's vectors). f32/f16/bf16
// load their elements and widen them; Q8_0/Q4_0 (common/quant_blocks.hpp) widen ggml's numbers
// and multiply each by its group's scale, which is the float dequantize_rows and
// dequantize_dimension_major compute (q * d is exact in float): so a quantized block read here
// gives the very bits the f32 tiles give on the block dequantized into floats, and a forward call
// may do either (attention_run.cpp dequantizes once for many rows) without a prefill and decode
// steps parting. Quantized keys are kGrouped: load gives the numbers only, and the tile
// multiplies them by scale(i0, v), loaded once per group of 32 dimensions from i0. The scales
// are widened to floats by the caller of the tiles, once per block.
// row(i) / row(j): the address the tiles of few rows prefetch ahead of; kRowBytes<V>: its bytes.

// f32/f16/bf16 keys: a tile's columns of the dimension-major block.
template <typename E>
struct AttnPlainKeys {
  static constexpr bool kGrouped = false;
  const typename E::T *tile;  // dimension 0 of the tile's first key
  template <uint32_t V>
  void load(uint32_t i, AttnV *k) const {
    for (uint32_t v = 0; v < V; ++v) k[v] = E::load(tile + size_t{i} * kKeyBlock + v * kAttnLanes);
  }
  const void *row(uint32_t i) const { return tile + size_t{i} * kKeyBlock; }
  template <uint32_t V>
  static constexpr size_t kRowBytes = V * kAttnLanes * sizeof(typename E::T);
};

// f32/f16/bf16 values: rows of d elements from the chunk's first column.
template <typename E>
struct AttnPlainValues {
  const typename E::T *first;  // token 0's element at the chunk's first column
  uint32_t d;
  template <uint32_t V>
  void load(uint32_t j, AttnV *x) const {
    for (uint32_t v = 0; v < V; ++v) x[v] = E::load(first + size_t{j} * d + v * kAttnLanes);
  }
  const void *row(uint32_t j) const { return first + size_t{j} * d; }
  template <uint32_t V>
  static constexpr size_t kRowBytes = V * kAttnLanes * sizeof(typename E::T);
};

// Scale floats of the tile's key vector v for the group of 32 dimensions from i0 (quantized key
// blocks keep one scale per key and group: [d / 32][kKeyBlock]).
inline AttnV attn_key_scale(const float *scales, uint32_t i0, uint32_t v) {
  return AttnV::load_unaligned(scales + size_t{i0 / own_copy::rotor::kQuantGroup} * kKeyBlock + v * kAttnLanes);
}

// Q8_0 keys (attention/quantized_keys.hpp): int8 numbers [d][kKeyBlock], scales as floats
// [d / 32][kKeyBlock] (widened by attn_scores_quantized). A tile's V vectors are consecutive bytes.
struct AttnQ8Keys {
  static constexpr bool kGrouped = true;
  const int8_t *numbers;  // dimension 0 of the tile's first key
  const float *scales;    // group 0 of the tile's first key
  template <uint32_t V>
  void load(uint32_t i, AttnV *k) const {
    attn_load_q8_run<V>(numbers + size_t{i} * kKeyBlock, k);
  }
  AttnV scale(uint32_t i0, uint32_t v) const { return attn_key_scale(scales, i0, v); }
  const void *row(uint32_t i) const { return numbers + size_t{i} * kKeyBlock; }
  template <uint32_t V>
  static constexpr size_t kRowBytes = V * kAttnLanes;
};

// Q4_0 keys: byte t of dimension i's 32 holds key t (low nibble) and key t + 32 (high). A tile
// of 64 keys (AVX-512) starts at key 0 and takes both nibbles of each byte, at shifts known when
// compiled; a narrower tile lies in one half (`high` says which): consecutive bytes, one shift.
struct AttnQ4Keys {
  static constexpr bool kGrouped = true;
  const uint8_t *numbers;  // dimension 0's byte of the tile's first key
  const float *scales;
  uint32_t high;  // 4: the tile's keys are in the high nibbles, else 0
  template <uint32_t V>
  void load(uint32_t i, AttnV *k) const {
    constexpr uint32_t half = kKeyBlock / 2;
    const uint8_t *row_bytes = numbers + size_t{i} * half;
    if constexpr (kAttnKeyTile >= kKeyBlock) {
      for (uint32_t v = 0; v < V; ++v)
        attn_load_q4_run<1>(row_bytes + v * kAttnLanes % half, v * kAttnLanes / half * 4, &k[v]);
    } else {
      attn_load_q4_run<V>(row_bytes, high, k);
    }
  }
  AttnV scale(uint32_t i0, uint32_t v) const { return attn_key_scale(scales, i0, v); }
  const void *row(uint32_t i) const { return numbers + size_t{i} * (kKeyBlock / 2); }
  template <uint32_t V>
  static constexpr size_t kRowBytes = V * kAttnLanes / 2;
};

// Quantized values: ggml's rows (d / 32 blocks of an f16 scale and the numbers), the scales
// widened to floats [d / 32][kKeyBlock] (group-major: a token's scale is one step from the
// last one's, which kept GCC 12 from versioning the loop on a stride and then keeping every
// accumulator on the stack) by attn_accumulate_quantized. A chunk of V vectors starts at
// a multiple of its width: 32 columns or more start a group (the vectors of each group are read
// apart), fewer lie inside one (consecutive bytes; a Q4_0 chunk then in one nibble).
template <rotor_dtype Type>
struct AttnQuantValues {
  const unsigned char *first;  // token 0's block holding the chunk's first column
  size_t row_bytes;
  const float *scales;  // token 0's scale of that block; token j's is j floats further
  uint32_t offset;      // the chunk's first column within its group (0 when it is 32 or wider)
  template <uint32_t V>
  void load(uint32_t j, AttnV *x) const {
    constexpr uint32_t group = own_copy::rotor::kQuantGroup;
    constexpr size_t block_bytes = own_copy::rotor::quant_block_bytes(Type);
    const unsigned char *row = first + size_t{j} * row_bytes;
    const float *row_scales = scales + j;  // group gg of the chunk: gg * kKeyBlock further
    if constexpr (V * kAttnLanes >= group) {
      for (uint32_t v = 0; v < V; ++v) {
        const uint32_t column = v * kAttnLanes;  // within the chunk, which starts a group
        const unsigned char *numbers = row + column / group * block_bytes + 2;
        if constexpr (Type == ROTOR_DTYPE_Q8_0)
          attn_load_q8_run<1>(reinterpret_cast<const int8_t *>(numbers) + column % group, &x[v]);
        else  // byte e of the 16 holds element e (low nibble) and element e + 16 (high)
          attn_load_q4_run<1>(numbers + column % (group / 2), column % group / (group / 2) * 4, &x[v]);
        x[v] = x[v] * AttnV(row_scales[column / group * kKeyBlock]);
      }
    } else {
      static_assert(Type == ROTOR_DTYPE_Q8_0 || V * kAttnLanes <= group / 2, "a Q4_0 chunk in one nibble");
      if constexpr (Type == ROTOR_DTYPE_Q8_0)
        attn_load_q8_run<V>(reinterpret_cast<const int8_t *>(row + 2) + offset, x);
      else
        attn_load_q4_run<V>(row + 2 + offset % (group / 2), offset / (group / 2) * 4, x);
      const AttnV scale(row_scales[0]);
      for (uint32_t v = 0; v < V; ++v) x[v] = x[v] * scale;
    }
  }
  const void *row(uint32_t j) const { return first + size_t{j} * row_bytes; }
  template <uint32_t V>
  static constexpr size_t kRowBytes =
      (V * kAttnLanes + own_copy::rotor::kQuantGroup - 1) / own_copy::rotor::kQuantGroup *
      own_copy::rotor::quant_block_bytes(Type);
};

struct AttnQ8 {
  using Keys = AttnQ8Keys;
  using Values = AttnQuantValues<ROTOR_DTYPE_Q8_0>;
};
struct AttnQ4 {
  using Keys = AttnQ4Keys;
  using Values = AttnQuantValues<ROTOR_DTYPE_Q4_0>;
};

// Tiles of fewer rows than kAttnTileRows (a decode step's group of rows: each key is read for 4
// rows only) stream the cache through once and do little arithmetic per byte, so they ask for
// the bytes kAttnAheadBytes ahead of each load; full tiles re-read blocks other tiles just loaded.
constexpr size_t kAttnAheadBytes = 4096;
template <uint32_t R>
void attn_prefetch_ahead(const void *p, size_t bytes) {
  if (R < kAttnTileRows) prefetch_lines(static_cast<const char *>(p) + kAttnAheadBytes, bytes);
}

// Whether one call of a tile function runs every whole tile of its rows (`tiles` of them, one
// after the other) rather than one: with 16 registers (AVX2). A call per tile (its prologue,
// epilogue and the stack frame GCC 12 builds, some 80 instructions) held the avx2 value tile,
// whose key loop is 64 steps of 23 instructions, at 0.90 of the FMA loop where the score tile's
// 128 steps reached 0.94 (rotor_bench_attention_kernels, 256 rows); in one call the 512-token
// prefill took 1-2.5% less time (performance.md). Not with 32 registers (NEON, AVX-512: 24
// accumulators), where GCC 12 is a register short already: written as a loop there too (a call
// per tile), the tiles moved spills into the key loop (neon64 value tile 9.02 -> 10.35 cycles
// per 64 multiply-adds on neoverse-n1, bench/cycles.py); with the loop's count the constant 1
// they compile as before.
constexpr bool kAttnTileStacks = kAttnRegisters < 32;

// The tiles one call of an R-row tile function runs when asked for `tiles`: all of them for whole
// tiles where kAttnTileStacks, else the constant 1 (row tails, decode steps' 4-row tiles and the
// 32-register sets compile as a single tile).
template <uint32_t R>
constexpr uint32_t attn_tiles_in_call(uint32_t tiles) {
  return kAttnTileStacks && R == kAttnTileRows ? tiles : 1;
}

// An element type's tiles with each row's query element or weight read by the multiply-adds
// themselves (AVX-512's embedded broadcast: attn_fma_broadcast, where the arch file defines
// ROTOR_ATTN_FMA_BROADCAST) instead of broadcast into a register once and used by all V of them.
// For AMD Zen 4 (the registry's Zen variant of avx512): llvm-mca's znver4 model puts a 512-bit
// broadcast from memory on FP1, one of the two pipes the double-pumped multiply-adds run on, so
// a 6-row tile took 5 cycles per 64 multiply-adds where those pipes allow 4; read by the
// multiply-adds, 4.00 (docs/cycles.md, docs/performance.md). Not for Intel: with two 512-bit FMA
// pipes a tile step's 24 multiply-adds take 12 cycles, and 28 loads on two load ports would
// take 14. Same arithmetic, same bits.
template <typename E>
struct AttnInFma : E {};
template <typename E>
struct AttnBroadcastInFma : std::false_type {};
template <typename E>
struct AttnBroadcastInFma<AttnInFma<E>> : std::true_type {};
// The identity on element types: kAttentionKernelSet's tiles (attn_kernel_set below).
template <typename E>
using AttnInRegister = E;

// acc[v] += *x * k[v] for v < V, each rounded once: the tiles' inner step for one row.
template <typename E, uint32_t V>
__attribute__((always_inline)) inline void attn_row_fmas(const float *x, const AttnV *k, AttnV *acc) {
#ifdef ROTOR_ATTN_FMA_BROADCAST
  if constexpr (AttnBroadcastInFma<E>::value) {
    for (uint32_t v = 0; v < V; ++v) acc[v] = attn_fma_broadcast(x, k[v], acc[v]);
    return;
  }
#endif
  const AttnV broadcast(*x);
  for (uint32_t v = 0; v < V; ++v) acc[v] = attn_fma(broadcast, k[v], acc[v]);
}

// R rows x V key vectors of a tile (V * kAttnLanes scores per row, written whole), for
// attn_tiles_in_call<R>(tiles) tiles of R rows one after the other. Out of line (as GCC leaves
// the f32/f16/bf16 tiles anyway), so each type's tile is one function that bench/cycles.py
// finds by name.
template <typename E, uint32_t R, uint32_t V>
__attribute__((noinline)) void attn_score_tile(const float *q, uint32_t d, typename E::Keys keys, float scale,
                                               float *out, uint32_t stride, uint32_t tiles) {
  using Keys = typename E::Keys;
  const AttnV s(scale);
  for (uint32_t t = 0; t < attn_tiles_in_call<R>(tiles); ++t, q += size_t{R} * d, out += size_t{R} * stride) {
    if (d == 0) {
      // A dot product of nothing (head_dim is never 0 in a call; see attn_accumulate_tile for why
      // this case is written apart).
      for (uint32_t r = 0; r < R; ++r)
        for (uint32_t v = 0; v < V; ++v) (AttnV(0.0f) * s).store_unaligned(out + size_t{r} * stride + v * kAttnLanes);
      continue;
    }
    AttnV acc[R][V];
    for (uint32_t r = 0; r < R; ++r)
      for (uint32_t v = 0; v < V; ++v) acc[r][v] = AttnV(0.0f);
    if constexpr (Keys::kGrouped) {
      // A group's scales are loaded at its first dimension and held in registers where the tile
      // leaves room. One loop over the dimensions, as below: with a loop over the groups around
      // it, GCC 12 for AArch64 stored every accumulator to the stack at every dimension.
      // (Zeros first only for GCC 12's -Wmaybe-uninitialized: i = 0 loads the first group's.)
      AttnV scales[V];
      for (uint32_t v = 0; v < V; ++v) scales[v] = AttnV(0.0f);
      for (uint32_t i = 0; i < d; ++i) {
        if (i % own_copy::rotor::kQuantGroup == 0)
          for (uint32_t v = 0; v < V; ++v) scales[v] = keys.scale(i, v);
        attn_prefetch_ahead<R>(keys.row(i), Keys::template kRowBytes<V>);
        AttnV k[V];
        keys.template load<V>(i, k);
        for (uint32_t v = 0; v < V; ++v) k[v] = k[v] * scales[v];
        // Q4_0's widening is the longest chain before the multiply-adds: all of it first
        // (attn_widened_first: an in-order core otherwise waits on each vector in turn).
        if constexpr (std::is_same_v<Keys, AttnQ4Keys>) attn_widened_first<V>(k);
        for (uint32_t r = 0; r < R; ++r) attn_row_fmas<E, V>(q + size_t{r} * d + i, k, acc[r]);
      }
    } else {
      for (uint32_t i = 0; i < d; ++i) {
        attn_prefetch_ahead<R>(keys.row(i), Keys::template kRowBytes<V>);
        AttnV k[V];
        keys.template load<V>(i, k);
        for (uint32_t r = 0; r < R; ++r) attn_row_fmas<E, V>(q + size_t{r} * d + i, k, acc[r]);
      }
    }
    for (uint32_t r = 0; r < R; ++r)
      for (uint32_t v = 0; v < V; ++v) (acc[r][v] * s).store_unaligned(out + size_t{r} * stride + v * kAttnLanes);
  }
}

// Rows [0, rows) in tiles of kAttnTileRows rows, then one tile of the rows left:
// tile(std::integral_constant<uint32_t, R>{}, r0, tiles) for `tiles` tiles of R rows from r0 (all
// the whole tiles in one call where kAttnTileStacks, else one a call), so that each row count is
// a tile of its own (its accumulators in registers).
template <typename Tile>
void attn_row_tiles(uint32_t rows, Tile tile) {
  uint32_t r0 = 0;
  if constexpr (kAttnTileStacks) {
    r0 = rows / kAttnTileRows * kAttnTileRows;
    if (r0 > 0) tile(std::integral_constant<uint32_t, kAttnTileRows>{}, 0, r0 / kAttnTileRows);
  } else {
    for (; r0 + kAttnTileRows <= rows; r0 += kAttnTileRows) tile(std::integral_constant<uint32_t, kAttnTileRows>{}, r0, 1);
  }
  switch (rows - r0) {
    case 0: break;
    case 1: tile(std::integral_constant<uint32_t, 1>{}, r0, 1); break;
    case 2: tile(std::integral_constant<uint32_t, 2>{}, r0, 1); break;
    case 3: tile(std::integral_constant<uint32_t, 3>{}, r0, 1); break;
    case 4: tile(std::integral_constant<uint32_t, 4>{}, r0, 1); break;
    default: tile(std::integral_constant<uint32_t, 5>{}, r0, 1); break;
  }
}

template <typename E, uint32_t V>
void attn_score_vectors(const float *q, uint32_t rows, uint32_t d, typename E::Keys keys, float scale, float *out,
                        uint32_t stride) {
  attn_row_tiles(rows, [&](auto tile_rows, uint32_t r0, uint32_t tiles) {
    attn_score_tile<E, decltype(tile_rows)::value, V>(q + size_t{r0} * d, d, keys, scale, out + size_t{r0} * stride,
                                                      stride, tiles);
  });
}

// The tiles of a block; keys_at(column) is the view of the tile whose first key is `column`.
template <typename E, typename KeysAt>
void attn_score_tiles(const float *q, uint32_t rows, uint32_t n, uint32_t d, float scale, float *out, uint32_t stride,
                      KeysAt keys_at) {
  for (uint32_t t = 0; t * kAttnKeyTile < n; ++t) {
    const typename E::Keys keys = keys_at(t * kAttnKeyTile);
    float *tile_out = out + t * kAttnKeyTile;
    // The last tile of a short block (a decode step's end of the cache): only the key vectors
    // that hold keys.
    const uint32_t left = n - t * kAttnKeyTile;
    const uint32_t vectors = left >= kAttnKeyTile ? kAttnKeyVectors : (left + kAttnLanes - 1) / kAttnLanes;
    switch (vectors) {
      case 1: attn_score_vectors<E, 1>(q, rows, d, keys, scale, tile_out, stride); break;
      case 2: attn_score_vectors<E, (2 <= kAttnKeyVectors ? 2 : 1)>(q, rows, d, keys, scale, tile_out, stride); break;
      case 3: attn_score_vectors<E, (3 <= kAttnKeyVectors ? 3 : 1)>(q, rows, d, keys, scale, tile_out, stride); break;
      default: attn_score_vectors<E, kAttnKeyVectors>(q, rows, d, keys, scale, tile_out, stride); break;
    }
  }
}

template <typename E>
void attn_scores(const float *q, uint32_t rows, const void *key_block, uint32_t n, uint32_t d, float scale,
                 float *out, uint32_t stride) {
  const typename E::T *block = static_cast<const typename E::T *>(key_block);
  attn_score_tiles<E>(q, rows, n, d, scale, out, stride,
                      [block](uint32_t column) { return typename E::Keys{block + column}; });
}

// Scale groups of the widest head_dim a quantized cache takes (rotor.h): the scales' floats of
// one block fit on the stack.
constexpr uint32_t kAttnMaxQuantGroups = ROTOR_KV_MAX_QUANTIZED_HEAD_DIM / own_copy::rotor::kQuantGroup;

// A quantized key block (attention/quantized_keys.hpp): its scales widened once, then the tiles.
template <typename E, rotor_dtype Type>
void attn_scores_quantized(const float *q, uint32_t rows, const void *key_block, uint32_t n, uint32_t d, float scale,
                           float *out, uint32_t stride) {
  const unsigned char *block = static_cast<const unsigned char *>(key_block);
  const uint32_t groups = d / own_copy::rotor::kQuantGroup;
  alignas(64) float scales[kAttnMaxQuantGroups * kKeyBlock];
  const unsigned char *scale_bits = block + own_copy::rotor::dimension_major_numbers_bytes(Type, d, kKeyBlock);
  // The scales are whole vectors of f16 (64 per group) at an even address.
  const uint16_t *scale_words = reinterpret_cast<const uint16_t *>(scale_bits);
  for (uint32_t i = 0; i < groups * kKeyBlock; i += kAttnLanes)
    attn_load_f16(scale_words + i).store_aligned(scales + i);
  attn_score_tiles<E>(q, rows, n, d, scale, out, stride, [&](uint32_t column) {
    if constexpr (Type == ROTOR_DTYPE_Q8_0)
      return AttnQ8Keys{reinterpret_cast<const int8_t *>(block) + column, scales + column};
    else
      return AttnQ4Keys{block + column % (kKeyBlock / 2), scales + column, column / (kKeyBlock / 2) * 4};
  });
}

// R rows x V vectors of d starting at acc / values (already at the chunk's first column), for
// `tiles` tiles of R rows as the score tile; out of line as the score tile.
template <typename E, uint32_t R, uint32_t V>
__attribute__((noinline)) void attn_accumulate_tile(const float *w, uint32_t stride, typename E::Values values,
                                                    uint32_t n, uint32_t d, float *acc, uint32_t tiles) {
  using Values = typename E::Values;
  for (uint32_t t = 0; t < attn_tiles_in_call<R>(tiles); ++t, w += size_t{R} * stride, acc += size_t{R} * d) {
    AttnV a[R][V];
    for (uint32_t r = 0; r < R; ++r)
      for (uint32_t v = 0; v < V; ++v) a[r][v] = AttnV::load_unaligned(acc + size_t{r} * d + v * kAttnLanes);
    // Without this early return GCC 12 keeps a stack copy of every accumulator for the path on
    // which the key loop does not run (24 extra stores and loads per tile).
    if (n == 0) return;
    for (uint32_t j = 0; j < n; ++j) {
      attn_prefetch_ahead<R>(values.row(j), Values::template kRowBytes<V>);
      AttnV x[V];
      values.template load<V>(j, x);
      for (uint32_t r = 0; r < R; ++r) attn_row_fmas<E, V>(w + size_t{r} * stride + j, x, a[r]);
    }
    for (uint32_t r = 0; r < R; ++r)
      for (uint32_t v = 0; v < V; ++v) a[r][v].store_unaligned(acc + size_t{r} * d + v * kAttnLanes);
  }
}

// Rows [0, rows) x V vectors of d starting at acc / values, tiles of kAttnTileRows rows.
template <typename E, uint32_t V>
void attn_accumulate_columns(const float *w, uint32_t stride, uint32_t rows, typename E::Values values, uint32_t n,
                             uint32_t d, float *acc) {
  attn_row_tiles(rows, [&](auto tile_rows, uint32_t r0, uint32_t tiles) {
    attn_accumulate_tile<E, decltype(tile_rows)::value, V>(w + size_t{r0} * stride, stride, values, n, d,
                                                           acc + size_t{r0} * d, tiles);
  });
}

// Columns of d outermost: one slice of the values block (n x kAttnKeyVectors vectors) stays in
// L1 while every row tile passes over it. values_at(column) is the view of the chunk starting
// there; returns the first column left (d % kAttnLanes of them, for the caller's scalar tail).
template <typename E, typename ValuesAt>
uint32_t attn_accumulate_chunks(const float *w, uint32_t stride, uint32_t rows, uint32_t n, uint32_t d, float *acc,
                                ValuesAt values_at) {
  constexpr uint32_t kWide = kAttnKeyVectors * kAttnLanes;
  const uint32_t full = d - d % kAttnLanes;
  uint32_t i = 0;
  for (; i + kWide <= full; i += kWide)
    attn_accumulate_columns<E, kAttnKeyVectors>(w, stride, rows, values_at(i), n, d, acc + i);
  for (; i < full; i += kAttnLanes) attn_accumulate_columns<E, 1>(w, stride, rows, values_at(i), n, d, acc + i);
  return i;
}

template <typename E>
void attn_accumulate(const float *w, uint32_t stride, uint32_t rows, const void *value_rows, uint32_t n, uint32_t d,
                     float *acc) {
  const typename E::T *values = static_cast<const typename E::T *>(value_rows);
  const uint32_t tail = attn_accumulate_chunks<E>(w, stride, rows, n, d, acc, [values, d](uint32_t column) {
    return typename E::Values{values + column, d};
  });
  for (uint32_t i = tail; i < d; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t j = 0; j < n; ++j)
        acc[size_t{r} * d + i] =
            attn_fma_one(w[size_t{r} * stride + j], E::one(values[size_t{j} * d + i]), acc[size_t{r} * d + i]);
}

// Quantized value rows (ggml's blocks; d a multiple of 32, so no scalar tail): the scales of the
// n rows widened once, then the chunks.
template <typename E, rotor_dtype Type>
void attn_accumulate_quantized(const float *w, uint32_t stride, uint32_t rows, const void *value_rows, uint32_t n,
                               uint32_t d, float *acc) {
  using own_copy::rotor::kQuantGroup;
  const unsigned char *values = static_cast<const unsigned char *>(value_rows);
  const uint32_t groups = d / kQuantGroup;
  const size_t block_bytes = own_copy::rotor::quant_block_bytes(Type), row_bytes = size_t{groups} * block_bytes;
  // All the bits gathered first, then widened: a vector load of bits just stored one by one
  // would wait for them (a store-forwarding stall per vector). Group-major, n of kKeyBlock used.
  alignas(64) uint16_t bits[kAttnMaxQuantGroups * kKeyBlock];
  alignas(64) float scales[kAttnMaxQuantGroups * kKeyBlock];
  for (uint32_t j = 0; j < n; ++j)
    for (uint32_t g = 0; g < groups; ++g)
      std::memcpy(&bits[size_t{g} * kKeyBlock + j], values + size_t{j} * row_bytes + g * block_bytes, sizeof(uint16_t));
  const uint32_t whole = (n + kAttnLanes - 1) / kAttnLanes * kAttnLanes;  // <= kKeyBlock
  for (uint32_t g = 0; g < groups; ++g) {
    for (uint32_t j = n; j < whole; ++j) bits[size_t{g} * kKeyBlock + j] = 0;
    for (uint32_t j = 0; j < whole; j += kAttnLanes)
      attn_load_f16(bits + size_t{g} * kKeyBlock + j).store_aligned(scales + size_t{g} * kKeyBlock + j);
  }
  attn_accumulate_chunks<E>(w, stride, rows, n, d, acc, [&](uint32_t column) {
    return AttnQuantValues<Type>{values + column / kQuantGroup * block_bytes, row_bytes,
                                 scales + size_t{column / kQuantGroup} * kKeyBlock, column % kQuantGroup};
  });
}

// Lane-wise a > b ? a : b and 2^n from the bits of n + 1.5 * 2^23, in the compiler's vector
// extensions: GCC 12's AVX-512 max and shift intrinsics (which xsimd calls) trip
// -Wuninitialized inside its own header.
using AttnFloatBits = float __attribute__((vector_size(kAttnLanes * sizeof(float))));
using AttnIntBits = uint32_t __attribute__((vector_size(kAttnLanes * sizeof(float))));
AttnV attn_max(AttnV a, AttnV b) {
  AttnFloatBits x, y;
  std::memcpy(&x, &a, sizeof x);
  std::memcpy(&y, &b, sizeof y);
  const AttnFloatBits m = x > y ? x : y;
  AttnV out;
  std::memcpy(&out, &m, sizeof m);
  return out;
}
AttnV attn_pow2_of_shifted(AttnV shifted) {
  AttnIntBits bits;
  std::memcpy(&bits, &shifted, sizeof bits);
  // (bits + 127) << 23: the bits of 1.5 * 2^23 shift out of the word, n + 127 becomes the exponent.
  bits = (bits + 127u) << 23;
  AttnV out;
  std::memcpy(&out, &bits, sizeof bits);
  return out;
}

// 2^x for x = s - m <= kStaleMaximumSlack (scores come in base-2 units: attention_kernels.hpp)
// with the formulas of src/kernels/online_softmax.hpp (n = x rounded, r = x - n exact, a degree-6
// polynomial for 2^r, 2^n built in the exponent bits), lane by lane: 2^0 = 1 exactly, NaN stays
// NaN, and x < -126 gives 2^-126 ~ 1.2e-38 rather than 0 (the clamp is then one max instead of a
// compare and two selects; beside a row maximum's weight of 1 such a weight adds nothing to a
// sum, and its share of the output is below 2^-125). Base 2 takes 7 multiply-adds a vector where
// e^x took 11 (the multiply by log2(e) and the two-part reduction by ln 2 go; the score tile's
// scale carries log2(e) instead): the fold is the prefill's largest cost after the tiles.
AttnV attn_softmax_exp2(AttnV x) {
  // max(-126, NaN) is the NaN (maxps and fmax give their NaN operand), which stays NaN through
  // every step below; one instruction, where the same select written with vector extensions
  // compiled to a compare and a blend (GCC 12).
  const AttnV clamped = xsimd::max(AttnV(-126.0f), x);
  const AttnV shifter(12582912.0f);
  // n + 1.5 * 2^23 holds the integer n nearest x in its low mantissa bits; r in [-1/2, 1/2].
  const AttnV shifted = clamped + shifter;
  const AttnV r = clamped - (shifted - shifter);
  AttnV q(kExp2Poly[5]);
  q = attn_fma(q, r, AttnV(kExp2Poly[4]));
  q = attn_fma(q, r, AttnV(kExp2Poly[3]));
  q = attn_fma(q, r, AttnV(kExp2Poly[2]));
  q = attn_fma(q, r, AttnV(kExp2Poly[1]));
  q = attn_fma(q, r, AttnV(kExp2Poly[0]));
  return attn_fma(r, q, AttnV(1.0f)) * attn_pow2_of_shifted(shifted);
}

// Pairwise (tree) reductions of kFoldVectors vectors, then of the lanes: a short dependency chain
// for every row's fold. Maximum and sum of a row depend only on its block's scores.
constexpr uint32_t kFoldVectors = 64 / kAttnLanes;

template <typename Op>
AttnV attn_tree(AttnV *v, Op op) {
  for (uint32_t width = kFoldVectors; width > 1; width /= 2)
    for (uint32_t i = 0; i < width / 2; ++i) v[i] = op(v[2 * i], v[2 * i + 1]);
  return v[0];
}

template <uint32_t R>
void attn_fold_rows(float *scores, uint32_t stride, uint32_t n, float *running_max, float *running_sum, float *acc,
                    uint32_t d);

// Whether a whole block (n == kKeyBlock) has its own fold, with constant loop counts and its
// exps unrolled into one straight block: where 4 rows of scores fill half the registers
// (AVX-512: 4 vectors a row). With 16 registers (AVX2, 8 vectors a row) or 16 vectors a row
// (NEON) unrolled exps spill: llvm-mca put the avx2 fold 6% and the neon64 fold 4.5x slower
// (bench/cycles.py), so those sets stream a whole block from memory instead
// (attn_fold_block_streamed).
constexpr bool kFoldUnrolled = kAttnRegisters >= 32 && kFoldVectors <= 4;

// The rows of an attn_fold_rows_of call of which one or more has an infinite maximum (bit r of
// `infinite` for row r), their scores still untouched in memory: those rows go to the portable
// fold, which gives them the softmax's limit (online_softmax.hpp, weigh_infinite_maximum), the
// others to this set's fold one by one (the same bits as in any group of rows). Apart and cold,
// so that finite rows pay a comparison per row and one branch, and keep their registers.
__attribute__((noinline, cold)) void attn_fold_rows_with_infinity(float *scores, uint32_t stride, uint32_t rows,
                                                                  uint32_t n, float *running_max, float *running_sum,
                                                                  float *acc, uint32_t d, uint32_t infinite) {
  for (uint32_t r = 0; r < rows; ++r) {
    float *row = scores + size_t{r} * stride, *row_acc = acc + size_t{r} * d;
    if (infinite >> r & 1)
      portable_attention_kernels().fold(row, stride, 1, n, running_max + r, running_sum + r, row_acc, d);
    else
      attn_fold_rows<1>(row, stride, n, running_max + r, running_sum + r, row_acc, d);
  }
}

// Row r's new running maximum: the largest of its block's vectors t (overwritten) when that
// exceeds the running maximum by more than the slack, else the running maximum
// (next_running_maximum). An infinite one (an overflowed key or query: an f16/bf16 key past its range
// is stored as infinity) would make 2^(s - m) = 2^(inf - inf) NaN: bit r of *infinite says
// so. Not std::isinf: an inline function of external linkage (see above).
__attribute__((always_inline)) inline float attn_row_new_max(AttnV *t, float running_max, uint32_t r,
                                                             uint32_t *infinite) {
  const float block_max = attn_hmax(attn_tree(t, [](AttnV a, AttnV b) { return attn_max(a, b); }));
  const float new_max = next_running_maximum(block_max, running_max);
  *infinite |= uint32_t(new_max == INFINITY || new_max == -INFINITY) << r;
  return new_max;
}

// The end of a fold step: each row's accumulators and sum rescaled to its new maximum (when it
// moved), then the block's sum added.
template <uint32_t R>
__attribute__((always_inline)) inline void attn_fold_rescale(const float *new_max, const float *block_sum,
                                                             float *running_max, float *running_sum, float *acc,
                                                             uint32_t d) {
  for (uint32_t r = 0; r < R; ++r) {
    if (new_max[r] != running_max[r]) {
      // The first block finds running_max = -inf: the factor is 0 and so are sum and acc.
      const AttnV factor = attn_softmax_exp2(AttnV(running_max[r] - new_max[r]));
      alignas(64) float lanes[kAttnLanes];
      factor.store_aligned(lanes);
      const float f = lanes[0];
      running_sum[r] *= f;
      float *a = acc + size_t{r} * d;
      const uint32_t acc_full = d - d % kAttnLanes;
      for (uint32_t i = 0; i < acc_full; i += kAttnLanes) (AttnV::load_unaligned(a + i) * factor).store_unaligned(a + i);
      for (uint32_t i = acc_full; i < d; ++i) a[i] *= f;
      running_max[r] = new_max[r];
    }
    running_sum[r] += block_sum[r];
  }
}

// The online softmax step of R rows with the same n, interleaved so that one row's chain of
// dependent steps (maximum, exp, sum) overlaps the others'. Each row's block (n <= 64 scores) is
// held in registers; lanes past n hold -inf (weight exactly 0, no effect on the maximum). With
// kWholeBlock (n == kKeyBlock, every row a prefill scores off the diagonal) every loop has a
// constant count and no tail, and the R x kFoldVectors exps are unrolled into one straight block:
// at 4 rows that took the AVX-512 fold from 0.18-0.19 to 0.14 of the rows' FMA time
// (rotor_bench_attention_kernels, BM_KernelFold/256), where 4 rows with the tails' branches
// measured 0.17 and 2 rows unrolled 0.16. Rows, order and arithmetic per row are as before:
// the same bits for any R and either path.
template <uint32_t R, bool kWholeBlock>
__attribute__((always_inline)) inline void attn_fold_rows_of(float *scores, uint32_t stride, uint32_t n_given,
                                                             float *running_max, float *running_sum, float *acc,
                                                             uint32_t d) {
  const uint32_t n = kWholeBlock ? kKeyBlock : n_given;
  const uint32_t full = n - n % kAttnLanes, rest = n - full;
  AttnV s[R][kFoldVectors];
  float new_max[R], block_sum[R];
  for (uint32_t r = 0; r < R; ++r) {
    const float *row = scores + size_t{r} * stride;
    for (uint32_t v = 0; v < kFoldVectors; ++v)
      s[r][v] = v * kAttnLanes < full ? AttnV::load_unaligned(row + v * kAttnLanes) : AttnV(-INFINITY);
    if (rest > 0) {
      alignas(64) float tail[kAttnLanes];
      for (uint32_t l = 0; l < kAttnLanes; ++l) tail[l] = l < rest ? row[full + l] : -INFINITY;
      s[r][full / kAttnLanes] = AttnV::load_aligned(tail);
    }
  }
  uint32_t infinite = 0;  // bit r: row r's maximum is infinite
  for (uint32_t r = 0; r < R; ++r) {
    AttnV t[kFoldVectors];
    for (uint32_t v = 0; v < kFoldVectors; ++v) t[v] = s[r][v];
    new_max[r] = attn_row_new_max(t, running_max[r], r, &infinite);
  }
  if (infinite != 0) {
    attn_fold_rows_with_infinity(scores, stride, R, n, running_max, running_sum, acc, d, infinite);
    return;
  }
  if constexpr (kWholeBlock && kFoldUnrolled) {
#pragma GCC unroll 4
    for (uint32_t r = 0; r < R; ++r) {
      const AttnV m(new_max[r]);
#pragma GCC unroll 4
      for (uint32_t v = 0; v < kFoldVectors; ++v) s[r][v] = attn_softmax_exp2(s[r][v] - m);
    }
  } else {
    for (uint32_t r = 0; r < R; ++r) {
      const AttnV m(new_max[r]);
      for (uint32_t v = 0; v < kFoldVectors; ++v) s[r][v] = attn_softmax_exp2(s[r][v] - m);
    }
  }
  for (uint32_t r = 0; r < R; ++r) {
    float *row = scores + size_t{r} * stride;
    for (uint32_t v = 0; v * kAttnLanes < n; ++v) {
      if ((v + 1) * kAttnLanes <= n) {
        s[r][v].store_unaligned(row + v * kAttnLanes);
      } else {
        alignas(64) float tail[kAttnLanes];
        s[r][v].store_aligned(tail);
        for (uint32_t l = 0; v * kAttnLanes + l < n; ++l) row[v * kAttnLanes + l] = tail[l];
      }
    }
    block_sum[r] = attn_hsum(attn_tree(s[r], [](AttnV a, AttnV b) { return a + b; }));
  }
  attn_fold_rescale<R>(new_max, block_sum, running_max, running_sum, acc, d);
}

// The fold of a whole block (n == kKeyBlock) for the sets whose row of scores does not fit in
// registers beside an exp's (AVX2: 8 of 16 registers a row; NEON: 16 of 32): the same steps,
// order and bits as attn_fold_rows_of, but the scores are read from memory twice (for the
// maximum, then each vector into its exp, its store and the sum) instead of being held: held,
// GCC 12 kept the row and the exps' temporaries on the stack (85 spill loads and stores per
// avx2 row). The R rows' maxima come first, so that their chains overlap. The sum is the same
// pairwise tree, built as the vectors come: level[k] holds the sum of the last 2^k vectors not
// yet added to a wider one.
template <uint32_t R>
__attribute__((always_inline)) inline void attn_fold_block_streamed(float *scores, uint32_t stride,
                                                                    float *running_max, float *running_sum, float *acc,
                                                                    uint32_t d) {
  float new_max[R], block_sum[R];
  uint32_t infinite = 0;  // bit r: row r's maximum is infinite
  for (uint32_t r = 0; r < R; ++r) {
    const float *row = scores + size_t{r} * stride;
    AttnV t[kFoldVectors];
    for (uint32_t v = 0; v < kFoldVectors; ++v) t[v] = AttnV::load_unaligned(row + v * kAttnLanes);
    new_max[r] = attn_row_new_max(t, running_max[r], r, &infinite);
  }
  if (infinite != 0) {
    attn_fold_rows_with_infinity(scores, stride, R, kKeyBlock, running_max, running_sum, acc, d, infinite);
    return;
  }
  constexpr uint32_t kLevels = __builtin_ctz(kFoldVectors) + 1;
  for (uint32_t r = 0; r < R; ++r) {
    float *row = scores + size_t{r} * stride;
    const AttnV m(new_max[r]);
    AttnV level[kLevels];
#pragma GCC unroll 16
    for (uint32_t v = 0; v < kFoldVectors; ++v) {
      AttnV e = attn_softmax_exp2(AttnV::load_unaligned(row + v * kAttnLanes) - m);
      e.store_unaligned(row + v * kAttnLanes);
      uint32_t k = 0;
#pragma GCC unroll 8
      for (; (v >> k & 1) != 0; ++k) e = level[k] + e;
      level[k] = e;
    }
    block_sum[r] = attn_hsum(level[kLevels - 1]);
  }
  attn_fold_rescale<R>(new_max, block_sum, running_max, running_sum, acc, d);
}

// R rows (the fold bench/cycles.py models: attn_fold_rows<R>). A whole block through its own
// copy where kFoldUnrolled, through the streamed fold where a row does not fit in registers;
// the diagonal's shorter rows through attn_fold_rows_of.
template <uint32_t R>
void attn_fold_rows(float *scores, uint32_t stride, uint32_t n, float *running_max, float *running_sum, float *acc,
                    uint32_t d) {
  if (n == kKeyBlock) {
    if constexpr (kFoldUnrolled)
      attn_fold_rows_of<R, true>(scores, stride, n, running_max, running_sum, acc, d);
    else
      attn_fold_block_streamed<R>(scores, stride, running_max, running_sum, acc, d);
    return;
  }
  attn_fold_rows_of<R, false>(scores, stride, n, running_max, running_sum, acc, d);
}

// Rows per fold call: 4 x 4 vectors of scores on AVX-512 (16 of its 32 registers); 2 on NEON
// (16 vectors a row) and with 16 registers (8 a row), where whole blocks are streamed.
constexpr uint32_t kFoldRows = kAttnRegisters < 32 ? 2 : kFoldVectors <= 4 ? 4 : 2;

void attn_fold(float *scores, uint32_t stride, uint32_t rows, uint32_t n, float *running_max, float *running_sum,
               float *acc, uint32_t d) {
  uint32_t r = 0;
  for (; r + kFoldRows <= rows; r += kFoldRows)
    attn_fold_rows<kFoldRows>(scores + size_t{r} * stride, stride, n, running_max + r, running_sum + r, acc + size_t{r} * d, d);
  for (; r < rows; ++r)
    attn_fold_rows<1>(scores + size_t{r} * stride, stride, n, running_max + r, running_sum + r, acc + size_t{r} * d, d);
}

template <typename E>
void attn_widen(const void *from, uint32_t count, float *to) {
  const typename E::T *x = static_cast<const typename E::T *>(from);
  uint32_t i = 0;
  for (; i + kAttnLanes <= count; i += kAttnLanes) E::load(x + i).store_unaligned(to + i);
  for (; i < count; ++i) to[i] = E::one(x[i]);
}

template <typename E>
void attn_narrow(const float *from, uint32_t count, void *to) {
  typename E::T *x = static_cast<typename E::T *>(to);
  uint32_t i = 0;
  for (; i + kAttnLanes <= count; i += kAttnLanes) E::store(x + i, AttnV::load_unaligned(from + i));
  for (; i < count; ++i) x[i] = E::one_rounded(from[i]);
}

// Quantized caches: common/quant_blocks.hpp's loops, vectorized with this file's flags.
template <rotor_dtype Type>
void attn_dequantize_keys(const unsigned char *block, uint32_t d, float *out) {
  own_copy::rotor::dequantize_dimension_major(Type, d, kKeyBlock, block, out);
}
template <rotor_dtype Type>
void attn_dequantize_values(const unsigned char *rows, uint32_t count, uint32_t d, float *out) {
  own_copy::rotor::dequantize_rows(Type, rows, count, d, out);
}

// The set with the tiles of Tiles<E> for each element type E (AttnInRegister, or AttnInFma);
// the fold, widening, narrowing and dequantizing are the same functions in either.
template <template <typename> class Tiles>
constexpr AttentionKernels attn_kernel_set() {
  return {{attn_scores<Tiles<AttnF32>>, attn_scores<Tiles<AttnF16>>, attn_scores<Tiles<AttnBF16>>,
           attn_scores_quantized<Tiles<AttnQ8>, ROTOR_DTYPE_Q8_0>, attn_scores_quantized<Tiles<AttnQ4>, ROTOR_DTYPE_Q4_0>},
          {attn_accumulate<Tiles<AttnF32>>, attn_accumulate<Tiles<AttnF16>>, attn_accumulate<Tiles<AttnBF16>>,
           attn_accumulate_quantized<Tiles<AttnQ8>, ROTOR_DTYPE_Q8_0>,
           attn_accumulate_quantized<Tiles<AttnQ4>, ROTOR_DTYPE_Q4_0>},
          {nullptr, attn_widen<AttnF16>, attn_widen<AttnBF16>},
          {nullptr, attn_narrow<AttnF16>, attn_narrow<AttnBF16>},
          attn_fold,
          {attn_dequantize_keys<ROTOR_DTYPE_Q8_0>, attn_dequantize_keys<ROTOR_DTYPE_Q4_0>},
          {attn_dequantize_values<ROTOR_DTYPE_Q8_0>, attn_dequantize_values<ROTOR_DTYPE_Q4_0>}};
}

const AttentionKernels kAttentionKernelSet = attn_kernel_set<AttnInRegister>();
#ifdef ROTOR_ATTN_FMA_BROADCAST
// What the registry gives AMD's Zen cores under this set's name (AttnInFma above).
const AttentionKernels kAttentionKernelSetZen = attn_kernel_set<AttnInFma>();
#endif
