// libFuzzer target for configurations and tables: rotor_config_init / rotor_config_preset,
// rotor_table_arena_size, rotor_table_init (exact, one byte short, misaligned),
// rotor_table_create, then a sequence of reserve, cos_sin, stats_get and event-callback calls
// carved from the input. Every config field may hold anything (NaN, infinities, out-of-range
// enums, wrong struct_size).
//
// Properties: statuses are enum values; arena_size is a multiple of the alignment, init
// succeeds in exactly that many bytes and refuses one byte less; on any error *out, the
// arena and every output buffer are unchanged; stats stay consistent (rows <= max_len, never
// shrink without a rescale, arena_bytes as given); cos_sin rows of an unscaled table agree with
// cos(p * base^(-2i/r)) in double; duplicated layout repeats the half row; f16/bf16 outputs are
// the f32 rows rounded.
#include <cstddef>
#include <string>

#include "c_shim.h"
#include "fuzz_common.hpp"

namespace {

using fuzz::Block;
using fuzz::require;

// Arenas and outputs the harness will really allocate; bigger configs only go through
// rotor_table_arena_size and the failing paths.
constexpr size_t kMaxArena = size_t{1} << 21;
constexpr size_t kMaxOutputElements = size_t{1} << 16;

float any_float(FuzzedDataProvider &in, float usual) {
  const uint8_t kind = in.ConsumeIntegral<uint8_t>();
  if (kind < 200) return usual;
  if (kind < 240) return float(in.ConsumeIntegralInRange<int>(-8, 64)) / 4.0f;
  uint32_t bits = in.ConsumeIntegral<uint32_t>();
  float f;
  std::memcpy(&f, &bits, 4);
  return f;  // NaN, infinities, subnormals, anything
}

struct Events {
  rotor_table *table = nullptr;
  uint32_t max_len = 0;
  uint32_t count = 0;
};

void on_event(void *user, const rotor_table_event *e) {
  Events &ev = *static_cast<Events *>(user);
  ++ev.count;
  require(e->struct_size == sizeof(rotor_table_event), "event struct_size");
  require(e->new_rows <= ev.max_len, "event past max_len", e->new_rows, ev.max_len);
  if (e->reason != ROTOR_EVENT_RESCALE) require(e->old_rows < e->new_rows, "grow event that does not grow");
  rotor_table_stats s{};
  s.struct_size = sizeof s;
  require(rotor_table_stats_get(ev.table, &s) == ROTOR_OK, "stats_get inside the callback");
}

// Draws a config: defaults, then any field overwritten with anything.
void draw_config(FuzzedDataProvider &in, rotor_config *cfg, std::vector<float> factors[2]) {
  const uint8_t dim_kind = in.ConsumeIntegral<uint8_t>();
  uint32_t rotary_dim = 2 * in.ConsumeIntegralInRange<uint32_t>(1, 64);
  if (dim_kind >= 240) rotary_dim = in.ConsumeIntegral<uint32_t>();
  rotor_config_init(cfg, rotary_dim);
  if (in.ConsumeIntegral<uint8_t>() < 4) cfg->struct_size = in.ConsumeIntegral<uint32_t>();
  int pairing = in.ConsumeBool() ? 1 : 0, growth = in.ConsumeIntegralInRange<int>(0, 3);
  int scaling = in.ConsumeIntegralInRange<int>(0, 6);
  if (in.ConsumeIntegral<uint8_t>() < 8) pairing = fuzz::enum_value(in, 2);
  if (in.ConsumeIntegral<uint8_t>() < 8) growth = fuzz::enum_value(in, 4);
  if (in.ConsumeIntegral<uint8_t>() < 8) scaling = fuzz::enum_value(in, 7);
  fz_set_config_enums(cfg, pairing, growth, scaling);
  const uint8_t len_kind = in.ConsumeIntegral<uint8_t>();
  cfg->max_len = len_kind < 230 ? in.ConsumeIntegralInRange<uint32_t>(0, 2048) : in.ConsumeIntegral<uint32_t>();
  cfg->initial_len = in.ConsumeIntegralInRange<uint32_t>(0, 300);
  if (in.ConsumeIntegral<uint8_t>() < 4) cfg->initial_len = in.ConsumeIntegral<uint32_t>();
  cfg->growth_increment = in.ConsumeIntegralInRange<uint32_t>(0, 300);
  cfg->growth_margin = any_float(in, 0.25f);
  cfg->growth_threshold = any_float(in, 0.8f);
  const uint8_t base_kind = in.ConsumeIntegral<uint8_t>();
  if (base_kind >= 200) {
    uint64_t bits = in.ConsumeIntegral<uint64_t>();
    std::memcpy(&cfg->base, &bits, 8);
  } else if (base_kind >= 100) {
    cfg->base = double(in.ConsumeIntegralInRange<int>(-2, 1000000));
  }
  cfg->factor = any_float(in, float(in.ConsumeIntegralInRange<int>(1, 16)));
  cfg->original_max_len = in.ConsumeIntegralInRange<uint32_t>(0, 512);
  cfg->ntk_dynamic = in.ConsumeIntegral<uint8_t>() < 250 ? in.ConsumeBool() : in.ConsumeIntegral<int>();
  cfg->beta_fast = any_float(in, 0.0f);
  cfg->beta_slow = any_float(in, 0.0f);
  cfg->mscale = any_float(in, 0.0f);
  cfg->mscale_all_dim = any_float(in, 0.0f);
  cfg->attention_factor = any_float(in, 0.0f);
  cfg->low_freq_factor = any_float(in, 0.0f);
  cfg->high_freq_factor = any_float(in, 0.0f);
  // LongRoPE factors: two arrays of `count` floats each, and factor_count saying so (or 0, "not
  // given", which promises r/2). Usually count is r/2; otherwise factor_count tells the truth
  // and the library must refuse without reading past the arrays (ASan watches the heap copy:
  // long then short, each exactly `count` floats in its own allocation). Sometimes the arrays
  // are a preset's own (the library's static storage) under the fuzzed rotary_dim.
  if (scaling == ROTOR_SCALING_LONGROPE && rotary_dim <= 4096 && in.ConsumeIntegral<uint8_t>() != 0) {
    const uint8_t count_kind = in.ConsumeIntegral<uint8_t>();
    // A struct without factor_count (older, or a fuzzed struct_size) promises r/2 floats.
    const bool has_count = cfg->struct_size >= offsetof(rotor_config, factor_count) + sizeof(uint32_t);
    const uint32_t count = count_kind < 200 || !has_count ? rotary_dim / 2
                                                          : in.ConsumeIntegralInRange<uint32_t>(1, rotary_dim);
    factors[0].resize(count);
    factors[1].resize(count);
    for (float &f : factors[0]) f = any_float(in, 1.0f + float(in.ConsumeIntegralInRange<int>(0, 15)));
    for (float &f : factors[1]) f = any_float(in, 1.0f + float(in.ConsumeIntegralInRange<int>(0, 15)));
    cfg->long_factor = factors[0].data();
    cfg->short_factor = factors[1].data();
    if (has_count) cfg->factor_count = count == rotary_dim / 2 && in.ConsumeBool() ? 0 : count;
    if (count_kind >= 250) {
      rotor_config preset;
      if (rotor_config_preset(&preset, "phi-3-mini-128k") == ROTOR_OK) {
        cfg->long_factor = preset.long_factor;  // 48 floats each, whatever rotary_dim is
        cfg->short_factor = preset.short_factor;
        if (cfg->struct_size >= offsetof(rotor_config, factor_count) + sizeof(uint32_t)) cfg->factor_count = 0;
      }
    }
  } else if (scaling == ROTOR_SCALING_LONGROPE) {
    cfg->long_factor = nullptr;
    cfg->short_factor = nullptr;
  }
}

void check_rows_reference(const rotor_config &cfg, uint32_t start, uint32_t count, const float *cos_rows,
                          const float *sin_rows, size_t width) {
  const uint32_t r = cfg.rotary_dim, half = r / 2;
  for (uint32_t row = 0; row < count; ++row)
    for (uint32_t i = 0; i < half; ++i) {
      const double angle = double(start + row) * std::pow(cfg.base, -2.0 * double(i) / double(r));
      if (!std::isfinite(angle) || std::fabs(angle) > 0x1p40) continue;  // degenerate bases
      // float rounding of the value plus the angle's own double rounding (relative 2^-53 of
      // an angle up to 2^31): a few 1e-7 at most.
      const double tol = 4e-7 + std::fabs(angle) * 0x1p-50;
      require(std::fabs(cos_rows[row * width + i] - std::cos(angle)) <= tol, "cos row off the formula", start + row, i);
      require(std::fabs(sin_rows[row * width + i] - std::sin(angle)) <= tol, "sin row off the formula", start + row, i);
    }
}

// cos_sin of [start, start + count) in a dtype; on success checked against the f32 rows.
void exercise_cos_sin(FuzzedDataProvider &in, rotor_table *t, const rotor_config &cfg, int scaling) {
  const uint32_t half = cfg.rotary_dim / 2;
  uint32_t start = in.ConsumeIntegralInRange<uint32_t>(0, cfg.max_len);
  uint32_t count = in.ConsumeIntegralInRange<uint32_t>(0, 64);
  if (in.ConsumeIntegral<uint8_t>() < 8) start = in.ConsumeIntegral<uint32_t>();
  if (in.ConsumeIntegral<uint8_t>() < 8) count = in.ConsumeIntegral<uint32_t>();
  const int dtype = fuzz::enum_value(in, 3);
  const int duplicated = in.ConsumeIntegral<uint8_t>() < 128 ? 0 : in.ConsumeIntegral<int>();
  const size_t width = duplicated ? 2 * size_t{half} : half;
  const size_t elem = fuzz::valid_dtype(dtype) ? fuzz::elem_size(dtype) : 4;
  // Outputs sized exactly to what a successful call writes, when that is small; otherwise the
  // call must fail.
  const uint64_t needed = uint64_t{count} * width;
  const bool fits = needed <= kMaxOutputElements;
  // A call that may succeed writes count x width values: when that is more than the harness
  // holds (a large rotary_dim), the call cannot be made with honest buffers.
  const bool may_succeed = count > 0 && uint64_t{start} + count <= cfg.max_len && fuzz::valid_dtype(dtype);
  if (!fits && may_succeed) return;
  Block cos_out(fits ? size_t(needed) * elem : 64, 1), sin_out(fits ? size_t(needed) * elem : 64, 2);
  cos_out.snapshot();
  sin_out.snapshot();
  const bool null_out = in.ConsumeIntegral<uint8_t>() == 0;
  const rotor_table_stats before = fuzz::table_stats(t);
  const rotor_status s =
      fz_table_cos_sin(t, start, count, dtype, duplicated, null_out ? nullptr : cos_out.data(), sin_out.data());
  fuzz::check_status(s);
  fuzz::count(s == ROTOR_OK ? "cos_sin ok" : "cos_sin error");
  if (!fits) require(s != ROTOR_OK, "cos_sin wrote more than the harness could hold", count, start);
  if (s != ROTOR_OK) {
    require(cos_out.unchanged() && sin_out.unchanged(), "cos_sin output changed on error", s);
    const rotor_table_stats after = fuzz::table_stats(t);
    require(after.rows == before.rows && after.grow_events == before.grow_events, "table grew on a failed cos_sin");
    return;
  }
  require(count > 0 && uint64_t{start} + count <= cfg.max_len && fuzz::valid_dtype(dtype), "cos_sin accepted bad input");
  // The same rows in f32, half layout: the reference for the dtype and the duplicated layout.
  std::vector<float> c32(size_t(count) * half), s32(c32.size());
  require(fz_table_cos_sin(t, start, count, ROTOR_DTYPE_F32, 0, c32.data(), s32.data()) == ROTOR_OK, "f32 cos_sin");
  if (scaling == ROTOR_SCALING_NONE) check_rows_reference(cfg, start, count, c32.data(), s32.data(), half);
  for (uint32_t row = 0; row < count; ++row)
    for (size_t j = 0; j < width; ++j) {
      const size_t i = j % half;
      const double want_c = c32[row * size_t(half) + i], want_s = s32[row * size_t(half) + i];
      const double got_c = fuzz::load(cos_out.data(), dtype, int64_t(row * width + j));
      const double got_s = fuzz::load(sin_out.data(), dtype, int64_t(row * width + j));
      // One rounding to nearest: within half an ulp of the dtype (plus its subnormal step).
      // Values past the dtype's range (a huge attention factor) round to infinity: skipped.
      if (std::fabs(want_c) >= fuzz::dtype_max(dtype) * 0.99 || std::fabs(want_s) >= fuzz::dtype_max(dtype) * 0.99 ||
          std::isnan(want_c) || std::isnan(want_s))
        continue;
      const double tol_c = std::fabs(want_c) * fuzz::dtype_epsilon(dtype) * 0.5 + (dtype == 1 ? 0x1p-25 : 0x1p-133);
      const double tol_s = std::fabs(want_s) * fuzz::dtype_epsilon(dtype) * 0.5 + (dtype == 1 ? 0x1p-25 : 0x1p-133);
      require(std::fabs(got_c - want_c) <= tol_c && std::fabs(got_s - want_s) <= tol_s, "converted row differs",
              row, int64_t(j));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FuzzedDataProvider in(data, size);

  // rotor_status_string and rotor_config_preset on anything.
  require(fz_status_string(in.ConsumeIntegral<int>()) != nullptr, "status string NULL");
  {
    rotor_config cfg;
    rotor_config_init(&cfg, 64);
    const rotor_config copy = cfg;
    const std::string name = in.ConsumeRandomLengthString(24);
    const rotor_status s = rotor_config_preset(&cfg, name.c_str());
    fuzz::check_status(s);
    if (s != ROTOR_OK) require(std::memcmp(&copy, &cfg, sizeof cfg) == 0, "preset changed cfg on error");
  }

  rotor_config cfg;
  std::vector<float> factors[2];  // long, short
  draw_config(in, &cfg, factors);
  const int scaling = fuzz::enum_bits_of(cfg.scaling);
  const size_t arena_bytes = rotor_table_arena_size(&cfg);
  require(arena_bytes % ROTOR_ARENA_ALIGNMENT == 0, "arena size not a multiple of the alignment", int64_t(arena_bytes));

  rotor_table *const untouched = reinterpret_cast<rotor_table *>(uintptr_t{0x1000});
  rotor_table *t = untouched;
  if (arena_bytes == 0 || arena_bytes > kMaxArena) {
    // Too big to hold here, or invalid: init with a small arena must fail and write nothing.
    Block arena(4096);
    arena.snapshot();
    const rotor_status s = rotor_table_init(&t, &cfg, arena.data(), arena.size());
    fuzz::check_status(s);
    require(s != ROTOR_OK, "init succeeded in an arena smaller than arena_size", int64_t(arena_bytes));
    require(t == untouched && arena.unchanged(), "failed init wrote something", s);
    return 0;
  }

  // The library accepted the config: it reads the caller's struct_size bytes over the defaults
  // (an older, smaller struct leaves the rest at their defaults). From here on the harness
  // passes, and checks against, that full config: the same table the small struct describes.
  if (cfg.struct_size < sizeof cfg) {
    rotor_config seen;
    rotor_config_init(&seen, cfg.rotary_dim);
    std::memcpy(&seen, &cfg, cfg.struct_size);
    seen.struct_size = sizeof seen;
    require(rotor_table_arena_size(&seen) == arena_bytes, "an older struct and its full reading differ");
    cfg = seen;
  }

  // One byte short, and misaligned: refused, nothing written.
  {
    Block arena(arena_bytes + 64);
    arena.snapshot();
    rotor_status s = rotor_table_init(&t, &cfg, arena.data(), arena_bytes - 1);
    require(s == ROTOR_ERR_OUT_OF_MEMORY, "arena one byte short not OUT_OF_MEMORY", s);
    s = rotor_table_init(&t, &cfg, arena.data() + 8, arena_bytes + 56);
    require(s == ROTOR_ERR_INVALID_ARGUMENT, "misaligned arena not INVALID_ARGUMENT", s);
    s = rotor_table_init(&t, &cfg, nullptr, arena_bytes);
    require(s == ROTOR_ERR_INVALID_ARGUMENT, "NULL arena", s);
    require(t == untouched && arena.unchanged(), "failed init wrote something");
  }

  // Exact arena: init must succeed (arena_size promised it).
  fuzz::count("table built");
  Block arena(arena_bytes);
  rotor_status s = rotor_table_init(&t, &cfg, arena.data(), arena_bytes);
  require(s == ROTOR_OK && t != untouched, "init with arena_size bytes failed", s);
  Events events{t, cfg.max_len, 0};
  require(rotor_table_set_event_callback(t, on_event, &events) == ROTOR_OK, "set callback");

  // create gives an equivalent table (checked on its first rows).
  rotor_table *created = nullptr;
  s = rotor_table_create(&created, &cfg);
  require(s == ROTOR_OK, "create failed where init succeeded", s);

  uint32_t rows_seen = fuzz::table_stats(t).rows;
  const bool adaptive = scaling == ROTOR_SCALING_NTK || scaling == ROTOR_SCALING_DYNAMIC_NTK ||
                        scaling == ROTOR_SCALING_LONGROPE;
  for (int step = 0; step < 8 && in.remaining_bytes() > 0; ++step) {
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: {
        uint32_t positions = in.ConsumeIntegralInRange<uint32_t>(0, cfg.max_len + 1);
        if (in.ConsumeIntegral<uint8_t>() < 8) positions = in.ConsumeIntegral<uint32_t>();
        const rotor_table_stats before = fuzz::table_stats(t);
        s = rotor_table_reserve(t, positions);
        fuzz::check_status(s);
        const rotor_table_stats after = fuzz::table_stats(t);
        if (positions > cfg.max_len) {
          require(s == ROTOR_ERR_OUT_OF_RANGE && after.rows == before.rows, "reserve past max_len", s);
        } else {
          require(s == ROTOR_OK && after.rows >= std::min(positions, cfg.max_len), "reserve short", s);
        }
        break;
      }
      case 1:
        exercise_cos_sin(in, t, cfg, scaling);
        break;
      case 2: {
        // stats with an older (smaller) or newer (larger) struct: written up to its size only.
        unsigned char raw[sizeof(rotor_table_stats) + 16];
        std::memset(raw, 0xEE, sizeof raw);
        uint32_t declared = in.ConsumeIntegralInRange<uint32_t>(0, sizeof raw);
        std::memcpy(raw, &declared, 4);
        unsigned char copy[sizeof raw];
        std::memcpy(copy, raw, sizeof raw);
        s = rotor_table_stats_get(t, reinterpret_cast<rotor_table_stats *>(raw));
        fuzz::check_status(s);
        const size_t written = s == ROTOR_OK ? std::min<size_t>(declared, sizeof(rotor_table_stats)) : 0;
        require(std::memcmp(raw + written, copy + written, sizeof raw - written) == 0, "stats wrote past its size",
                declared);
        break;
      }
      default: {
        const rotor_table_stats st = fuzz::table_stats(t);
        require(st.rows <= cfg.max_len && st.max_len == cfg.max_len && st.arena_bytes == arena_bytes,
                "stats inconsistent", st.rows, st.max_len);
        require(adaptive || st.rows >= rows_seen, "rows shrank without a rescale", st.rows, rows_seen);
        rows_seen = st.rows;
        break;
      }
    }
  }
  // The created table serves the same first row as the init'ed one.
  {
    const uint32_t half = cfg.rotary_dim / 2;
    std::vector<float> a(2 * size_t(half)), b(a.size());
    require(fz_table_cos_sin(created, 0, 1, ROTOR_DTYPE_F32, 0, a.data(), a.data() + half) == ROTOR_OK, "cos_sin");
    require(fz_table_cos_sin(t, 0, 1, ROTOR_DTYPE_F32, 0, b.data(), b.data() + half) == ROTOR_OK, "cos_sin");
    // Bitwise: a degenerate (huge or tiny) base makes NaN rows, equal in both tables.
    require(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0 || adaptive,
            "create and init tables disagree on row 0");
  }
  rotor_table_destroy(created);
  rotor_table_destroy(t);
  return 0;
}
