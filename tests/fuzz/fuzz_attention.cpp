// libFuzzer target for the rotary attention path: rotor_kv_cache_arena_size / init (exact, one
// byte short, misaligned) and up to three rotor_attention_forward calls on the same caches, each
// perhaps followed by a context shift (rotor_kv_cache_evict) of one of them, with
// batch, new tokens, head counts (grouped or not), head_dim, dtypes, layouts, scale, workspace
// size and alignment, pools and aliasing carved from the input.
//
// Properties: defined statuses; on error no tensor byte, cache arena byte (length included) or
// workspace byte changed; on success every cache grew by s tokens, every output is within the
// range of the values its query may see (softmax weights are a convex combination), and with
// f32 tensors, f32 caches and a table whose rows never change equals a plain double attention
// over keys rotated with the table's rows (causal by index, grouped-query head mapping).
#include "c_shim.h"
#include "fuzz_common.hpp"
#include "fuzz_views.hpp"

namespace {

using fuzz::Block;
using fuzz::Operand;
using fuzz::require;

// What the harness knows of one cache: its arena and, per cached token, the key rotated (in
// double, with the rows of the call that appended it) and the value, per kv head.
struct CacheModel {
  Block arena;
  rotor_kv_cache *cache = nullptr;
  uint32_t max_len = 0;
  int dtype = 0;
  std::vector<std::vector<double>> keys, values;  // [token][kv_head * d + dim]
};

struct Dims {
  uint32_t batch, seq, q_heads, kv_heads, head_dim;
};

double value_at(const Operand &t, uint32_t b, uint32_t s, uint32_t h, uint32_t d) {
  return fuzz::load(t.view.data, t.dtype, fuzz::offset_of(t.view, b, s, h, d));
}

// Rotates one head read from t at position p with rows [p][half] (double).
std::vector<double> rotated_head(const Operand &t, uint32_t b, uint32_t s, uint32_t h, uint32_t head_dim,
                                 const std::vector<float> &cos_rows, const std::vector<float> &sin_rows,
                                 uint32_t half, int pairing, uint32_t p) {
  std::vector<double> x(head_dim);
  for (uint32_t d = 0; d < head_dim; ++d) x[d] = value_at(t, b, s, h, d);
  for (uint32_t i = 0; i < half; ++i) {
    const uint32_t ia = pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
    const uint32_t ib = pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
    const double c = cos_rows[size_t(p) * half + i], sn = sin_rows[size_t(p) * half + i];
    const double a = x[ia], bb = x[ib];
    x[ia] = a * c - bb * sn;
    x[ib] = bb * c + a * sn;
  }
  return x;
}

// A key is rotated in the tensors' dtype and stored in the cache's: a value near or past the
// largest finite one becomes infinity (then the output has no finite reference, and is skipped).
double overflowed(double x, double largest) {
  return std::fabs(x) >= largest * 0.99 ? std::copysign(INFINITY, x) : x;
}

// One forward call: draws it, runs it, checks it. Returns false when the input ran out.
bool one_forward(FuzzedDataProvider &in, fuzz::SmallTable &st, std::vector<CacheModel> &models, const Dims &dims,
                 int dtype, bool exact_check) {
  // Which caches: normally models[b] for entry b; sometimes a duplicate or a NULL.
  uint32_t seq = in.ConsumeIntegralInRange<uint32_t>(1, 6);
  fuzz::Shape q_shape{dims.batch, seq, dims.q_heads, dims.head_dim};
  fuzz::Shape kv_shape{dims.batch, seq, dims.kv_heads, dims.head_dim};
  const uint8_t shape_twist = in.ConsumeIntegral<uint8_t>();
  if (shape_twist < 6) q_shape = fuzz::draw_shape(in, st.cfg.rotary_dim);
  if (shape_twist >= 6 && shape_twist < 12) kv_shape = fuzz::draw_shape(in, st.cfg.rotary_dim);
  // The library reads k.batch cache pointers: the list has that many (NULL past the models).
  const uint32_t k_batch = kv_shape.batch;
  std::vector<rotor_kv_cache *> caches(std::max<uint32_t>(dims.batch, k_batch <= 4096 ? k_batch : 1), nullptr);
  for (uint32_t b = 0; b < dims.batch; ++b) caches[b] = models[b].cache;
  const uint8_t cache_twist = in.ConsumeIntegral<uint8_t>();
  if (cache_twist == 0 && dims.batch > 1) caches[1] = caches[0];
  if (cache_twist == 1 || k_batch > 4096) caches[0] = nullptr;

  Operand q = fuzz::make_operand(in, q_shape, dtype);
  Operand k = fuzz::make_operand(in, kv_shape, in.ConsumeIntegral<uint8_t>() < 8 ? fuzz::enum_value(in, 3) : dtype);
  Operand v = fuzz::make_operand(in, kv_shape, dtype);
  Operand out = fuzz::make_operand(in, q_shape, dtype);
  const bool out_is_q = in.ConsumeIntegral<uint8_t>() < 6;  // overlapping output: must be refused
  const rotor_tensor *out_view = out_is_q ? &q.view : &out.view;

  const bool use_pool = in.ConsumeIntegralInRange<uint8_t>(0, 3) == 0;
  rotor_pool *pool = use_pool ? fuzz::shared_pool(3) : nullptr;
  const uint32_t threads = use_pool ? 3 : 1;
  float scale = 1.0f / std::sqrt(float(dims.head_dim ? dims.head_dim : 1));
  const uint8_t scale_kind = in.ConsumeIntegral<uint8_t>();
  if (scale_kind >= 240) {
    const uint32_t bits = in.ConsumeIntegral<uint32_t>();
    std::memcpy(&scale, &bits, 4);
  }
  size_t ws_bytes =
      rotor_attention_workspace_size(q_shape.heads, kv_shape.heads, q_shape.head_dim, q_shape.seq, threads);
  const uint8_t ws_kind = in.ConsumeIntegral<uint8_t>();
  const bool ws_short = ws_kind < 8 && ws_bytes > 0;
  const bool ws_misaligned = ws_kind >= 8 && ws_kind < 12;
  if (ws_bytes > (size_t{1} << 24)) ws_bytes = 0;  // not allocated: the call must fail
  Block workspace(ws_bytes + (ws_misaligned ? 8 : 0) + (ws_bytes == 0 ? 64 : 0));
  void *ws_ptr = workspace.data() + (ws_misaligned ? 8 : 0);
  const size_t ws_given = ws_bytes == 0 ? 64 : ws_bytes - (ws_short ? 1 : 0);

  // Memory that is not there may only reach a call that must fail first: a NULL cache list
  // entry fails before any tensor is read.
  const bool unbacked = !q.backed || !k.backed || !v.backed || !out.backed;
  if (unbacked) caches[0] = nullptr;

  std::vector<uint32_t> lengths_before(dims.batch);
  for (uint32_t b = 0; b < dims.batch; ++b) {
    lengths_before[b] = rotor_kv_cache_length(models[b].cache);
    models[b].arena.snapshot();
  }
  for (Operand *t : {&q, &k, &v, &out}) t->block.snapshot();
  workspace.snapshot();
  st.arena.snapshot();

  const rotor_status s = rotor_attention_forward(st.table, caches.data(), &q.view, &k.view, &v.view, out_view, scale,
                                                 ws_ptr, ws_given, pool);
  fuzz::check_status(s);
  fuzz::count(s == ROTOR_OK ? "forward ok" : "forward error");
  if (unbacked) require(s != ROTOR_OK, "forward over memory that is not there succeeded");
  if (s != ROTOR_OK) {
    for (const Operand *t : {&q, &k, &v, &out}) require(t->block.unchanged(), "tensor changed on error", s);
    require(workspace.unchanged(), "workspace changed on error", s);
    require(st.arena.unchanged(), "table changed on error", s);
    for (uint32_t b = 0; b < dims.batch; ++b) {
      require(models[b].arena.unchanged(), "cache arena changed on error", s, b);
      require(rotor_kv_cache_length(models[b].cache) == lengths_before[b], "cache length changed on error");
    }
    return in.remaining_bytes() > 0;
  }

  // Success: the call was well formed.
  require(!out_is_q && !ws_short && !ws_misaligned && std::isfinite(scale), "forward accepted a bad argument");
  require(q.dtype == k.dtype && q.dtype == v.dtype && q.dtype == out.dtype, "forward accepted mixed dtypes");
  require(k.block.unchanged() && v.block.unchanged() && q.block.unchanged(), "forward changed its inputs");
  // The shapes the call really had (the drawn ones may differ from dims yet be consistent).
  const uint32_t batch = k.view.batch, q_heads = q.view.heads, kv_heads = k.view.heads;
  seq = q.view.seq;
  require(batch <= dims.batch, "forward accepted a NULL cache");
  uint32_t needed = 0;
  for (uint32_t b = 0; b < dims.batch; ++b) {
    const uint32_t grown = b < batch ? seq : 0;
    require(rotor_kv_cache_length(models[b].cache) == lengths_before[b] + grown, "cache length wrong after forward",
            rotor_kv_cache_length(models[b].cache), lengths_before[b]);
    if (b < batch) needed = std::max(needed, lengths_before[b] + seq);
  }
  // Nothing outside out's elements changed.
  {
    std::vector<bool> mask(out.block.size(), false);
    fuzz::mark_view(out.view, out.block.data(), &mask);
    for (size_t i = 0; i < mask.size(); ++i)
      if (!mask[i]) require(out.block.data()[i] == out.block.before()[i], "byte outside out changed", (long long)i);
  }
  // The rows this call used (same table state: read back for the same length).
  const uint32_t half = st.cfg.rotary_dim / 2;
  std::vector<float> cos_rows(size_t(needed) * half), sin_rows(cos_rows.size());
  require(fz_table_cos_sin(st.table, 0, needed, ROTOR_DTYPE_F32, 0, cos_rows.data(), sin_rows.data()) == ROTOR_OK,
          "cos_sin");
  const uint32_t d = q.view.head_dim, group = q_heads / kv_heads;
  for (uint32_t b = 0; b < batch; ++b) {
    CacheModel &m = models[b];
    for (uint32_t i = 0; i < seq; ++i) {
      const uint32_t p = lengths_before[b] + i;
      std::vector<double> key(size_t(kv_heads) * d), value(key.size());
      for (uint32_t h = 0; h < kv_heads; ++h) {
        const std::vector<double> r = rotated_head(k, b, i, h, d, cos_rows, sin_rows, half, st.pairing, p);
        for (uint32_t x = 0; x < d; ++x) {
          key[size_t(h) * d + x] = overflowed(r[x], std::min(fuzz::dtype_max(k.dtype), fuzz::dtype_max(m.dtype)));
          value[size_t(h) * d + x] = overflowed(value_at(v, b, i, h, x), fuzz::dtype_max(m.dtype));
        }
      }
      m.keys.push_back(key);
      m.values.push_back(value);
    }
    for (uint32_t i = 0; i < seq; ++i) {
      const uint32_t p = lengths_before[b] + i;  // sees cached tokens 0 .. p
      for (uint32_t h = 0; h < q_heads; ++h) {
        const uint32_t kvh = h / group;
        std::vector<double> qr = rotated_head(q, b, i, h, d, cos_rows, sin_rows, half, st.pairing, p);
        for (double &x : qr) x = overflowed(x, fuzz::dtype_max(q.dtype));  // rotated in q's dtype
        std::vector<double> scores(p + 1);
        double top = -INFINITY, max_magnitude = 0;
        bool nan_score = false;
        for (uint32_t j = 0; j <= p; ++j) {
          double dot = 0, magnitude = 0;
          for (uint32_t x = 0; x < d; ++x) {
            const double term = qr[x] * m.keys[j][size_t(kvh) * d + x];
            dot += term;
            magnitude += std::fabs(term);  // bounds every partial sum, in any order
          }
          scores[j] = dot * scale;
          max_magnitude = std::max(max_magnitude, magnitude);
          // inf * 0 from an overflowed key or query, or float partial sums past float's range.
          nan_score |= std::isnan(scores[j]) || magnitude > 1e37 || magnitude * std::fabs(scale) > 1e37;
          top = std::max(top, scores[j]);
        }
        double sum = 0;
        for (double &w : scores) sum += (w = std::exp(w - top));
        for (uint32_t x = 0; x < d; ++x) {
          double want = 0, lo = INFINITY, hi = -INFINITY;
          bool nan_value = false;  // 0 * NaN is NaN: any NaN value seen makes the output NaN
          for (uint32_t j = 0; j <= p; ++j) {
            const double val = m.values[j][size_t(kvh) * d + x];
            nan_value |= std::isnan(val);
            want += scores[j] / sum * val;
            lo = std::min(lo, val);
            hi = std::max(hi, val);
          }
          const double got = value_at(out, b, i, h, x);
          const double span = std::max(std::fabs(lo), std::fabs(hi));
          // inf/NaN inputs, or values whose float sums may overflow: no cheap bound. (A score
          // made infinite by an overflowed key is skipped too, though the library takes the
          // softmax's limit for it: whether it is +inf, -inf or NaN in float depends on which
          // tiny query or key elements round to 0, which this model does not follow.)
          if (nan_score || nan_value || !std::isfinite(top) || !std::isfinite(lo) || !std::isfinite(hi) || span > 1e30) continue;
          // Values pass through the cache's dtype and the output's: the coarser rounding counts.
          const double eps = std::max({fuzz::dtype_epsilon(out.dtype), fuzz::dtype_epsilon(m.dtype)});
          const double slack = span * 4 * eps + fuzz::dtype_tiny(out.dtype) + fuzz::dtype_tiny(m.dtype);
          if (!(got >= lo - slack && got <= hi + slack)) {
            std::fprintf(stderr, "b=%u i=%u h=%u x=%u got %g range [%g, %g] top score %g scale %g dtype %d cache %d\n",
                         b, i, h, x, got, lo, hi, top, double(scale), out.dtype, m.dtype);
            fuzz::fail("attention output outside the values it can see");
          }
          double biggest = 0;
          for (uint32_t j = 0; j <= p; ++j) biggest = std::max(biggest, std::fabs(std::log(scores[j] / sum)));
          fuzz::count("output bounded");
          // Each float score is off by a few ulps of the largest magnitude its sum went
          // through (not of its value: q . k may cancel); a weight moves by about that much
          // relative, so the output by that much of the values' span.
          const double score_error = 8 * 0x1p-24 * max_magnitude * std::fabs(double(scale));
          const double tolerance = (span + 1.0) * (1e-5 + 4 * score_error);
          if (exact_check && score_error < 1e-3 && span < 1e6 && biggest < 200) {
            if (!(std::fabs(got - want) <= tolerance)) {
              std::fprintf(stderr, "got %.9g want %.9g (tolerance %g, score error bound %g)\n", got, want, tolerance,
                           score_error);
              fuzz::fail("attention output differs from the reference", b * 1000 + i, h * 1000 + x);
            }
            fuzz::count("output checked exactly");
          }
        }
      }
    }
  }
  return in.remaining_bytes() > 0;
}

// One context shift (rotor_kv_cache_evict) of a drawn cache: a drawn range (sometimes past the
// length, or wrapping 32 bits), sometimes a NULL table or cache, with or without the pool. The
// status is the one the arguments call for; on error no byte of the cache arena changes; the
// table never changes. On success the model drops the range and brings each later key from
// position p to p - count with the table's rows (R(p - count) R(p)^-1, in double), stored in the
// cache's dtype as the library stores it (a component past its range becomes infinity): the
// exact check of the next forward calls compares with those keys, and every check uses them to
// know which scores overflowed (a key rotated past the f16 range is infinite in the cache, and a
// model that kept the key from before the shift took the NaN its scores may give for a bug).
// Tables whose rows change (rows_fixed false) keep the keys as they were: reading their rows back
// could rescale the table, and their cached keys follow rescales the model does not follow anyway.
void one_evict(FuzzedDataProvider &in, fuzz::SmallTable &st, std::vector<CacheModel> &models, const Dims &dims,
               bool rows_fixed) {
  CacheModel &m = models[in.ConsumeIntegralInRange<size_t>(0, models.size() - 1)];
  const uint32_t length = rotor_kv_cache_length(m.cache);
  const uint32_t start = in.ConsumeIntegralInRange<uint32_t>(0, length + 1);
  uint32_t count = in.ConsumeIntegralInRange<uint32_t>(0, length + 1);
  if (in.ConsumeIntegral<uint8_t>() < 4) count = in.ConsumeIntegral<uint32_t>();
  const uint8_t twist = in.ConsumeIntegral<uint8_t>();
  rotor_table *table = twist < 4 ? nullptr : st.table;
  rotor_kv_cache *cache = twist >= 4 && twist < 8 ? nullptr : m.cache;
  rotor_pool *pool = in.ConsumeBool() ? fuzz::shared_pool(3) : nullptr;
  m.arena.snapshot();
  st.arena.snapshot();
  const rotor_status s = rotor_kv_cache_evict(table, cache, start, count, pool);
  fuzz::check_status(s);
  fuzz::count(s == ROTOR_OK ? "evict ok" : "evict error");
  require(st.arena.unchanged(), "evict changed the table", s);
  const bool valid = table != nullptr && cache != nullptr && uint64_t{start} + count <= length;
  require((s == ROTOR_OK) == valid, "evict status", s, (long long)start);
  if (s != ROTOR_OK) {
    require(m.arena.unchanged(), "cache arena changed on a failed evict", s);
    return;
  }
  require(rotor_kv_cache_length(m.cache) == length - count, "length after evict");
  if (count == 0) return;
  m.keys.erase(m.keys.begin() + start, m.keys.begin() + start + count);
  m.values.erase(m.values.begin() + start, m.values.begin() + start + count);
  if (!rows_fixed) return;
  const uint32_t half = st.cfg.rotary_dim / 2, d = dims.head_dim;
  std::vector<float> cos_rows(size_t(length) * half), sin_rows(cos_rows.size());
  require(fz_table_cos_sin(st.table, 0, length, ROTOR_DTYPE_F32, 0, cos_rows.data(), sin_rows.data()) == ROTOR_OK,
          "cos_sin");
  for (uint32_t slot = start; slot < length - count; ++slot) {
    const size_t from = size_t(slot + count) * half, to = size_t(slot) * half;
    std::vector<double> &key = m.keys[slot];
    for (size_t h = 0; h < key.size() / d; ++h)
      for (uint32_t i = 0; i < half; ++i) {
        const uint32_t ia = st.pairing == ROTOR_PAIRING_HALF ? i : 2 * i;
        const uint32_t ib = st.pairing == ROTOR_PAIRING_HALF ? i + half : 2 * i + 1;
        const double co = cos_rows[from + i], so = sin_rows[from + i], cn = cos_rows[to + i], sn = sin_rows[to + i];
        const double norm = co * co + so * so, a = (cn * co + sn * so) / norm, b = (sn * co - cn * so) / norm;
        const double x = key[h * d + ia], y = key[h * d + ib];
        key[h * d + ia] = overflowed(a * x - b * y, fuzz::dtype_max(m.dtype));
        key[h * d + ib] = overflowed(b * x + a * y, fuzz::dtype_max(m.dtype));
      }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);
  fuzz::SmallTable st;
  fuzz::make_small_table(in, &st);

  Dims dims{};
  dims.batch = in.ConsumeIntegralInRange<uint32_t>(1, 3);
  dims.kv_heads = in.ConsumeIntegralInRange<uint32_t>(1, 3);
  dims.q_heads = dims.kv_heads * in.ConsumeIntegralInRange<uint32_t>(1, 3);
  dims.head_dim = st.cfg.rotary_dim + in.ConsumeIntegralInRange<uint32_t>(0, 6);
  const int dtype = fuzz::enum_value(in, 3);
  const int cache_dtype = in.ConsumeIntegral<uint8_t>() < 4 ? fuzz::enum_value(in, 3) : in.ConsumeIntegralInRange<int>(0, 2);

  // Caches: arena_size, then init refused one byte short and misaligned, then exact.
  std::vector<CacheModel> models(dims.batch);
  for (CacheModel &m : models) {
    m.max_len = in.ConsumeIntegralInRange<uint32_t>(1, 48);
    m.dtype = cache_dtype;
    uint32_t kv_heads = dims.kv_heads, head_dim = dims.head_dim;
    if (in.ConsumeIntegral<uint8_t>() < 4) kv_heads = in.ConsumeIntegralInRange<uint32_t>(0, 4);  // may not match k
    const size_t bytes = fz_kv_cache_arena_size(kv_heads, head_dim, m.max_len, cache_dtype);
    if (bytes == 0 || bytes > (size_t{1} << 24)) {
      Block small(256);
      small.snapshot();
      rotor_kv_cache *untouched = nullptr;
      const rotor_status s = fz_kv_cache_init(&untouched, kv_heads, head_dim, m.max_len, cache_dtype, small.data(), 256);
      require(s != ROTOR_OK && untouched == nullptr && small.unchanged(), "kv cache init with a bad size", s);
      return 0;
    }
    require(bytes % ROTOR_ARENA_ALIGNMENT == 0, "kv arena size not aligned");
    {
      Block probe(bytes + 64);
      probe.snapshot();
      rotor_kv_cache *untouched = nullptr;
      rotor_status s = fz_kv_cache_init(&untouched, kv_heads, head_dim, m.max_len, cache_dtype, probe.data(), bytes - 1);
      require(s == ROTOR_ERR_OUT_OF_MEMORY, "kv arena one byte short", s);
      s = fz_kv_cache_init(&untouched, kv_heads, head_dim, m.max_len, cache_dtype, probe.data() + 32, bytes + 32);
      require(s == ROTOR_ERR_INVALID_ARGUMENT, "misaligned kv arena", s);
      require(untouched == nullptr && probe.unchanged(), "failed kv init wrote something");
    }
    m.arena = Block(bytes);
    const rotor_status s = fz_kv_cache_init(&m.cache, kv_heads, head_dim, m.max_len, cache_dtype, m.arena.data(), bytes);
    require(s == ROTOR_OK && rotor_kv_cache_length(m.cache) == 0, "kv init", s);
  }
  // The exact reference needs f32 everywhere, and rows that never change between calls: with
  // an adaptive table (NTK, dynamic NTK, LongRoPE) the cached keys may be re-rotated to new rows
  // by the table's rescale policy, which this model does not follow. The range bound (values
  // only) holds for every table.
  const bool adaptive = st.scaling == ROTOR_SCALING_NTK || st.scaling == ROTOR_SCALING_DYNAMIC_NTK ||
                        st.scaling == ROTOR_SCALING_LONGROPE;
  const bool exact = dtype == ROTOR_DTYPE_F32 && cache_dtype == ROTOR_DTYPE_F32 && !adaptive;
  for (int call = 0; call < 3; ++call) {
    if (!one_forward(in, st, models, dims, dtype, exact)) break;
    if (in.ConsumeIntegral<uint8_t>() < 96) one_evict(in, st, models, dims, !adaptive);
  }
  // Reset empties a cache.
  if (in.ConsumeBool()) {
    require(rotor_kv_cache_reset(models[0].cache) == ROTOR_OK && rotor_kv_cache_length(models[0].cache) == 0,
            "reset");
  }
  require(rotor_kv_cache_reset(nullptr) == ROTOR_ERR_INVALID_ARGUMENT, "reset NULL");
  rotor_table_destroy(st.table);
  return 0;
}
