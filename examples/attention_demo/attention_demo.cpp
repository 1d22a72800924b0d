// One attention layer of a Llama-3-8B-shaped model (32 q heads, 8 kv heads, 128 dims) through
// rotor: a 2048-token prompt in one prefill call, then 64 decode steps through the same call,
// with the time per token of each path. The last decode step is checked against attention
// recomputed here in double precision from the raw (unrotated) prompt and steps.
//
// Usage: rotor_attention_demo [prompt_tokens] [decode_steps]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <thread>
#include <vector>

#include "rotor/rotor.h"

namespace {

constexpr uint32_t kQHeads = 32, kKvHeads = 8, kDim = 128;
constexpr double kBase = 500000.0;

void *aligned(size_t bytes) {
  return std::aligned_alloc(ROTOR_ARENA_ALIGNMENT, (bytes + ROTOR_ARENA_ALIGNMENT - 1) / ROTOR_ARENA_ALIGNMENT *
                                                       ROTOR_ARENA_ALIGNMENT);
}

bool check(rotor_status s, const char *what) {
  if (s == ROTOR_OK) return true;
  std::fprintf(stderr, "%s: %s\n", what, rotor_status_string(s));
  return false;
}

// Rotates one head in double (half pairing, Llama).
void rotate(double *head, double position) {
  for (uint32_t i = 0; i < kDim / 2; ++i) {
    const double angle = position * std::pow(kBase, -2.0 * i / kDim);
    const double a = head[i], b = head[i + kDim / 2];
    head[i] = a * std::cos(angle) - b * std::sin(angle);
    head[i + kDim / 2] = b * std::cos(angle) + a * std::sin(angle);
  }
}

// Attention of one query token at `position` over keys/values [0, position] (raw, [t][kv][d]).
std::vector<double> recompute(const float *q, uint32_t position, const std::vector<float> &keys,
                              const std::vector<float> &values, double scale) {
  std::vector<double> out(size_t{kQHeads} * kDim, 0.0), query(kDim), key(kDim), scores(position + 1);
  for (uint32_t h = 0; h < kQHeads; ++h) {
    const uint32_t kv = h / (kQHeads / kKvHeads);
    std::copy_n(q + size_t{h} * kDim, kDim, query.begin());
    rotate(query.data(), position);
    double top = -INFINITY, sum = 0;
    for (uint32_t j = 0; j <= position; ++j) {
      std::copy_n(&keys[(size_t{j} * kKvHeads + kv) * kDim], kDim, key.begin());
      rotate(key.data(), j);
      double dot = 0;
      for (uint32_t x = 0; x < kDim; ++x) dot += query[x] * key[x];
      top = std::max(top, scores[j] = dot * scale);
    }
    for (double &s : scores) sum += (s = std::exp(s - top));
    for (uint32_t j = 0; j <= position; ++j)
      for (uint32_t x = 0; x < kDim; ++x)
        out[size_t{h} * kDim + x] += scores[j] / sum * values[(size_t{j} * kKvHeads + kv) * kDim + x];
  }
  return out;
}

}  // namespace

int main(int argc, char **argv) {
  const uint32_t prompt = argc > 1 ? uint32_t(std::atoi(argv[1])) : 2048;
  const uint32_t steps = argc > 2 ? uint32_t(std::atoi(argv[2])) : 64;
  if (prompt == 0 || steps == 0) return std::fprintf(stderr, "usage: %s [prompt_tokens>0] [decode_steps>0]\n", argv[0]), 2;
  const uint32_t total = prompt + steps;
  const uint32_t threads = std::max(1u, std::min(256u, std::thread::hardware_concurrency()));
  rotor_config cfg;
  rotor_config_init(&cfg, kDim);
  cfg.base = kBase;
  cfg.max_len = 8192;
  // The softmax scale the config implies (1/sqrt(d) here; DeepSeek-style YaRN adds m^2).
  float scale = 0.0f;
  if (!check(rotor_attention_scale(&cfg, kDim, &scale), "attention scale")) return 1;
  rotor_table *table = nullptr;
  rotor_pool *pool = nullptr;
  if (!check(rotor_table_create(&table, &cfg), "table") || !check(rotor_pool_create(&pool, threads), "pool")) return 1;

  // All memory up front: cache arena and workspace for the prefill (decode needs less).
  const size_t cache_bytes = rotor_kv_cache_arena_size(kKvHeads, kDim, total, ROTOR_DTYPE_F32);
  const size_t ws_bytes = rotor_attention_workspace_size(kQHeads, kKvHeads, kDim, prompt, threads);
  void *cache_arena = aligned(cache_bytes), *workspace = aligned(ws_bytes);
  rotor_kv_cache *cache = nullptr;
  if (!check(rotor_kv_cache_init(&cache, kKvHeads, kDim, total, ROTOR_DTYPE_F32, cache_arena, cache_bytes), "cache"))
    return 1;

  // Random projections standing in for the model's q, k, v of every token.
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> q(size_t{total} * kQHeads * kDim), k(size_t{total} * kKvHeads * kDim), v(k.size());
  for (float &x : q) x = 2.0f * dist(rng);
  for (float &x : k) x = dist(rng);
  for (float &x : v) x = dist(rng);
  std::vector<float> out(size_t{prompt} * kQHeads * kDim);

  using clock = std::chrono::steady_clock;
  const rotor_tensor tq = rotor_tensor_bshd(q.data(), ROTOR_DTYPE_F32, 1, prompt, kQHeads, kDim);
  const rotor_tensor tk = rotor_tensor_bshd(k.data(), ROTOR_DTYPE_F32, 1, prompt, kKvHeads, kDim);
  const rotor_tensor tv = rotor_tensor_bshd(v.data(), ROTOR_DTYPE_F32, 1, prompt, kKvHeads, kDim);
  const rotor_tensor to = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, prompt, kQHeads, kDim);
  const auto t0 = clock::now();
  if (!check(rotor_attention_forward(table, &cache, &tq, &tk, &tv, &to, scale, workspace, ws_bytes, pool), "prefill"))
    return 1;
  const double prefill_s = std::chrono::duration<double>(clock::now() - t0).count();

  const auto t1 = clock::now();
  for (uint32_t i = 0; i < steps; ++i) {
    const uint32_t token = prompt + i;
    const rotor_tensor dq = rotor_tensor_bshd(&q[size_t{token} * kQHeads * kDim], ROTOR_DTYPE_F32, 1, 1, kQHeads, kDim);
    const rotor_tensor dk = rotor_tensor_bshd(&k[size_t{token} * kKvHeads * kDim], ROTOR_DTYPE_F32, 1, 1, kKvHeads, kDim);
    const rotor_tensor dv = rotor_tensor_bshd(&v[size_t{token} * kKvHeads * kDim], ROTOR_DTYPE_F32, 1, 1, kKvHeads, kDim);
    const rotor_tensor dout = rotor_tensor_bshd(out.data(), ROTOR_DTYPE_F32, 1, 1, kQHeads, kDim);
    if (!check(rotor_attention_forward(table, &cache, &dq, &dk, &dv, &dout, scale, workspace, ws_bytes, pool), "decode"))
      return 1;
  }
  const double decode_s = std::chrono::duration<double>(clock::now() - t1).count();

  // out[0 .. q_heads * d) holds the last decode step: token total - 1.
  const std::vector<double> want = recompute(&q[size_t{total - 1} * kQHeads * kDim], total - 1, k, v, scale);
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i) worst = std::max(worst, std::fabs(double(out[i]) - want[i]));

  std::printf("rotor attention demo: %u q heads, %u kv heads, %u dims, f32 cache, %u threads, kernels \"%s\"\n",
              kQHeads, kKvHeads, kDim, threads, rotor_kernel_name());
  std::printf("  prefill %5u tokens: %9.3f ms  (%8.1f us/token)\n", prompt, prefill_s * 1e3, prefill_s * 1e6 / prompt);
  std::printf("  decode  %5u steps : %9.3f ms  (%8.1f us/token, cache %u -> %u)\n", steps, decode_s * 1e3,
              decode_s * 1e6 / steps, prompt, rotor_kv_cache_length(cache));
  std::printf("  last decode step vs double recomputation: max |diff| = %.3g %s\n", worst, worst < 1e-4 ? "(ok)" : "(FAIL)");

  rotor_pool_destroy(pool);
  rotor_table_destroy(table);
  std::free(cache_arena);
  std::free(workspace);
  return worst < 1e-4 ? 0 : 1;
}
