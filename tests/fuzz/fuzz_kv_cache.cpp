// libFuzzer target for the KV cache's storage choices (1.3): rotor_kv_cache_config's bytes as a
// caller may hand them over (struct_size, key and value dtype and flags, any value), then
// caches of f32/f16/bf16/Q8_0/Q4_0 keys and values, rotated or un-rotated (ROTOR_KV_UNROTATED_KEYS),
// through up to four rotor_attention_forward / rotor_attention_forward_axes calls, each perhaps
// followed by a context shift (rotor_kv_cache_evict) with a drawn range, under a drawn rescale
// policy, with or without a pool.
//
// Properties:
//  - rotor_kv_cache_config_init_sized, _arena_size_ex, _init_ex and _get_config accept exactly the
//    configs the header allows (struct_size 12 or 16, dtypes 0..4, flags 0 or UNROTATED_KEYS,
//    quantized types only at head_dim a multiple of 32 up to ROTOR_KV_MAX_QUANTIZED_HEAD_DIM),
//    read no byte past struct_size (the config lies in a block of exactly that many bytes), and
//    on error write nothing; get_config gives back what init_ex was given.
//  - Forward calls and shifts return the status their arguments call for (forward_axes refuses
//    un-rotated caches and tables whose rows change; a cache past its max_len, a short
//    workspace, an output inside a cache's arena are refused); on error no cache arena, tensor
//    or workspace byte changed.
//  - On success, outputs are finite for finite inputs and lie within the dequantized values
//    their query sees; with f32 tensors and a table whose rows never change, each output equals
//    a double attention over the cache as it was stored (ggml's Q8_0/Q4_0 rule written out here,
//    keys rotated by rotor_apply before storing, or by the rows when read for un-rotated keys)
//    within float rounding; and every prefill gives, bit for bit, what the same tokens give as
//    decode steps through twin caches that went through the same calls and shifts.
#include "c_shim.h"
#include "fuzz_common.hpp"

namespace {

using fuzz::Block;
using fuzz::require;

constexpr uint32_t kGroup = 32;  // elements per Q8_0/Q4_0 block

bool quantized(int dt) { return dt == ROTOR_DTYPE_Q8_0 || dt == ROTOR_DTYPE_Q4_0; }
bool valid_storage_dtype(int dt) { return dt >= 0 && dt <= 4; }

// ---- number formats, written from their definitions (shares nothing with src/) -------------

// float -> IEEE binary16 bits, rounded to nearest even.
uint16_t to_f16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  const double a = std::fabs(double(f));
  if (std::isnan(a)) return uint16_t(sign | 0x7e00u);
  if (a >= 65520.0) return uint16_t(sign | 0x7c00u);  // half-way past 65504 rounds to infinity
  if (a < 0x1p-14) return uint16_t(sign | uint16_t(std::nearbyint(a * 0x1p24)));  // subnormal (1024 = min normal)
  int e;
  double m = std::nearbyint(std::ldexp(std::frexp(a, &e), 11));  // a = m * 2^(e - 11), m in [1024, 2048]
  if (m == 2048.0) {
    m = 1024.0;
    ++e;
  }
  const int biased = e - 1 + 15;
  if (biased >= 31) return uint16_t(sign | 0x7c00u);
  return uint16_t(sign | (biased << 10) | (int(m) - 1024));
}

// float -> bfloat16 bits, rounded to nearest even (NaN kept a NaN).
uint16_t to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if (std::isnan(f)) return uint16_t((u >> 16) | 0x40u);
  const uint32_t rounded = u + 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(rounded >> 16);
}

// x stored in a non-quantized cache type and read back.
double through_plain(int dt, float x) {
  if (dt == ROTOR_DTYPE_F32) return x;
  return dt == ROTOR_DTYPE_F16 ? test_support::f16_value(to_f16(x)) : test_support::bf16_value(to_bf16(x));
}

// One group of 32 floats through ggml's Q8_0 or Q4_0 rule (quantize_row_q8_0_ref /
// quantize_row_q4_0_ref: the scale's quotients use the float scale, the stored scale is its
// f16) and back, in double. Non-finite input is clamped as the header's quantizer must do
// without undefined behaviour; its values are never compared exactly.
void through_group(int dt, const float *x, double *out) {
  if (dt == ROTOR_DTYPE_Q8_0) {
    float amax = 0.0f;
    for (uint32_t j = 0; j < kGroup; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
    const double stored = test_support::f16_value(to_f16(d));
    for (uint32_t j = 0; j < kGroup; ++j) {
      const float scaled = x[j] * id;
      float q = std::round(scaled);  // half away from zero, as roundf
      q = std::isnan(q) ? 0.0f : std::min(127.0f, std::max(-127.0f, q));
      out[j] = double(q) * stored;
    }
    return;
  }
  float amax = 0.0f, max = 0.0f;
  for (uint32_t j = 0; j < kGroup; ++j)
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  const float d = max / -8.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  const double stored = test_support::f16_value(to_f16(d));
  for (uint32_t j = 0; j < kGroup; ++j) {
    const float scaled = x[j] * id;  // two statements: no fused multiply-add may join them
    float shifted = scaled + 8.5f;
    shifted = std::isnan(shifted) ? 8.0f : std::min(15.0f, std::max(0.0f, shifted));
    out[j] = double(int(shifted) - 8) * stored;  // truncation, as ggml's (int8_t) cast
  }
}

// A head of d floats as the cache type stores it, read back in double.
std::vector<double> stored_head(int dt, const float *x, uint32_t d) {
  std::vector<double> out(d);
  if (quantized(dt)) {
    for (uint32_t g = 0; g < d / kGroup; ++g) through_group(dt, x + g * kGroup, out.data() + g * kGroup);
  } else {
    for (uint32_t i = 0; i < d; ++i) out[i] = through_plain(dt, x[i]);
  }
  return out;
}

// ---- the config under test ------------------------------------------------------------------

// rotor_kv_cache_config's fields as raw values (any int: a C caller may pass any).
struct RawConfig {
  uint32_t struct_size = 16;
  int32_t key_dtype = 0, value_dtype = 0;
  uint32_t flags = 0;
};

RawConfig draw_config(FuzzedDataProvider &in) {
  RawConfig c;
  const uint8_t size_pick = in.ConsumeIntegral<uint8_t>();
  c.struct_size = size_pick < 200 ? 16u : size_pick < 236 ? 12u : in.ConsumeIntegral<uint32_t>();
  c.key_dtype = fuzz::enum_value(in, 5);
  c.value_dtype = in.ConsumeIntegral<uint8_t>() < 64 ? c.key_dtype : fuzz::enum_value(in, 5);
  const uint8_t flag_pick = in.ConsumeIntegral<uint8_t>();
  c.flags = flag_pick < 120 ? 0u : flag_pick < 248 ? uint32_t{ROTOR_KV_UNROTATED_KEYS} : in.ConsumeIntegral<uint32_t>();
  return c;
}

// The config in a block of exactly the bytes the caller's struct would have: struct_size bytes
// for 12 and 16 (so reading past it is an ASan report), else between 4 (the size field, which
// the library must read) and 16.
Block config_block(const RawConfig &c) {
  const size_t bytes = c.struct_size == 12 || c.struct_size == 16 ? c.struct_size
                                                                   : std::min<uint32_t>(16, std::max<uint32_t>(4, c.struct_size));
  Block block(bytes);
  const uint32_t words[4] = {c.struct_size, uint32_t(c.key_dtype), uint32_t(c.value_dtype), c.flags};
  std::memcpy(block.data(), words, bytes);
  block.snapshot();
  return block;
}

// Whether the header allows the config for caches of head_dim dims.
bool config_valid(const RawConfig &c, uint32_t head_dim) {
  if (c.struct_size != 12 && c.struct_size != 16) return false;
  if (!valid_storage_dtype(c.key_dtype) || !valid_storage_dtype(c.value_dtype)) return false;
  const uint32_t flags = c.struct_size == 16 ? c.flags : 0;
  if ((flags & ~uint32_t{ROTOR_KV_UNROTATED_KEYS}) != 0) return false;
  if ((quantized(c.key_dtype) || quantized(c.value_dtype)) &&
      (head_dim % kGroup != 0 || head_dim > ROTOR_KV_MAX_QUANTIZED_HEAD_DIM))
    return false;
  return true;
}

const rotor_kv_cache_config *as_config(const Block &b) {
  return reinterpret_cast<const rotor_kv_cache_config *>(b.data());
}

// rotor_kv_cache_config_init_sized over any size and dtype: writes exactly c_size bytes
// ({c_size, dtype, dtype, 0}) for a known size and dtype, nothing otherwise.
void check_config_init(FuzzedDataProvider &in) {
  const uint8_t size_pick = in.ConsumeIntegral<uint8_t>();
  const size_t c_size = size_pick < 100 ? 16 : size_pick < 200 ? 12 : in.ConsumeIntegralInRange<size_t>(0, 40);
  const int dtype = fuzz::enum_value(in, 5);
  Block block(std::max<size_t>(c_size, 1));
  block.snapshot();
  const rotor_status s = fz_kv_cache_config_init_sized(reinterpret_cast<rotor_kv_cache_config *>(block.data()),
                                                       c_size, dtype);
  fuzz::check_status(s);
  const bool valid = (c_size == 12 || c_size == 16) && valid_storage_dtype(dtype);
  require((s == ROTOR_OK) == valid, "config_init_sized status", s, (long long)c_size);
  if (s != ROTOR_OK) {
    require(block.unchanged(), "config_init_sized wrote on error", s);
    return;
  }
  const uint32_t want[4] = {uint32_t(c_size), uint32_t(dtype), uint32_t(dtype), 0};
  require(std::memcmp(block.data(), want, c_size) == 0, "config_init_sized's bytes");
}

// get_config into a struct of 12 or 16 bytes (or a refused size, in 4 bytes) gives back the
// dtypes and flags the cache was built with.
void check_get_config(FuzzedDataProvider &in, const rotor_kv_cache *cache, const RawConfig &built) {
  const uint8_t pick = in.ConsumeIntegral<uint8_t>();
  const uint32_t size = pick < 120 ? 16u : pick < 240 ? 12u : in.ConsumeIntegral<uint32_t>();
  const bool known = size == 12 || size == 16;
  Block block(known ? size : 4);
  std::memcpy(block.data(), &size, 4);
  block.snapshot();
  const rotor_status s = rotor_kv_cache_get_config(cache, reinterpret_cast<rotor_kv_cache_config *>(block.data()));
  fuzz::check_status(s);
  require((s == ROTOR_OK) == known, "get_config status", s, size);
  if (!known) {
    require(block.unchanged(), "get_config wrote on error");
    return;
  }
  const uint32_t flags = built.struct_size == 16 ? built.flags : 0;
  const uint32_t want[4] = {size, uint32_t(built.key_dtype), uint32_t(built.value_dtype), flags};
  require(std::memcmp(block.data(), want, size) == 0, "get_config gives other dtypes or flags");
}

// ---- caches and their model -------------------------------------------------------------------

// One cache under test, its twin (the same calls, prefills as decode steps), and what was
// stored: per token, the key and value as the cache holds them (dequantized, in double; keys
// rotated unless the cache keeps them un-rotated), per kv head.
struct CacheModel {
  RawConfig config;
  uint32_t max_len = 0;
  Block arena, twin_arena;
  rotor_kv_cache *cache = nullptr, *twin = nullptr;
  bool unrotated = false;
  // False once a shift re-quantized moved keys (rounded in double then to the grid: not modelled)
  // or the table's rows may change: the exact check then skips this cache.
  bool keys_exact = true;
  // False once a call appended a key that is not finite or not below 1e4 (its scores may be NaN
  // in every later call): the finiteness property then skips this cache.
  bool keys_finite = true;
  std::vector<std::vector<double>> keys, values;  // [token][kv_head * d + dim]
};

struct Setup {
  fuzz::SmallTable st;
  uint32_t batch = 1, q_heads = 1, kv_heads = 1, head_dim = 32;
  int dtype = ROTOR_DTYPE_F32;  // q, k, v, out
  bool adaptive = false;         // rows may change between calls (NTK, dynamic NTK, LongRoPE)
  // Whether the table's rows are finite: a config the table accepts may still fold an infinite
  // attention factor into them (LongRoPE at original_max_len 1 and factor > 1: sqrt(1 + ln s / ln 1)),
  // and then no output is finite. Not the caches' business (fuzz_table's): such tables skip the
  // finiteness property.
  bool rows_finite = true;
  int policy = ROTOR_RESCALE_REROTATE;
  std::vector<CacheModel> models;
};

// Builds one cache from drawn config bytes: init refused for an invalid config (nothing
// written), one byte short and misaligned; then exact, and its twin. False: the input ends here.
bool build_cache(FuzzedDataProvider &in, Setup &setup, CacheModel &m) {
  m.config = draw_config(in);
  m.max_len = in.ConsumeIntegralInRange<uint32_t>(1, 160);
  const Block config = config_block(m.config);
  const bool valid = config_valid(m.config, setup.head_dim);
  const size_t bytes = rotor_kv_cache_arena_size_ex(setup.kv_heads, setup.head_dim, m.max_len, as_config(config));
  require((bytes != 0) == valid, "arena_size_ex accepts a config it should not, or refuses a good one",
          (long long)bytes, m.config.struct_size);
  if (!valid) {
    Block small(256);
    small.snapshot();
    rotor_kv_cache *untouched = nullptr;
    const rotor_status s =
        rotor_kv_cache_init_ex(&untouched, setup.kv_heads, setup.head_dim, m.max_len, as_config(config), small.data(), 256);
    fuzz::check_status(s);
    require(s == ROTOR_ERR_INVALID_ARGUMENT && untouched == nullptr && small.unchanged(), "init_ex of a bad config", s);
    fuzz::count("config refused");
    return false;
  }
  require(bytes % ROTOR_ARENA_ALIGNMENT == 0, "kv arena size not aligned");
  require(bytes <= (size_t{1} << 24), "kv arena of a small cache is huge", (long long)bytes);
  // The one-dtype functions agree with the config when it names one dtype and no flags.
  if (m.config.key_dtype == m.config.value_dtype && (m.config.struct_size == 12 || m.config.flags == 0))
    require(fz_kv_cache_arena_size(setup.kv_heads, setup.head_dim, m.max_len, m.config.key_dtype) == bytes,
            "arena_size and arena_size_ex differ for one dtype");
  {
    Block probe(bytes + 64);
    probe.snapshot();
    rotor_kv_cache *untouched = nullptr;
    rotor_status s = rotor_kv_cache_init_ex(&untouched, setup.kv_heads, setup.head_dim, m.max_len, as_config(config),
                                            probe.data(), bytes - 1);
    require(s == ROTOR_ERR_OUT_OF_MEMORY, "kv arena one byte short", s);
    s = rotor_kv_cache_init_ex(&untouched, setup.kv_heads, setup.head_dim, m.max_len, as_config(config),
                               probe.data() + 32, bytes + 32);
    require(s == ROTOR_ERR_INVALID_ARGUMENT, "misaligned kv arena", s);
    require(untouched == nullptr && probe.unchanged(), "failed kv init wrote something");
  }
  m.arena = Block(bytes);
  m.twin_arena = Block(bytes);
  for (auto [cache, arena] : {std::pair{&m.cache, &m.arena}, std::pair{&m.twin, &m.twin_arena}}) {
    const rotor_status s = rotor_kv_cache_init_ex(cache, setup.kv_heads, setup.head_dim, m.max_len, as_config(config),
                                                  arena->data(), bytes);
    require(s == ROTOR_OK && rotor_kv_cache_length(*cache) == 0, "kv init_ex", s);
  }
  require(config.unchanged(), "the library wrote into a const config");
  m.unrotated = m.config.struct_size == 16 && (m.config.flags & ROTOR_KV_UNROTATED_KEYS) != 0;
  m.keys_exact = !setup.adaptive;
  check_get_config(in, m.cache, m.config);
  fuzz::count(quantized(m.config.key_dtype) || quantized(m.config.value_dtype) ? "quantized cache" : "plain cache");
  return true;
}

// ---- tensors ----------------------------------------------------------------------------------

// A contiguous [batch, seq, heads, d] tensor of `dtype` in a block of exactly its bytes, filled
// from a drawn seed (values scaled by a drawn magnitude), with a few drawn elements overwritten
// (in `wild` inputs, by infinities, NaN or huge values).
struct Tensor {
  Block block;
  rotor_tensor view{};
  int dtype = 0;
  bool finite = true;
};

void put(Tensor &t, size_t index, double x) {
  const float f = float(x);
  if (t.dtype == ROTOR_DTYPE_F32) {
    std::memcpy(t.block.data() + index * 4, &f, 4);
    return;
  }
  const uint16_t h = t.dtype == ROTOR_DTYPE_F16 ? to_f16(f) : to_bf16(f);
  std::memcpy(t.block.data() + index * 2, &h, 2);
}

double get(const Tensor &t, uint32_t b, uint32_t s, uint32_t h, uint32_t d) {
  return fuzz::load(t.view.data, t.dtype, fuzz::offset_of(t.view, b, s, h, d));
}

Tensor make_tensor(FuzzedDataProvider &in, int dtype, uint32_t batch, uint32_t seq, uint32_t heads, uint32_t d,
                   bool wild) {
  Tensor t;
  t.dtype = dtype;
  const size_t count = size_t{batch} * seq * heads * d;
  t.block = Block(count * fuzz::elem_size(dtype));
  t.view = rotor_tensor_bshd(t.block.data(), static_cast<rotor_dtype>(dtype), batch, seq, heads, d);
  static const double kMagnitudes[] = {1.0, 0.015625, 8.0, 300.0};
  const double magnitude = kMagnitudes[in.ConsumeIntegralInRange<int>(0, 3)];
  uint32_t state = in.ConsumeIntegral<uint32_t>() | 1u;
  for (size_t i = 0; i < count; ++i) {
    state = state * 1664525u + 1013904223u;
    put(t, i, (double(state >> 8) / double(1u << 24) * 2.0 - 1.0) * magnitude);
  }
  const uint32_t overrides = in.ConsumeIntegralInRange<uint32_t>(0, 3);
  for (uint32_t i = 0; i < overrides; ++i) {
    const size_t index = in.ConsumeIntegralInRange<size_t>(0, count - 1);
    static const double kSpecials[] = {0.0, -0.0, 1e-30, 65504.0, -1e5, INFINITY, -INFINITY, NAN, 3e38};
    const int pick = in.ConsumeIntegralInRange<int>(0, wild ? 8 : 2);
    put(t, index, kSpecials[pick]);
  }
  for (size_t i = 0; i < count && t.finite; ++i) {
    const double x = fuzz::load(t.block.data(), dtype, int64_t(i));
    t.finite = std::isfinite(x) && std::fabs(x) < 1e4;
  }
  return t;
}

// ---- one forward call -------------------------------------------------------------------------

// Entry b of t rotated as the forward call rotates its keys (before storing them) and queries:
// rotor_apply on a copy, in the tensors' dtype, at positions length .. length + seq - 1 (only for tables whose rows
// never change: rotor_apply would rescale an adaptive one).
Tensor rotated_copy(const Setup &setup, const Tensor &k, uint32_t b, uint32_t length) {
  Tensor r;
  r.dtype = k.dtype;
  const size_t entry_bytes = size_t{k.view.seq} * k.view.heads * k.view.head_dim * fuzz::elem_size(k.dtype);
  r.block = Block(entry_bytes);
  std::memcpy(r.block.data(), k.block.data() + b * entry_bytes, entry_bytes);
  r.view = rotor_tensor_bshd(r.block.data(), static_cast<rotor_dtype>(k.dtype), 1, k.view.seq, k.view.heads,
                             k.view.head_dim);
  require(rotor_apply(setup.st.table, &r.view, nullptr, length, ROTOR_FORWARD, nullptr) == ROTOR_OK,
          "rotor_apply of the keys for the model");
  return r;
}

// Appends this call's keys and values of entry b to the model, as the cache stores them.
void model_append(const Setup &setup, CacheModel &m, const Tensor &k, const Tensor &v, uint32_t b, uint32_t length) {
  const uint32_t d = setup.head_dim, seq = k.view.seq;
  Tensor rotated;
  if (!m.unrotated && m.keys_exact) rotated = rotated_copy(setup, k, b, length);
  std::vector<float> head(d);
  for (uint32_t i = 0; i < seq; ++i) {
    std::vector<double> key(size_t{setup.kv_heads} * d), value(key.size());
    for (uint32_t h = 0; h < setup.kv_heads; ++h) {
      if (m.unrotated || m.keys_exact) {
        for (uint32_t x = 0; x < d; ++x) head[x] = float(m.unrotated ? get(k, b, i, h, x) : get(rotated, 0, i, h, x));
        const std::vector<double> stored = stored_head(m.config.key_dtype, head.data(), d);
        std::copy(stored.begin(), stored.end(), key.begin() + size_t{h} * d);
      }
      for (uint32_t x = 0; x < d; ++x) head[x] = float(get(v, b, i, h, x));
      const std::vector<double> stored = stored_head(m.config.value_dtype, head.data(), d);
      std::copy(stored.begin(), stored.end(), value.begin() + size_t{h} * d);
    }
    m.keys.push_back(key);
    m.values.push_back(value);
  }
}

// The checks of a successful call's outputs: finite for finite inputs, within the values each
// query sees, and (exact) equal to a double attention over the modelled cache.
void check_outputs(const Setup &setup, const std::vector<uint32_t> &lengths_before, const Tensor &q,
                   const Tensor &out, float scale, bool inputs_finite) {
  const uint32_t d = setup.head_dim, seq = q.view.seq, group = setup.q_heads / setup.kv_heads;
  const fuzz::SmallTable &st = setup.st;
  const uint32_t half = st.cfg.rotary_dim / 2;
  uint32_t needed = 0;
  for (uint32_t b = 0; b < setup.batch; ++b) needed = std::max(needed, lengths_before[b] + seq);
  const bool f32 = setup.dtype == ROTOR_DTYPE_F32 && !setup.adaptive;
  std::vector<float> cos_rows, sin_rows;
  if (f32) {
    cos_rows.resize(size_t{needed} * half);
    sin_rows.resize(cos_rows.size());
    require(fz_table_cos_sin(st.table, 0, needed, ROTOR_DTYPE_F32, 0, cos_rows.data(), sin_rows.data()) == ROTOR_OK,
            "cos_sin");
  }
  for (uint32_t b = 0; b < setup.batch; ++b) {
    const CacheModel &m = setup.models[b];
    const bool exact = f32 && (m.keys_exact || m.unrotated) && inputs_finite;
    // The queries as the library rotates them: rotor_apply in f32 (the same kernels and rows).
    Tensor rq;
    if (exact) rq = rotated_copy(setup, q, b, lengths_before[b]);
    for (uint32_t i = 0; i < seq; ++i) {
      const uint32_t p = lengths_before[b] + i;  // sees cached tokens 0 .. p
      for (uint32_t h = 0; h < setup.q_heads; ++h) {
        const uint32_t kvh = h / group;
        std::vector<double> scores, bounds;
        if (exact) {
          // Scores in double over the modelled keys; un-rotated keys rotated here with the rows
          // of their position. bound: the largest magnitude a float partial sum (and, for
          // un-rotated keys, the float rotation at read) may go through.
          for (uint32_t j = 0; j <= p; ++j) {
            std::vector<double> key(m.keys[j].begin() + ptrdiff_t(size_t{kvh} * d),
                                    m.keys[j].begin() + ptrdiff_t(size_t{kvh + 1} * d));
            std::vector<double> reach(d);
            for (uint32_t x = 0; x < d; ++x) reach[x] = std::fabs(key[x]);
            if (m.unrotated)
              for (uint32_t e = 0; e < half; ++e) {
                const uint32_t ia = st.pairing == ROTOR_PAIRING_HALF ? e : 2 * e;
                const uint32_t ib = st.pairing == ROTOR_PAIRING_HALF ? e + half : 2 * e + 1;
                const double c = cos_rows[size_t{j} * half + e], s = sin_rows[size_t{j} * half + e];
                const double xa = key[ia], xb = key[ib];
                key[ia] = xa * c - xb * s;
                key[ib] = xb * c + xa * s;
                reach[ia] = reach[ib] = (std::fabs(xa) + std::fabs(xb)) * (std::fabs(c) + std::fabs(s));
              }
            double dot = 0, magnitude = 0;
            for (uint32_t x = 0; x < d; ++x) {
              const double qx = get(rq, 0, i, h, x);
              dot += qx * key[x];
              magnitude += std::fabs(qx) * reach[x];
            }
            scores.push_back(dot * scale);
            bounds.push_back(magnitude * std::fabs(double(scale)));
          }
        }
        for (uint32_t x = 0; x < d; ++x) {
          double lo = INFINITY, hi = -INFINITY;
          bool values_finite = true;
          for (uint32_t j = 0; j <= p; ++j) {
            const double val = m.values[j][size_t{kvh} * d + x];
            values_finite &= std::isfinite(val);
            lo = std::min(lo, val);
            hi = std::max(hi, val);
          }
          const double got = get(out, b, i, h, x);
          if (!inputs_finite || !values_finite || !setup.rows_finite || !m.keys_finite) continue;
          // A value at the top of f16's range (a stored 65504 dequantizes up to 65532 through its
          // f16 scale) may round to infinity in the output: no finiteness to ask for there.
          if (std::max(std::fabs(lo), std::fabs(hi)) >= fuzz::dtype_max(out.dtype) * 0.99) continue;
          if (!std::isfinite(got)) {
            std::fprintf(stderr, "b=%u i=%u h=%u x=%u got %g, values [%g, %g], key %d value %d flags %u, tensors %d, "
                         "scale %g, length %u; table scaling %d factor %g L0 %u rotary %u max_len %u\n", b, i, h, x, got,
                         lo, hi, m.config.key_dtype, m.config.value_dtype, m.config.flags, setup.dtype, double(scale),
                         p + 1, st.scaling, double(st.cfg.factor), st.cfg.original_max_len, st.cfg.rotary_dim,
                         st.cfg.max_len);
            fuzz::fail("output not finite for finite inputs", b * 1000 + i, h * 1000 + x);
          }
          const double span = std::max(std::fabs(lo), std::fabs(hi));
          const double eps = std::max(fuzz::dtype_epsilon(out.dtype), 0x1p-23);
          const double slack = span * 4 * eps + fuzz::dtype_tiny(out.dtype);
          if (!(got >= lo - slack && got <= hi + slack)) {
            std::fprintf(stderr, "b=%u i=%u h=%u x=%u got %g range [%g, %g] key %d value %d flags %u\n", b, i, h, x,
                         got, lo, hi, m.config.key_dtype, m.config.value_dtype, m.config.flags);
            fuzz::fail("attention output outside the values it can see");
          }
          fuzz::count("output bounded");
          if (!exact) continue;
          double top = -INFINITY, score_error = 0;
          for (uint32_t j = 0; j <= p; ++j) {
            top = std::max(top, scores[j]);
            score_error = std::max(score_error, 8 * 0x1p-24 * bounds[j]);
          }
          double sum = 0, want = 0, biggest = 0;
          for (uint32_t j = 0; j <= p; ++j) sum += std::exp(scores[j] - top);
          for (uint32_t j = 0; j <= p; ++j) {
            const double w = std::exp(scores[j] - top) / sum;
            want += w * m.values[j][size_t{kvh} * d + x];
            biggest = std::max(biggest, std::fabs(std::log(w)));
          }
          // As fuzz_attention: a few ulps of the largest magnitude each float score went
          // through move a weight by about that much relative, the output by that much of the span.
          const double tolerance = (span + 1.0) * (1e-5 + 4 * score_error);
          if (score_error < 1e-3 && span < 1e6 && biggest < 200) {
            if (!(std::fabs(got - want) <= tolerance)) {
              std::fprintf(stderr, "got %.9g want %.9g (tolerance %g) key %d value %d flags %u length %u\n", got,
                           want, tolerance, m.config.key_dtype, m.config.value_dtype, m.config.flags, p + 1);
              fuzz::fail("attention output differs from dequantize-then-attend", b * 1000 + i, h * 1000 + x);
            }
            fuzz::count(quantized(m.config.key_dtype) || quantized(m.config.value_dtype) ? "quantized output checked exactly"
                                                                                        : "output checked exactly");
          }
        }
      }
    }
  }
}

// The same tokens as decode steps through the twins: each output row must be the prefill's,
// bit for bit (NaN matching NaN).
void check_decode_twin(const Setup &setup, const Tensor &q, const Tensor &k, const Tensor &v, const Tensor &out,
                       float scale, rotor_pool *pool) {
  const uint32_t d = setup.head_dim, seq = q.view.seq, threads = pool != nullptr ? 2 : 1;
  const size_t ws_bytes = rotor_attention_workspace_size(setup.q_heads, setup.kv_heads, d, 1, threads);
  Block workspace(ws_bytes);
  std::vector<rotor_kv_cache *> twins;
  for (const CacheModel &m : setup.models) twins.push_back(m.twin);
  const size_t elem = fuzz::elem_size(setup.dtype);
  const size_t q_row = size_t{setup.q_heads} * d * elem, kv_row = size_t{setup.kv_heads} * d * elem;
  Block qs(setup.batch * q_row), ks(setup.batch * kv_row), vs(setup.batch * kv_row), os(setup.batch * q_row);
  const auto dt = static_cast<rotor_dtype>(setup.dtype);
  const rotor_tensor tq = rotor_tensor_bshd(qs.data(), dt, setup.batch, 1, setup.q_heads, d);
  const rotor_tensor tk = rotor_tensor_bshd(ks.data(), dt, setup.batch, 1, setup.kv_heads, d);
  const rotor_tensor tv = rotor_tensor_bshd(vs.data(), dt, setup.batch, 1, setup.kv_heads, d);
  const rotor_tensor to = rotor_tensor_bshd(os.data(), dt, setup.batch, 1, setup.q_heads, d);
  for (uint32_t i = 0; i < seq; ++i) {
    for (uint32_t b = 0; b < setup.batch; ++b) {
      std::memcpy(qs.data() + b * q_row, q.block.data() + (size_t{b} * seq + i) * q_row, q_row);
      std::memcpy(ks.data() + b * kv_row, k.block.data() + (size_t{b} * seq + i) * kv_row, kv_row);
      std::memcpy(vs.data() + b * kv_row, v.block.data() + (size_t{b} * seq + i) * kv_row, kv_row);
    }
    const rotor_status s =
        rotor_attention_forward(setup.st.table, twins.data(), &tq, &tk, &tv, &to, scale, workspace.data(), ws_bytes, pool);
    require(s == ROTOR_OK, "decode step of the twin failed", s, i);
    for (uint32_t b = 0; b < setup.batch; ++b)
      for (uint32_t h = 0; h < setup.q_heads; ++h)
        for (uint32_t x = 0; x < d; ++x) {
          const double prefill = get(out, b, i, h, x);
          const double decode = fuzz::load(os.data(), setup.dtype, fuzz::offset_of(to, b, 0, h, x));
          if (!(prefill == decode || (std::isnan(prefill) && std::isnan(decode)))) {
            std::fprintf(stderr, "token %u of %u, entry %u head %u dim %u: prefill %.9g decode %.9g\n", i, seq, b, h, x,
                         prefill, decode);
            fuzz::fail("prefill differs from decode steps");
          }
        }
  }
  fuzz::count("prefill == decode checked");
}

// One forward or forward_axes call over all caches. False when the input ran out.
bool one_forward(FuzzedDataProvider &in, Setup &setup) {
  const uint8_t seq_pick = in.ConsumeIntegral<uint8_t>();
  const uint32_t seq = seq_pick < 200 ? 1 + seq_pick % 8 : in.ConsumeIntegralInRange<uint32_t>(1, 80);
  const bool wild = in.ConsumeIntegral<uint8_t>() >= 240;
  const uint32_t d = setup.head_dim;
  Tensor q = make_tensor(in, setup.dtype, setup.batch, seq, setup.q_heads, d, wild);
  Tensor k = make_tensor(in, setup.dtype, setup.batch, seq, setup.kv_heads, d, wild);
  Tensor v = make_tensor(in, setup.dtype, setup.batch, seq, setup.kv_heads, d, wild);
  Tensor out = make_tensor(in, setup.dtype, setup.batch, seq, setup.q_heads, d, false);
  const bool inputs_finite = q.finite && k.finite && v.finite;
  const bool axes = in.ConsumeIntegral<uint8_t>() >= 208;
  const bool use_pool = in.ConsumeBool();
  rotor_pool *pool = use_pool ? fuzz::shared_pool(2) : nullptr;
  static const float kScaleFactors[] = {1.0f, 1.0f, 0.5f, 4.0f, 0.0f, -1.0f};
  const float scale = kScaleFactors[in.ConsumeIntegralInRange<int>(0, 5)] / std::sqrt(float(d));
  const size_t ws_bytes = rotor_attention_workspace_size(setup.q_heads, setup.kv_heads, d, seq, use_pool ? 2 : 1);
  require(ws_bytes > 0 && ws_bytes < (size_t{1} << 26), "workspace size", (long long)ws_bytes);
  const bool ws_short = in.ConsumeIntegral<uint8_t>() >= 248;
  Block workspace(ws_bytes);
  // An output that lies in a cache's arena must be refused before a byte is written.
  const bool out_in_arena = in.ConsumeIntegral<uint8_t>() >= 250 && setup.models[0].arena.size() >= out.block.size();
  rotor_tensor out_view = out.view;
  if (out_in_arena) out_view.data = setup.models[0].arena.data();

  std::vector<rotor_kv_cache *> caches;
  std::vector<uint32_t> lengths_before;
  bool past_max_len = false, any_unrotated = false;
  for (CacheModel &m : setup.models) {
    caches.push_back(m.cache);
    lengths_before.push_back(rotor_kv_cache_length(m.cache));
    past_max_len |= lengths_before.back() + seq > std::min(m.max_len, setup.st.cfg.max_len);
    any_unrotated |= m.unrotated;
    m.arena.snapshot();
  }
  std::vector<int32_t> positions;  // axes = 1: each token at its cache index, as forward would
  for (uint32_t b = 0; b < setup.batch; ++b)
    for (uint32_t i = 0; i < seq; ++i) positions.push_back(int32_t(lengths_before[b] + i));
  for (Tensor *t : {&q, &k, &v, &out}) t->block.snapshot();
  workspace.snapshot();
  setup.st.arena.snapshot();

  const size_t ws_given = ws_bytes - (ws_short ? 1 : 0);
  const rotor_status s =
      axes ? rotor_attention_forward_axes(setup.st.table, caches.data(), &q.view, &k.view, &v.view, &out_view,
                                          positions.data(), scale, workspace.data(), ws_given, pool)
           : rotor_attention_forward(setup.st.table, caches.data(), &q.view, &k.view, &v.view, &out_view, scale,
                                     workspace.data(), ws_given, pool);
  fuzz::check_status(s);
  fuzz::count(s == ROTOR_OK ? "forward ok" : "forward error");
  if (axes && any_unrotated) fuzz::count("axes over un-rotated keys");
  // Every reason this call has to fail; the status must be one of them, or OK when there is none.
  const bool axes_refused = axes && (any_unrotated || setup.adaptive);
  const bool may_be_rescaled = setup.adaptive && setup.policy == ROTOR_RESCALE_REFUSE;
  const bool must_fail = axes_refused || out_in_arena || past_max_len || ws_short;
  bool allowed = s == ROTOR_OK ? !must_fail : false;
  allowed |= s == ROTOR_ERR_INVALID_ARGUMENT && (axes_refused || out_in_arena);
  allowed |= s == ROTOR_ERR_OUT_OF_RANGE && past_max_len;
  allowed |= s == ROTOR_ERR_OUT_OF_MEMORY && ws_short;
  allowed |= s == ROTOR_ERR_RESCALED && may_be_rescaled;
  if (!allowed) {
    std::fprintf(stderr, "status %s: axes %d (un-rotated %d, adaptive %d), out in arena %d, past max_len %d, "
                         "short workspace %d\n", rotor_status_string(s), axes, any_unrotated, setup.adaptive,
                 out_in_arena, past_max_len, ws_short);
    fuzz::fail("forward status is not the one its arguments call for", s);
  }
  if (s != ROTOR_OK) {
    for (const Tensor *t : {&q, &k, &v, &out}) require(t->block.unchanged(), "tensor changed on error", s);
    require(workspace.unchanged(), "workspace changed on error", s);
    require(setup.st.arena.unchanged(), "table changed on error", s);
    for (uint32_t b = 0; b < setup.batch; ++b) {
      require(setup.models[b].arena.unchanged(), "cache arena changed on error", s, b);
      require(rotor_kv_cache_length(setup.models[b].cache) == lengths_before[b], "cache length changed on error");
    }
    return in.remaining_bytes() > 0;
  }
  require(q.block.unchanged() && k.block.unchanged() && v.block.unchanged(), "forward changed its inputs");
  for (uint32_t b = 0; b < setup.batch; ++b) {
    require(rotor_kv_cache_length(setup.models[b].cache) == lengths_before[b] + seq, "cache length after forward");
    model_append(setup, setup.models[b], k, v, b, lengths_before[b]);
    setup.models[b].keys_finite &= k.finite;  // (per call: any entry's key may be the wild one)
  }
  check_outputs(setup, lengths_before, q, out, scale, inputs_finite);
  // Bits equal only while the rows stay put: an adaptive table serves a prefill of s tokens with
  // the rows of L + s, and each decode step with those of its own length.
  if (!setup.adaptive) check_decode_twin(setup, q, k, v, out, scale, pool);
  return in.remaining_bytes() > 0;
}

// One context shift of a drawn cache (and, when it succeeds, the same on its twin): a drawn range
// (sometimes past the length or wrapping 32 bits), sometimes a NULL table or cache. The status is
// the one the arguments call for; on error no arena byte changes; the table never changes.
void one_evict(FuzzedDataProvider &in, Setup &setup) {
  CacheModel &m = setup.models[in.ConsumeIntegralInRange<size_t>(0, setup.models.size() - 1)];
  const uint32_t length = rotor_kv_cache_length(m.cache);
  const uint32_t start = in.ConsumeIntegralInRange<uint32_t>(0, length + 1);
  uint32_t count = in.ConsumeIntegralInRange<uint32_t>(0, length + 1);
  if (in.ConsumeIntegral<uint8_t>() >= 252) count = in.ConsumeIntegral<uint32_t>();
  const uint8_t twist = in.ConsumeIntegral<uint8_t>();
  rotor_table *table = twist >= 252 ? nullptr : setup.st.table;
  rotor_kv_cache *cache = twist >= 248 && twist < 252 ? nullptr : m.cache;
  rotor_pool *pool = in.ConsumeBool() ? fuzz::shared_pool(2) : nullptr;
  m.arena.snapshot();
  setup.st.arena.snapshot();
  const rotor_status s = rotor_kv_cache_evict(table, cache, start, count, pool);
  fuzz::check_status(s);
  fuzz::count(s == ROTOR_OK ? "evict ok" : "evict error");
  require(setup.st.arena.unchanged(), "evict changed the table", s);
  const bool args_present = table != nullptr && cache != nullptr;
  const bool in_range = uint64_t{start} + count <= length;
  const rotor_status want = !args_present ? ROTOR_ERR_INVALID_ARGUMENT : !in_range ? ROTOR_ERR_OUT_OF_RANGE : ROTOR_OK;
  require(s == want, "evict status", s, want);
  if (s != ROTOR_OK) {
    require(m.arena.unchanged(), "cache arena changed on a failed evict", s);
    return;
  }
  // The twins follow tables whose rows stay put (check_decode_twin).
  if (!setup.adaptive)
    require(rotor_kv_cache_evict(setup.st.table, m.twin, start, count, pool) == ROTOR_OK, "evict of the twin");
  require(rotor_kv_cache_length(m.cache) == length - count, "length after evict");
  if (count == 0) return;
  if (quantized(m.config.key_dtype) || quantized(m.config.value_dtype)) fuzz::count("quantized cache shifted");
  m.keys.erase(m.keys.begin() + start, m.keys.begin() + start + count);
  m.values.erase(m.values.begin() + start, m.values.begin() + start + count);
  // Un-rotated keys are only moved (the model stays exact); rotated ones moved past the range
  // were rotated and rounded again, which this model does not follow.
  if (!m.unrotated && start + count < length) m.keys_exact = false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  check_config_init(in);
  Setup setup;
  fuzz::make_small_table(in, &setup.st);
  setup.adaptive = setup.st.scaling == ROTOR_SCALING_NTK || setup.st.scaling == ROTOR_SCALING_DYNAMIC_NTK ||
                   setup.st.scaling == ROTOR_SCALING_LONGROPE;
  {
    // Row 0 serves every table without a rescale (LongRoPE's short set, NTK's first rows); a
    // table whose rows never change is read whole.
    const uint32_t rows = setup.adaptive ? 1 : setup.st.cfg.max_len, half = setup.st.cfg.rotary_dim / 2;
    std::vector<float> cos_rows(size_t{rows} * half), sin_rows(cos_rows.size());
    require(fz_table_cos_sin(setup.st.table, 0, rows, ROTOR_DTYPE_F32, 0, cos_rows.data(), sin_rows.data()) == ROTOR_OK,
            "cos_sin");
    for (size_t i = 0; i < cos_rows.size(); ++i)
      setup.rows_finite &= std::isfinite(cos_rows[i]) && std::isfinite(sin_rows[i]);
  }
  // The policy applies to adaptive tables only; an unknown one is refused and changes nothing.
  const int policy = fuzz::enum_value(in, 3);
  const rotor_status policy_status = fz_table_set_rescale_policy(setup.st.table, policy);
  require((policy_status == ROTOR_OK) == (policy >= 0 && policy <= 2), "set_rescale_policy status", policy_status);
  if (policy_status == ROTOR_OK) setup.policy = policy;

  setup.batch = in.ConsumeIntegralInRange<uint32_t>(1, 2);
  setup.kv_heads = in.ConsumeIntegralInRange<uint32_t>(1, 3);
  setup.q_heads = setup.kv_heads * in.ConsumeIntegralInRange<uint32_t>(1, 3);
  const uint32_t rotary_dim = setup.st.cfg.rotary_dim;
  setup.head_dim = kGroup * in.ConsumeIntegralInRange<uint32_t>((rotary_dim + kGroup - 1) / kGroup, 4);
  if (in.ConsumeIntegral<uint8_t>() >= 240) setup.head_dim = rotary_dim + in.ConsumeIntegralInRange<uint32_t>(1, 6);
  setup.dtype = in.ConsumeIntegralInRange<int>(0, 2);

  setup.models.resize(setup.batch);
  for (CacheModel &m : setup.models)
    if (!build_cache(in, setup, m)) {
      rotor_table_destroy(setup.st.table);
      return 0;
    }
  for (int call = 0; call < 4; ++call) {
    if (!one_forward(in, setup)) break;
    if (in.ConsumeIntegral<uint8_t>() < 96) one_evict(in, setup);
  }
  rotor_table_destroy(setup.st.table);
  return 0;
}
