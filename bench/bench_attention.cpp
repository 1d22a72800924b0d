// rotor_attention_forward (32 q heads, 8 kv heads, 128 dims, causal):
//  - Prefill512 / Decode512: a 512-token prefill against 512 decode steps through the same call
//    (f32, 1 and 2 threads);
//  - Prefill/<tokens>/<threads>/<cache dtype>: GFLOP/s of one prefill (counting a causal prefill
//    as 2 x 2 x q_heads x head_dim x S(S+1)/2 flops) against an FMA-throughput loop of the active
//    kernel set's vector width on as many threads, measured in the same benchmark just before
//    and after the timed calls (frac_cpu from CPU time, frac_real from wall time);
//  - Prefill rows of a quantized cache (Q8_0, Q4_0) also give time_x_f16: their time per call
//    over the f16 cache's row of the same tokens and threads in this process (issue 26's target
//    is <= 1.15);
//  - DecodeStep/<context>/<threads>/<cache dtype>: one token against a cache of `context` tokens
//    (read_GBps: a streaming read of the cache's bytes on as many threads):
//    cache bytes read per step / time, against a streaming read of as many bytes measured right
//    after the steps; read_frac = GBps / read_GBps (the read's time over the step's, issue 26's
//    ">= 0.70 of a streaming read"), speedup_f16 = the f16 cache's step time (same context and
//    threads, this process) over this row's, cpu_share = process CPU time / (threads x wall time)
//    (below 1 when another process took a core: a shared machine's 2-thread rows). Bytes are the
//    cache's own (arena size differences: per token and kv head f32 512, f16 256, q8_0 136,
//    q4_0 72 at 128 dims);
//  - DecodeStepKV/<context>/<threads>/<key dtype>/<value dtype>/<flags>: the same for a cache
//    built with rotor_kv_cache_config (types chosen apart, ROTOR_KV_UNROTATED_KEYS = 1);
//  - with --peak-memory, the resident memory of a prefill against the minimum it needs.
//
//   build/bench/rotor_bench_attention                 # the timings
//   build/bench/rotor_bench_attention --peak-memory   # the memory report (fresh process)
#include <benchmark/benchmark.h>
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bench_support.hpp"
#include "rooflines.hpp"
#include "rotor/rotor.h"
#include "support/aligned_buffer.hpp"

// The calls added after 1.0 that this program makes are weak references, so that it still loads
// against an older librotor.so.1 (the A/B runs with LD_LIBRARY_PATH, docs/performance.md): the
// rows that need them are skipped there (quantized and mixed caches), and the decode rows fill
// their cache again instead of evicting their steps.
#if defined(__ELF__)
#pragma weak rotor_kv_cache_arena_size_ex
#pragma weak rotor_kv_cache_init_ex
#pragma weak rotor_kv_cache_evict
#define ROTOR_BENCH_HAS(fn) (&fn != nullptr)
#else
#define ROTOR_BENCH_HAS(fn) true
#endif

namespace {

constexpr uint32_t kQHeads = 32, kKvHeads = 8, kDim = 128, kTokens = 512;

using test_support::aligned_buffer;
using test_support::AlignedBuffer;

void fill(float *p, size_t n, uint32_t seed) {
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = float(x >> 8) / float(1u << 24) * 2.0f - 1.0f;
  }
}

using bench::dtype_name;
using bench::kernel_vector_bits;

// How a cache stores keys and values (rotor_kv_cache_config: one type for both, or each its own,
// and the flags). Filled by hand rather than by rotor_kv_cache_config_init (a 1.3 call).
rotor_kv_cache_config cache_config(rotor_dtype key, rotor_dtype value, uint32_t flags) {
  rotor_kv_cache_config c;
  c.struct_size = sizeof c;
  c.key_dtype = key;
  c.value_dtype = value;
  c.flags = flags;
  return c;
}
rotor_kv_cache_config cache_config(rotor_dtype dtype) { return cache_config(dtype, dtype, 0); }

// What rotor_kv_cache_arena_size / rotor_kv_cache_init (1.0) can build: one unquantized type.
bool plain_config(const rotor_kv_cache_config &c) {
  return c.key_dtype == c.value_dtype && c.flags == 0 && c.key_dtype != ROTOR_DTYPE_Q8_0 &&
         c.key_dtype != ROTOR_DTYPE_Q4_0;
}

// Arena bytes of a cache of `tokens` tokens; 0 when the library cannot build it.
size_t arena_size(uint32_t tokens, const rotor_kv_cache_config &c) {
  if (plain_config(c)) return rotor_kv_cache_arena_size(kKvHeads, kDim, tokens, c.key_dtype);
  return ROTOR_BENCH_HAS(rotor_kv_cache_arena_size_ex) ? rotor_kv_cache_arena_size_ex(kKvHeads, kDim, tokens, &c) : 0;
}

// Bytes of keys and values one token adds to the cache: the difference of two arena sizes 4096
// tokens apart (whole 64-token key blocks, so the header and the rounding cancel), the real
// bytes of every type. At 8 kv heads and 128 dims: f32 8192, f16/bf16 4096, q8_0 2176
// (2 x 8 x 136), q4_0 1152 (2 x 8 x 72).
size_t cache_bytes_per_token(const rotor_kv_cache_config &c) {
  return (arena_size(8192, c) - arena_size(4096, c)) / 4096;
}

// "f16", or "k q8_0 v q4_0" when the types differ, then " unrotated" for ROTOR_KV_UNROTATED_KEYS.
std::string config_name(const rotor_kv_cache_config &c) {
  std::string name = dtype_name(c.key_dtype);
  if (c.value_dtype != c.key_dtype) name = "k " + name + " v " + dtype_name(c.value_dtype);
  return (c.flags & ROTOR_KV_UNROTATED_KEYS) != 0 ? name + " unrotated" : name;
}

// Everything one sequence of `tokens` tokens needs (q, k, v, out in f32; the cache stored as
// `config` says), allocated and written once. The workspace serves `threads` threads; the pool,
// when threads > 1, is the layer's own (the decode rows bring theirs).
struct Layer {
  uint32_t tokens;
  rotor_kv_cache_config config;
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  size_t cache_bytes, ws_bytes;
  AlignedBuffer q, k, v, out, cache_arena, workspace;
  rotor_kv_cache *cache = nullptr;

  Layer(uint32_t tokens_, uint32_t threads, rotor_dtype cache_dtype = ROTOR_DTYPE_F32)
      : Layer(tokens_, threads, cache_config(cache_dtype)) {}
  Layer(uint32_t tokens_, uint32_t threads, const rotor_kv_cache_config &config_, bool own_pool = true)
      : tokens(tokens_), config(config_),
        cache_bytes(arena_size(tokens, config)),
        ws_bytes(rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, tokens, threads)),
        q(aligned_buffer(q_bytes())), k(aligned_buffer(kv_bytes())), v(aligned_buffer(kv_bytes())),
        out(aligned_buffer(q_bytes())), cache_arena(aligned_buffer(cache_bytes > 0 ? cache_bytes : 64)),
        workspace(aligned_buffer(ws_bytes)) {
    rotor_config cfg;
    rotor_config_init(&cfg, kDim);
    cfg.max_len = tokens;
    cfg.initial_len = tokens;
    rotor_table_create(&table, &cfg);
    if (threads > 1 && own_pool) rotor_pool_create(&pool, threads);
    fill(reinterpret_cast<float *>(q.get()), q_bytes() / 4, 1);
    fill(reinterpret_cast<float *>(k.get()), kv_bytes() / 4, 2);
    fill(reinterpret_cast<float *>(v.get()), kv_bytes() / 4, 3);
    std::memset(out.get(), 0, q_bytes());
    std::memset(workspace.get(), 0, ws_bytes);
    if (plain_config(config))
      rotor_kv_cache_init(&cache, kKvHeads, kDim, tokens, config.key_dtype, cache_arena.get(), cache_bytes);
    else if (cache_bytes > 0)
      rotor_kv_cache_init_ex(&cache, kKvHeads, kDim, tokens, &config, cache_arena.get(), cache_bytes);
  }
  ~Layer() {
    rotor_pool_destroy(pool);
    rotor_table_destroy(table);
  }
  size_t q_bytes() const { return size_t{tokens} * kQHeads * kDim * 4; }
  size_t kv_bytes() const { return size_t{tokens} * kKvHeads * kDim * 4; }

  // Tokens [first, first + count) of the sequence in one call.
  rotor_status forward(uint32_t first, uint32_t count) { return forward(first, count, pool, kQHeads); }
  // The same on `with` (NULL: the calling thread) with q_heads query heads (the first q_heads of
  // each token's 32).
  rotor_status forward(uint32_t first, uint32_t count, rotor_pool *with, uint32_t q_heads) {
    float *qf = reinterpret_cast<float *>(q.get()) + size_t{first} * kQHeads * kDim;
    float *kf = reinterpret_cast<float *>(k.get()) + size_t{first} * kKvHeads * kDim;
    float *vf = reinterpret_cast<float *>(v.get()) + size_t{first} * kKvHeads * kDim;
    float *of = reinterpret_cast<float *>(out.get()) + size_t{first} * kQHeads * kDim;
    rotor_tensor tq = rotor_tensor_bshd(qf, ROTOR_DTYPE_F32, 1, count, kQHeads, kDim);
    rotor_tensor to = rotor_tensor_bshd(of, ROTOR_DTYPE_F32, 1, count, kQHeads, kDim);
    tq.heads = to.heads = q_heads;  // the same strides: a view of the first q_heads heads
    const rotor_tensor tk = rotor_tensor_bshd(kf, ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor tv = rotor_tensor_bshd(vf, ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    return rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 0.08838834764f, workspace.get(), ws_bytes, with);
  }
};

double process_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Seconds and calls of the f16 cache's rows so far in this process, by (tokens or context,
// threads): what the quantized caches' rows are compared with (time_x_f16, speedup_f16).
using RowKey = std::pair<uint32_t, uint32_t>;
std::map<RowKey, std::pair<double, double>> g_f16_prefill, g_f16_decode;

// Adds one repetition of an f16 row, or returns the f16 rows' mean time per call (0: none ran).
double f16_mean(std::map<RowKey, std::pair<double, double>> &rows, const RowKey &key, bool is_f16, double seconds,
                double calls) {
  std::pair<double, double> &row = rows[key];
  if (is_f16) {
    row.first += seconds;
    row.second += calls;
  }
  return row.second > 0 ? row.first / row.second : 0.0;
}

// Args: tokens, threads, cache dtype.
void BM_Prefill(benchmark::State &state) {
  const uint32_t tokens = uint32_t(state.range(0)), threads = uint32_t(state.range(1));
  Layer layer(tokens, threads, rotor_dtype(state.range(2)));
  const rotor_dtype dtype = layer.config.key_dtype;
  if (layer.cache == nullptr) {
    state.SkipWithError("this librotor has no such cache (before 1.3)");
    return;
  }
  const int bits = kernel_vector_bits();
  const double peak_before = bench::fma_peak_gflops(bits, int(threads));
  double cpu = 0.0, real = 0.0;
  for (auto _ : state) {
    rotor_kv_cache_reset(layer.cache);
    const double c0 = process_seconds();
    const auto r0 = std::chrono::steady_clock::now();
    if (layer.forward(0, tokens) != ROTOR_OK) state.SkipWithError("forward failed");
    real += std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    cpu += process_seconds() - c0;
  }
  const double peak = (peak_before + bench::fma_peak_gflops(bits, int(threads))) / 2;
  const double flops = 4.0 * kQHeads * kDim * double(tokens) * (double(tokens) + 1) / 2 * double(state.iterations());
  const double gflops_real = flops / real * 1e-9, gflops_cpu = flops / (cpu / threads) * 1e-9;
  state.counters["GFLOPs_real"] = gflops_real;
  state.counters["GFLOPs_cpu"] = gflops_cpu;
  state.counters["peak_GFLOPs"] = peak;
  state.counters["frac_real"] = peak > 0 ? gflops_real / peak : 0.0;
  state.counters["frac_cpu"] = peak > 0 ? gflops_cpu / peak : 0.0;
  const double calls = double(state.iterations());
  const double f16 = f16_mean(g_f16_prefill, {tokens, threads}, dtype == ROTOR_DTYPE_F16, real, calls);
  if (dtype == ROTOR_DTYPE_Q8_0 || dtype == ROTOR_DTYPE_Q4_0)
    state.counters["time_x_f16"] = f16 > 0 ? real / calls / f16 : 0.0;
  state.SetLabel(std::string(rotor_kernel_name()) + " cache " + dtype_name(dtype));
}

constexpr uint32_t kDecodeSteps = 64;

// The decode rows' layer, filled once and kept for the next rows of the same context and cache
// (other thread counts, repetitions): filling 32768 tokens is a long prefill. It is filled by
// one call with 8 query heads, one per kv head, which writes the same keys and values as the
// 32-head prefill (keys are rotated and stored whatever the queries) for a quarter of its
// flops. The steps then run with the 32 heads; each row appends kDecodeSteps tokens and evicts
// them again (the cache's tail: nothing moves), so every row starts from the same cache.
using DecodeKey = std::tuple<uint32_t, rotor_dtype, rotor_dtype, uint32_t>;
DecodeKey g_decode_key{};
std::unique_ptr<Layer> g_decode_layer;

Layer *decode_layer(uint32_t context, const rotor_kv_cache_config &config) {
  const DecodeKey key{context, config.key_dtype, config.value_dtype, config.flags};
  if (g_decode_layer != nullptr && g_decode_key == key && rotor_kv_cache_length(g_decode_layer->cache) == context)
    return g_decode_layer.get();
  g_decode_layer.reset();  // one filled layer at a time (a 32768-token f32 one holds 1.8 GiB)
  // The workspace serves 2 threads; no pool of its own (a row makes the one it times with).
  std::unique_ptr<Layer> layer(new Layer(context + kDecodeSteps, 2, config, false));
  if (layer->cache == nullptr) return nullptr;
  rotor_pool *fill_pool = nullptr;
  rotor_pool_create(&fill_pool, 2);
  const rotor_status st = layer->forward(0, context, fill_pool, kKvHeads);
  rotor_pool_destroy(fill_pool);
  if (st != ROTOR_OK) return nullptr;
  g_decode_layer = std::move(layer);
  g_decode_key = key;
  return g_decode_layer.get();
}

// One token against a cache of `context` tokens stored as `config` says; each iteration is one
// step (the cache grows by one).
void decode_step(benchmark::State &state, uint32_t context, uint32_t threads, const rotor_kv_cache_config &config) {
  Layer *layer = decode_layer(context, config);
  if (layer == nullptr) {
    state.SkipWithError("prefill failed, or this librotor has no such cache (before 1.3)");
    for (auto _ : state) {
    }
    return;
  }
  rotor_pool *pool = nullptr;
  if (threads > 1) rotor_pool_create(&pool, threads);
  uint32_t t = context;
  const double c0 = process_seconds();
  const auto r0 = std::chrono::steady_clock::now();
  for (auto _ : state)
    if (layer->forward(t++, 1, pool, kQHeads) != ROTOR_OK) state.SkipWithError("forward failed");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
  const double cpu = process_seconds() - c0;
  // Without rotor_kv_cache_evict (an older librotor) the next row fills the cache again.
  if (ROTOR_BENCH_HAS(rotor_kv_cache_evict) &&
      rotor_kv_cache_evict(layer->table, layer->cache, context, t - context, pool) != ROTOR_OK)
    state.SkipWithError("evict failed");
  rotor_pool_destroy(pool);
  // Bytes of keys and values a step reads (the mean cache length of the steps), the cache's own.
  const double token_bytes = double(cache_bytes_per_token(config));
  const double per_step = token_bytes * (context + kDecodeSteps / 2.0);
  const size_t read_bytes = size_t(token_bytes) * context;
  const AlignedBuffer buffer = aligned_buffer(read_bytes);
  std::memset(buffer.get(), 1, read_bytes);
  const void *range = buffer.get();
  const double read = bench::read_seconds(&range, 1, read_bytes, 5, int(threads));
  const double steps = double(state.iterations()), gbps = per_step * steps / seconds;
  const double read_gbps = double(read_bytes) / read;
  state.counters["GBps"] = benchmark::Counter(per_step, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["read_GBps"] = read_gbps;
  state.counters["read_frac"] = gbps / read_gbps;
  // The process's CPU time over threads x wall time: near 1 when every thread had a core for the
  // whole step (the pool's threads wait spinning), lower when other processes took one.
  state.counters["cpu_share"] = cpu / (double(threads) * seconds);
  const bool is_f16 = config.key_dtype == ROTOR_DTYPE_F16 && config.value_dtype == ROTOR_DTYPE_F16 && config.flags == 0;
  const double f16 = f16_mean(g_f16_decode, {context, threads}, is_f16, seconds, steps);
  if (f16 > 0) state.counters["speedup_f16"] = f16 / (seconds / steps);
  state.SetLabel(std::string(rotor_kernel_name()) + " cache " + config_name(config));
}

// Args: cached tokens, threads, cache dtype (keys and values).
void BM_DecodeStep(benchmark::State &state) {
  decode_step(state, uint32_t(state.range(0)), uint32_t(state.range(1)), cache_config(rotor_dtype(state.range(2))));
}

// Args: cached tokens, threads, key dtype, value dtype, flags (rotor_kv_cache_config).
void BM_DecodeStepKV(benchmark::State &state) {
  decode_step(state, uint32_t(state.range(0)), uint32_t(state.range(1)),
              cache_config(rotor_dtype(state.range(2)), rotor_dtype(state.range(3)), uint32_t(state.range(4))));
}

void BM_AttentionPrefill512(benchmark::State &state) {
  Layer layer(kTokens, uint32_t(state.range(0)));
  for (auto _ : state) {
    rotor_kv_cache_reset(layer.cache);
    if (layer.forward(0, kTokens) != ROTOR_OK) state.SkipWithError("forward failed");
  }
  state.SetLabel(rotor_kernel_name());
  // Seconds per token (printed with an SI prefix: "700u" is 700 us).
  state.counters["per_token"] =
      benchmark::Counter(kTokens, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_AttentionDecode512(benchmark::State &state) {
  Layer layer(kTokens, uint32_t(state.range(0)));
  for (auto _ : state) {
    rotor_kv_cache_reset(layer.cache);
    for (uint32_t t = 0; t < kTokens; ++t)
      if (layer.forward(t, 1) != ROTOR_OK) state.SkipWithError("forward failed");
  }
  state.SetLabel(rotor_kernel_name());
  // Seconds per token (printed with an SI prefix: "700u" is 700 us).
  state.counters["per_token"] =
      benchmark::Counter(kTokens, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_AttentionPrefill512)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AttentionDecode512)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void prefill_args(benchmark::internal::Benchmark *b) {
  for (int64_t threads : {1, 2}) {
    for (int64_t tokens : {512, 2048})
      for (int64_t dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0})
        b->Args({tokens, threads, dtype});
  }
}
BENCHMARK(BM_Prefill)->Apply(prefill_args)->Unit(benchmark::kMillisecond)->UseRealTime();
// 8192 tokens: one call is 1.1 T flops (several seconds on one core).
BENCHMARK(BM_Prefill)->Args({8192, 1, ROTOR_DTYPE_F32})->Args({8192, 2, ROTOR_DTYPE_F32})->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
// Rows of one context and cache follow each other (decode_layer fills each once); f16 before the
// quantized types (speedup_f16).
BENCHMARK(BM_DecodeStep)
    ->Args({2048, 1, ROTOR_DTYPE_F32})->Args({2048, 2, ROTOR_DTYPE_F32})->Args({8192, 1, ROTOR_DTYPE_F32})
    ->Args({8192, 2, ROTOR_DTYPE_F32})->Args({8192, 1, ROTOR_DTYPE_F16})->Args({8192, 2, ROTOR_DTYPE_F16})
    ->Args({8192, 1, ROTOR_DTYPE_BF16})
    ->Args({8192, 1, ROTOR_DTYPE_Q8_0})->Args({8192, 2, ROTOR_DTYPE_Q8_0})
    ->Args({8192, 1, ROTOR_DTYPE_Q4_0})->Args({8192, 2, ROTOR_DTYPE_Q4_0})
    ->Iterations(kDecodeSteps)->Unit(benchmark::kMicrosecond)->UseRealTime();
// Issue 26's other caches at 8192 tokens: q8_0 keys stored un-rotated (rotated at read), and
// q8_0 keys with q4_0 values.
BENCHMARK(BM_DecodeStepKV)
    ->Args({8192, 1, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS})
    ->Args({8192, 2, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q8_0, ROTOR_KV_UNROTATED_KEYS})
    ->Args({8192, 1, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0, 0})->Args({8192, 2, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0, 0})
    ->Iterations(kDecodeSteps)->Unit(benchmark::kMicrosecond)->UseRealTime();
// The longest context of issue 16: filling 32768 tokens is a 2.2 TFLOP prefill with 8 query
// heads (decode_layer; several seconds a cache on two threads of the build machine), so run
// these rows on their own (--benchmark_filter=BM_DecodeStep/32768).
BENCHMARK(BM_DecodeStep)
    ->Args({32768, 2, ROTOR_DTYPE_F32})->Args({32768, 2, ROTOR_DTYPE_F16})->Args({32768, 1, ROTOR_DTYPE_F16})
    ->Args({32768, 1, ROTOR_DTYPE_Q8_0})->Args({32768, 2, ROTOR_DTYPE_Q8_0})
    ->Args({32768, 1, ROTOR_DTYPE_Q4_0})->Args({32768, 2, ROTOR_DTYPE_Q4_0})
    ->Iterations(kDecodeSteps)->Unit(benchmark::kMicrosecond)->UseRealTime();

// kB of a "VmRSS:"-style line of /proc/self/status.
long status_kb(const char *key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.compare(0, std::strlen(key), key) == 0) return std::atol(line.c_str() + std::strlen(key));
  return -1;
}

// Resident memory that a 512-token prefill adds to the process, against the bytes it cannot do
// without: q, k, v, out, the cache at 512 tokens, the workspace and the table's rows.
int peak_memory_report(uint32_t threads) {
  const long baseline_kb = status_kb("VmRSS:");
  long peak_kb;
  size_t minimum;
  {
    Layer layer(kTokens, threads);
    if (layer.forward(0, kTokens) != ROTOR_OK) return std::fprintf(stderr, "forward failed\n"), 1;
    peak_kb = status_kb("VmHWM:");
    rotor_table_stats stats{};
    stats.struct_size = sizeof stats;
    rotor_table_stats_get(layer.table, &stats);
    minimum = 2 * layer.q_bytes() + 2 * layer.kv_bytes() + layer.cache_bytes + layer.ws_bytes + stats.bytes_in_use;
    std::printf("prefill of %u tokens (32 q heads, 8 kv heads, 128 dims, f32), %u thread(s):\n", kTokens, threads);
    std::printf("  q+k+v+out %zu B, cache %zu B, workspace %zu B, table %llu B: minimum %zu B\n",
                2 * layer.q_bytes() + 2 * layer.kv_bytes(), layer.cache_bytes, layer.ws_bytes,
                (unsigned long long)stats.bytes_in_use, minimum);
  }
  const double grown = double(peak_kb - baseline_kb) * 1024.0;
  std::printf("  resident growth to the peak: %.0f B = %.3f x the minimum\n", grown, grown / double(minimum));
  return 0;
}

}  // namespace

int main(int argc, char **argv) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], "--peak-memory") == 0) return peak_memory_report(2);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
