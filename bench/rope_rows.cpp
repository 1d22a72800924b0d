// rotor_bench's rows, called through a RotorApi (bench/rotor_api.hpp) so that the same rows
// measure the linked library (rotor_bench) or libraries loaded at run time (rotor_compare).
// Each apply runs next to a streaming read-modify-write and a memcpy of the same bytes measured
// in the same run.
//
// Counters: GBps = bytes read + written by the call per second (2 x tensor bytes for in place);
// rmw_GBps / memcpy_GBps = the rooflines on the same buffer (same thread count); frac_rmw =
// GBps / rmw_GBps. f16 and bf16 rows on one thread add Gelem_cpu (G elements per second of
// process CPU time, which time given to other processes does not inflate) and frac_convert
// (that rate over the conversion-bound limit of rooflines.hpp, measured in the same run).
// Decode and table growth report time per call and per entry.
#include "rope_rows.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <time.h>

#include "bench_support.hpp"
#include "rooflines.hpp"
#include "support/aligned_buffer.hpp"

namespace bench {
namespace {

using clock_type = std::chrono::steady_clock;

using test_support::aligned_buffer;
using test_support::AlignedBuffer;

// Finite values of every dtype (rotations keep them bounded across iterations).
void fill(void *p, rotor_dtype dt, size_t n) {
  uint32_t x = 12345;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    const float v = float(x >> 8) / float(1u << 24) * 2.0f - 1.0f;
    if (dt == ROTOR_DTYPE_F32) {
      static_cast<float *>(p)[i] = v;
    } else {
      uint32_t u;
      std::memcpy(&u, &v, 4);
      // bf16: truncated float; f16: a value in [0.5, 2) with a random sign (exact pattern).
      const uint16_t h = dt == ROTOR_DTYPE_BF16 ? uint16_t(u >> 16) : uint16_t((x >> 16 & 0x8000u) | 0x3800u | (x & 0x7ffu));
      static_cast<uint16_t *>(p)[i] = h;
    }
  }
}

rotor_table *make_table(const RotorApi &api, rotor_pairing pairing, uint32_t rotary_dim, uint32_t initial_len) {
  rotor_config cfg = {};  // the 1.0 init writes only the 1.0 fields
  api.config_init(&cfg, rotary_dim);
  cfg.pairing = pairing;
  cfg.initial_len = initial_len;
  cfg.max_len = 32768;
  rotor_table *t = nullptr;
  if (api.table_create(&t, &cfg) != ROTOR_OK) return nullptr;
  return t;
}

double process_cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Measured once per run, on first use.
double convert_limit_gelems(rotor_dtype dt) {
  static const double f16 = bench::f16_convert_gelems(), bf16 = bench::bf16_convert_gelems();
  return dt == ROTOR_DTYPE_F16 ? f16 : dt == ROTOR_DTYPE_BF16 ? bf16 : 0.0;
}

// Forces `kernel` (nullptr: the automatic choice) and labels the run with the one in use.
bool use_kernel(const RotorApi &api, benchmark::State &state, const char *kernel) {
  if (api.kernel_force(kernel) != ROTOR_OK) {
    state.SkipWithError("kernel not available");
    return false;
  }
  state.SetLabel(api.kernel_name());
  return true;
}

// grown: the table starts with 16 rows and reaches 4096 through growth steps before the timed
// calls (which then need no growth): its rows must cost the same to apply as computed at once.
void BM_Apply(benchmark::State &state, const RotorApi &api, rotor_dtype dt, rotor_pairing pairing, uint32_t tokens, uint32_t threads,
              const char *kernel, bool grown) {
  if (!use_kernel(api, state, kernel)) return;
  const uint32_t heads = 32, dim = 128;
  const size_t elements = size_t(tokens) * heads * dim, bytes = elements * dtype_bytes(dt);
  rotor_table *table = make_table(api, pairing, dim, grown ? 16 : 4096);
  if (grown)
    for (uint32_t rows : {100u, 1000u, 2500u, 4096u}) api.table_reserve(table, rows);
  rotor_pool *pool = nullptr;
  if (threads > 1) api.pool_create(&pool, threads);
  const AlignedBuffer buf = aligned_buffer(bytes), copy = aligned_buffer(bytes);
  fill(buf.get(), dt, elements);
  rotor_tensor x = api.tensor_bshd(buf.get(), dt, 1, tokens, heads, dim);
  api.apply(table, &x, nullptr, 0, ROTOR_FORWARD, pool);  // warm
  const auto start = clock_type::now();
  const double cpu_start = process_cpu_seconds();
  for (auto _ : state) {
    api.apply(table, &x, nullptr, 0, ROTOR_FORWARD, pool);
    benchmark::ClobberMemory();
  }
  const double cpu_seconds = (process_cpu_seconds() - cpu_start) / double(state.iterations());
  const double seconds =
      std::chrono::duration<double>(clock_type::now() - start).count() / double(state.iterations());
  const int passes = std::max(5, std::min(2000, int(0.2 / seconds)));
  const double rmw = bench::rmw_seconds(buf.get(), bytes, int(threads), passes);
  const double copy_s = bench::memcpy_seconds(copy.get(), buf.get(), bytes, passes);
  const double traffic = 2.0 * double(bytes);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(traffic));
  state.counters["GBps"] = traffic / seconds / 1e9;
  state.counters["rmw_GBps"] = traffic / rmw / 1e9;
  state.counters["memcpy_GBps"] = traffic / copy_s / 1e9;
  state.counters["frac_rmw"] = rmw / seconds;
  if (dt != ROTOR_DTYPE_F32 && threads == 1) {
    const double gelems = double(elements) / cpu_seconds * 1e-9, limit = convert_limit_gelems(dt);
    state.counters["Gelem_cpu"] = gelems;
    if (limit > 0) state.counters["frac_convert"] = gelems / limit;
  }
  if (threads > 1) {
    const double rmw1 = bench::rmw_seconds(buf.get(), bytes, 1, passes);
    state.counters["rmw1_GBps"] = traffic / rmw1 / 1e9;
    state.counters["frac_rmw1"] = rmw1 / seconds;
  }
  api.pool_destroy(pool);
  api.table_destroy(table);
  api.kernel_force(nullptr);
}

// Out of place (rotor_apply_to) from one buffer into another placed `out_offset` bytes past a
// cache-line boundary (16: where numpy puts an array's data, so every 64-byte store of AVX-512
// straddles two cache lines), f32. Counters as BM_Apply with the memcpy of the same bytes as the
// roofline: frac_memcpy = memcpy time / call time (a rotation cannot beat the copy's streams).
void BM_ApplyTo(benchmark::State &state, const RotorApi &api, rotor_pairing pairing, uint32_t tokens, uint32_t threads, size_t out_offset) {
  if (!use_kernel(api, state, nullptr)) return;
  const uint32_t heads = 32, dim = 128;
  const size_t elements = size_t(tokens) * heads * dim, bytes = elements * 4;
  rotor_table *table = make_table(api, pairing, dim, 4096);
  rotor_pool *pool = nullptr;
  if (threads > 1) api.pool_create(&pool, threads);
  const AlignedBuffer in_buf = aligned_buffer(bytes), out_buf = aligned_buffer(bytes + 4096), copy = aligned_buffer(bytes + 4096);
  fill(in_buf.get(), ROTOR_DTYPE_F32, elements);
  void *out_data = static_cast<unsigned char *>(out_buf.get()) + out_offset;
  const rotor_tensor x = api.tensor_bshd(in_buf.get(), ROTOR_DTYPE_F32, 1, tokens, heads, dim);
  const rotor_tensor y = api.tensor_bshd(out_data, ROTOR_DTYPE_F32, 1, tokens, heads, dim);
  api.apply_to(table, &x, &y, nullptr, 0, ROTOR_FORWARD, pool);  // warm
  const auto start = clock_type::now();
  for (auto _ : state) {
    api.apply_to(table, &x, &y, nullptr, 0, ROTOR_FORWARD, pool);
    benchmark::ClobberMemory();
  }
  const double seconds =
      std::chrono::duration<double>(clock_type::now() - start).count() / double(state.iterations());
  const int passes = std::max(5, std::min(2000, int(0.2 / seconds)));
  const double copy_s =
      bench::memcpy_seconds(static_cast<unsigned char *>(copy.get()) + out_offset, in_buf.get(), bytes, passes);
  const double traffic = 2.0 * double(bytes);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(traffic));
  state.counters["GBps"] = traffic / seconds / 1e9;
  state.counters["memcpy_GBps"] = traffic / copy_s / 1e9;
  state.counters["frac_memcpy"] = copy_s / seconds;
  api.pool_destroy(pool);
  api.table_destroy(table);
  api.kernel_force(nullptr);
}

// One decode step of a Llama-sized model with grouped-query attention: Q [1,1,32,128] and
// K [1,1,8,128] fused, on the calling thread.
void BM_DecodeQK(benchmark::State &state, const RotorApi &api, rotor_dtype dt, rotor_pairing pairing, const char *kernel) {
  if (!use_kernel(api, state, kernel)) return;
  rotor_table *table = make_table(api, pairing, 128, 4096);
  const AlignedBuffer q = aligned_buffer(32 * 128 * 4), k = aligned_buffer(8 * 128 * 4);
  fill(q.get(), dt, 32 * 128);
  fill(k.get(), dt, 8 * 128);
  rotor_tensor tq = api.tensor_bshd(q.get(), dt, 1, 1, 32, 128), tk = api.tensor_bshd(k.get(), dt, 1, 1, 8, 128);
  uint32_t position = 1000;
  for (auto _ : state) {
    api.apply_qk(table, &tq, &tk, nullptr, position, ROTOR_FORWARD, nullptr);
    benchmark::ClobberMemory();
    position = position == 3000 ? 1000 : position + 1;  // different rows, no growth
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * 2 * 40 * 128 * int64_t(dtype_bytes(dt)));
  api.table_destroy(table);
  api.kernel_force(nullptr);
}

// Table growth: one reserve from 1 row to 32768 rows of 64 frequencies (rotary_dim 128),
// into an arena already paged in; reported per table entry (one cos and one sin).
void BM_TableGrowth(benchmark::State &state, const RotorApi &api, const char *kernel) {
  if (!use_kernel(api, state, kernel)) return;
  rotor_config cfg = {};  // the 1.0 init writes only the 1.0 fields
  api.config_init(&cfg, 128);
  cfg.initial_len = 1;
  cfg.max_len = 32768;
  const size_t arena_size = api.table_arena_size(&cfg);
  const AlignedBuffer arena = aligned_buffer(arena_size);
  std::memset(arena.get(), 0, arena_size);
  const double entries = double(cfg.max_len - 1) * 64;
  double total = 0;
  for (auto _ : state) {
    rotor_table *t = nullptr;
    api.table_init(&t, &cfg, arena.get(), arena_size);
    const auto start = clock_type::now();
    api.table_reserve(t, cfg.max_len);
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    state.SetIterationTime(seconds);
    total += seconds;
    api.table_destroy(t);
  }
  state.counters["ns_per_entry"] = total / double(state.iterations()) / entries * 1e9;
  api.kernel_force(nullptr);
}

using Row = benchmark::internal::Benchmark;
void real_time(Row *row) { row->UseRealTime(); }
void cpu_time(Row *) {}
void manual_ms(Row *row) { row->UseManualTime()->Unit(benchmark::kMillisecond); }

// One row for every target in turn, each run with that target's library.
template <class Fn, class... Args>
void add_row(const std::vector<RowTarget> &targets, const std::string &name, void (*configure)(Row *), Fn fn,
             Args... args) {
  for (const RowTarget &target : targets)
    configure(benchmark::RegisterBenchmark((name + target.suffix).c_str(), fn, *target.api, args...));
}

}  // namespace

void register_rope_rows(const std::vector<RowTarget> &targets) {
  const rotor_dtype kDtypes[] = {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16};
  const rotor_pairing kPairings[] = {ROTOR_PAIRING_HALF, ROTOR_PAIRING_INTERLEAVED};
  for (rotor_dtype dt : kDtypes) {
    for (rotor_pairing pr : kPairings) {
      const std::string tag = std::string(dtype_name(dt)) + (pr == ROTOR_PAIRING_HALF ? "/half" : "/interleaved");
      for (uint32_t tokens : {2048u, 128u}) {
        for (uint32_t threads : {1u, 2u}) {
          if (tokens == 128 && threads == 2) continue;
          const std::string name = "apply/" + tag + "/" + std::to_string(tokens) + "x32x128/threads:" + std::to_string(threads);
          add_row(targets, name, real_time, BM_Apply, dt, pr, tokens, threads, nullptr, false);
        }
      }
      add_row(targets, "decode_qk/" + tag, cpu_time, BM_DecodeQK, dt, pr, nullptr);
    }
  }
  for (rotor_pairing pr : kPairings) {
    const std::string tag = pr == ROTOR_PAIRING_HALF ? "half" : "interleaved";
    for (uint32_t tokens : {2048u, 128u}) {
      for (size_t offset : {size_t{0}, size_t{16}}) {
        for (uint32_t threads : {1u, 2u}) {
          if (threads == 2 && (tokens == 128 || offset == 0)) continue;
          const std::string name = "apply_to/f32/" + tag + "/" + std::to_string(tokens) + "x32x128/out+" +
                                   std::to_string(offset) + "/threads:" + std::to_string(threads);
          add_row(targets, name, real_time, BM_ApplyTo, pr, tokens, threads, offset);
        }
      }
    }
  }
  add_row(targets, "apply/f32/half/2048x32x128/threads:1/grown_table", real_time, BM_Apply, ROTOR_DTYPE_F32,
          ROTOR_PAIRING_HALF, 2048u, 1u, nullptr, true);
  // The scalar reference kernel, for comparison.
  for (rotor_pairing pr : kPairings) {
    const std::string tag = pr == ROTOR_PAIRING_HALF ? "half" : "interleaved";
    add_row(targets, "scalar/apply/f32/" + tag + "/2048x32x128/threads:1", real_time, BM_Apply, ROTOR_DTYPE_F32, pr,
            2048u, 1u, "scalar", false);
    add_row(targets, "scalar/apply/f32/" + tag + "/128x32x128/threads:1", real_time, BM_Apply, ROTOR_DTYPE_F32, pr,
            128u, 1u, "scalar", false);
    add_row(targets, "scalar/decode_qk/f32/" + tag, cpu_time, BM_DecodeQK, ROTOR_DTYPE_F32, pr, "scalar");
  }
  add_row(targets, "table_growth/32768x64", manual_ms, BM_TableGrowth, nullptr);
  add_row(targets, "scalar/table_growth/32768x64", manual_ms, BM_TableGrowth, "scalar");
}

}  // namespace bench
