// rotor_attention_forward: a 512-token prefill against 512 decode steps through the same call
// (32 q heads, 8 kv heads, 128 dims, f32, 1 and 2 threads), and, with --peak-memory, the
// resident memory of a prefill against the minimum it needs.
//
//   build/bench/rotor_bench_attention                 # the timings
//   build/bench/rotor_bench_attention --peak-memory   # the memory report (fresh process)
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "rotor/rotor.h"

namespace {

constexpr uint32_t kQHeads = 32, kKvHeads = 8, kDim = 128, kTokens = 512;

struct Aligned {
  void *p = nullptr;
  explicit Aligned(size_t bytes) : p(std::aligned_alloc(64, (bytes + 63) / 64 * 64)) {}
  ~Aligned() { std::free(p); }
  Aligned(const Aligned &) = delete;
  Aligned &operator=(const Aligned &) = delete;
};

void fill(float *p, size_t n, uint32_t seed) {
  uint32_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    p[i] = float(x >> 8) / float(1u << 24) * 2.0f - 1.0f;
  }
}

// Everything one sequence of kTokens needs, allocated and written once.
struct Layer {
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  size_t cache_bytes, ws_bytes;
  Aligned q, k, v, out, cache_arena, workspace;
  rotor_kv_cache *cache = nullptr;

  explicit Layer(uint32_t threads)
      : cache_bytes(rotor_kv_cache_arena_size(kKvHeads, kDim, kTokens, ROTOR_DTYPE_F32)),
        ws_bytes(rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, kTokens, threads)),
        q(q_bytes()), k(kv_bytes()), v(kv_bytes()), out(q_bytes()), cache_arena(cache_bytes), workspace(ws_bytes) {
    rotor_config cfg;
    rotor_config_init(&cfg, kDim);
    cfg.max_len = kTokens;
    cfg.initial_len = kTokens;
    rotor_table_create(&table, &cfg);
    if (threads > 1) rotor_pool_create(&pool, threads);
    fill(static_cast<float *>(q.p), q_bytes() / 4, 1);
    fill(static_cast<float *>(k.p), kv_bytes() / 4, 2);
    fill(static_cast<float *>(v.p), kv_bytes() / 4, 3);
    std::memset(out.p, 0, q_bytes());
    std::memset(workspace.p, 0, ws_bytes);
    rotor_kv_cache_init(&cache, kKvHeads, kDim, kTokens, ROTOR_DTYPE_F32, cache_arena.p, cache_bytes);
  }
  ~Layer() {
    rotor_pool_destroy(pool);
    rotor_table_destroy(table);
  }
  static size_t q_bytes() { return size_t{kTokens} * kQHeads * kDim * 4; }
  static size_t kv_bytes() { return size_t{kTokens} * kKvHeads * kDim * 4; }

  // Tokens [first, first + count) of the sequence in one call.
  rotor_status forward(uint32_t first, uint32_t count) {
    float *qf = static_cast<float *>(q.p) + size_t{first} * kQHeads * kDim;
    float *kf = static_cast<float *>(k.p) + size_t{first} * kKvHeads * kDim;
    float *vf = static_cast<float *>(v.p) + size_t{first} * kKvHeads * kDim;
    float *of = static_cast<float *>(out.p) + size_t{first} * kQHeads * kDim;
    const rotor_tensor tq = rotor_tensor_bshd(qf, ROTOR_DTYPE_F32, 1, count, kQHeads, kDim);
    const rotor_tensor tk = rotor_tensor_bshd(kf, ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor tv = rotor_tensor_bshd(vf, ROTOR_DTYPE_F32, 1, count, kKvHeads, kDim);
    const rotor_tensor to = rotor_tensor_bshd(of, ROTOR_DTYPE_F32, 1, count, kQHeads, kDim);
    return rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, 0.08838834764f, workspace.p, ws_bytes, pool);
  }
};

void BM_AttentionPrefill512(benchmark::State &state) {
  Layer layer(uint32_t(state.range(0)));
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
  Layer layer(uint32_t(state.range(0)));
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
    Layer layer(threads);
    if (layer.forward(0, kTokens) != ROTOR_OK) return std::fprintf(stderr, "forward failed\n"), 1;
    peak_kb = status_kb("VmHWM:");
    rotor_table_stats stats{};
    stats.struct_size = sizeof stats;
    rotor_table_stats_get(layer.table, &stats);
    minimum = 2 * Layer::q_bytes() + 2 * Layer::kv_bytes() + layer.cache_bytes + layer.ws_bytes + stats.bytes_in_use;
    std::printf("prefill of %u tokens (32 q heads, 8 kv heads, 128 dims, f32), %u thread(s):\n", kTokens, threads);
    std::printf("  q+k+v+out %zu B, cache %zu B, workspace %zu B, table %llu B: minimum %zu B\n",
                2 * Layer::q_bytes() + 2 * Layer::kv_bytes(), layer.cache_bytes, layer.ws_bytes,
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
