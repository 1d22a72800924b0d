// rotor_attention_forward (32 q heads, 8 kv heads, 128 dims, causal):
//  - Prefill512 / Decode512: a 512-token prefill against 512 decode steps through the same call
//    (f32, 1 and 2 threads);
//  - Prefill/<tokens>/<threads>/<cache dtype>: GFLOP/s of one prefill (counting a causal prefill
//    as 2 x 2 x q_heads x head_dim x S(S+1)/2 flops) against an FMA-throughput loop of the active
//    kernel set's vector width on as many threads, measured in the same benchmark just before
//    and after the timed calls (frac_cpu from CPU time, frac_real from wall time);
//  - DecodeStep/<context>/<threads>/<cache dtype>: one token against a cache of `context` tokens
//    (read_GBps: a streaming read of the cache's bytes on as many threads):
//    cache bytes read per step / time, against a streaming read of as many bytes measured right
//    after the steps;
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
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "rooflines.hpp"
#include "rotor/rotor.h"
#include "support/aligned_buffer.hpp"

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

using bench::dtype_bytes;
using bench::dtype_name;
using bench::kernel_vector_bits;

// Everything one sequence of `tokens` tokens needs (q, k, v, out in f32; the cache in
// `cache_dtype`), allocated and written once.
struct Layer {
  uint32_t tokens;
  rotor_dtype cache_dtype;
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  size_t cache_bytes, ws_bytes;
  AlignedBuffer q, k, v, out, cache_arena, workspace;
  rotor_kv_cache *cache = nullptr;

  Layer(uint32_t tokens_, uint32_t threads, rotor_dtype cache_dtype_ = ROTOR_DTYPE_F32)
      : tokens(tokens_), cache_dtype(cache_dtype_),
        cache_bytes(rotor_kv_cache_arena_size(kKvHeads, kDim, tokens, cache_dtype)),
        ws_bytes(rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, tokens, threads)),
        q(aligned_buffer(q_bytes())), k(aligned_buffer(kv_bytes())), v(aligned_buffer(kv_bytes())),
        out(aligned_buffer(q_bytes())), cache_arena(aligned_buffer(cache_bytes)), workspace(aligned_buffer(ws_bytes)) {
    rotor_config cfg;
    rotor_config_init(&cfg, kDim);
    cfg.max_len = tokens;
    cfg.initial_len = tokens;
    rotor_table_create(&table, &cfg);
    if (threads > 1) rotor_pool_create(&pool, threads);
    fill(reinterpret_cast<float *>(q.get()), q_bytes() / 4, 1);
    fill(reinterpret_cast<float *>(k.get()), kv_bytes() / 4, 2);
    fill(reinterpret_cast<float *>(v.get()), kv_bytes() / 4, 3);
    std::memset(out.get(), 0, q_bytes());
    std::memset(workspace.get(), 0, ws_bytes);
    rotor_kv_cache_init(&cache, kKvHeads, kDim, tokens, cache_dtype, cache_arena.get(), cache_bytes);
  }
  ~Layer() {
    rotor_pool_destroy(pool);
    rotor_table_destroy(table);
  }
  size_t q_bytes() const { return size_t{tokens} * kQHeads * kDim * 4; }
  size_t kv_bytes() const { return size_t{tokens} * kKvHeads * kDim * 4; }

  // Tokens [first, first + count) of the sequence in one call.
  rotor_status forward(uint32_t first, uint32_t count) {
    float *qf = reinterpret_cast<float *>(q.get()) + size_t{first} * kQHeads * kDim;
    float *kf = reinterpret_cast<float *>(k.get()) + size_t{first} * kKvHeads * kDim;
    float *vf = reinterpret_cast<float *>(v.get()) + size_t{first} * kKvHeads * kDim;
    float *of = reinterpret_cast<float *>(out.get()) + size_t{first} * kQHeads * kDim;
    const rotor_tensor tq = rotor_tensor_bshd(qf, ROTOR_DTYPE_F32, 1, count, kQHeads, kDim);
    const rotor_tensor tk = rotor_tensor_bshd(kf, ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor tv = rotor_tensor_bshd(vf, ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor to = rotor_tensor_bshd(of, ROTOR_DTYPE_F32, 1, count, kQHeads, kDim);
    return rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 0.08838834764f, workspace.get(), ws_bytes, pool);
  }
};

double process_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return double(t.tv_sec) + 1e-9 * double(t.tv_nsec);
}

// Args: tokens, threads, cache dtype.
void BM_Prefill(benchmark::State &state) {
  const uint32_t tokens = uint32_t(state.range(0)), threads = uint32_t(state.range(1));
  Layer layer(tokens, threads, rotor_dtype(state.range(2)));
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
  state.SetLabel(std::string(rotor_kernel_name()) + " cache " + dtype_name(layer.cache_dtype));
}

constexpr uint32_t kDecodeSteps = 64;

// Args: cached tokens, threads, cache dtype. Each iteration is one step (the cache grows by one).
void BM_DecodeStep(benchmark::State &state) {
  const uint32_t context = uint32_t(state.range(0)), threads = uint32_t(state.range(1));
  Layer layer(context + kDecodeSteps, threads, rotor_dtype(state.range(2)));
  if (layer.forward(0, context) != ROTOR_OK) state.SkipWithError("prefill failed");
  uint32_t t = context;
  for (auto _ : state)
    if (layer.forward(t++, 1) != ROTOR_OK) state.SkipWithError("forward failed");
  // Bytes of keys and values a step reads (the mean cache length of the steps).
  const double per_step = 2.0 * kKvHeads * kDim * double(dtype_bytes(layer.cache_dtype)) * (context + kDecodeSteps / 2.0);
  const size_t read_bytes = size_t(2) * kKvHeads * kDim * dtype_bytes(layer.cache_dtype) * context;
  const AlignedBuffer buffer = aligned_buffer(read_bytes);
  std::memset(buffer.get(), 1, read_bytes);
  const void *range = buffer.get();
  const double read = bench::read_seconds(&range, 1, read_bytes, 5, int(threads));
  state.counters["GBps"] = benchmark::Counter(per_step, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["read_GBps"] = double(read_bytes) / read;
  state.SetLabel(std::string(rotor_kernel_name()) + " cache " + dtype_name(layer.cache_dtype));
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
      for (int64_t dtype : {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) b->Args({tokens, threads, dtype});
  }
}
BENCHMARK(BM_Prefill)->Apply(prefill_args)->Unit(benchmark::kMillisecond)->UseRealTime();
// 8192 tokens: one call is 1.1 T flops (several seconds on one core).
BENCHMARK(BM_Prefill)->Args({8192, 1, ROTOR_DTYPE_F32})->Args({8192, 2, ROTOR_DTYPE_F32})->Iterations(1)
    ->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_DecodeStep)
    ->Args({2048, 1, ROTOR_DTYPE_F32})->Args({2048, 2, ROTOR_DTYPE_F32})->Args({8192, 1, ROTOR_DTYPE_F32})
    ->Args({8192, 2, ROTOR_DTYPE_F32})->Args({8192, 1, ROTOR_DTYPE_F16})->Args({8192, 1, ROTOR_DTYPE_BF16})
    ->Iterations(kDecodeSteps)->Unit(benchmark::kMicrosecond)->UseRealTime();
// The longest context of issue 16, on both threads: filling 32768 tokens is a 8.8 TFLOP prefill
// (about 40 s on two threads of the build machine), so run these rows on their own
// (--benchmark_filter=BM_DecodeStep/32768).
BENCHMARK(BM_DecodeStep)
    ->Args({32768, 2, ROTOR_DTYPE_F32})->Args({32768, 2, ROTOR_DTYPE_F16})
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
