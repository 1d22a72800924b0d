#include "prefill_pairs.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "rooflines.hpp"

namespace bench {
namespace {

struct FreeAligned {
  void operator()(void *p) const { std::free(p); }
};
using Buffer = std::unique_ptr<void, FreeAligned>;

Buffer aligned_buffer(size_t bytes) {
  void *p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (p == nullptr) {
    std::fprintf(stderr, "rotor_compare: out of memory\n");
    std::exit(2);
  }
  return Buffer(p);
}

// One library's table, cache, workspace, pool and output, set up once; `capacity` tokens.
class Prefill {
 public:
  Prefill(const RotorApi &api, const AttentionApi &attention, const PrefillShape &shape, uint32_t capacity)
      : api_(api), attention_(attention), shape_(shape) {
    rotor_config cfg = {};  // the 1.0 init writes only the 1.0 fields
    api.config_init(&cfg, shape.head_dim);
    cfg.max_len = capacity;
    const uint32_t d = shape.head_dim, len = capacity;
    ok_ = api.table_create(&table_, &cfg) == ROTOR_OK;
    const size_t arena_bytes = attention.kv_cache_arena_size(shape.kv_heads, d, len, ROTOR_DTYPE_F32);
    arena_ = aligned_buffer(arena_bytes);
    ok_ = ok_ && attention.kv_cache_init(&cache_, shape.kv_heads, d, len, ROTOR_DTYPE_F32, arena_.get(), arena_bytes) == ROTOR_OK;
    if (shape.threads > 1) ok_ = ok_ && api.pool_create(&pool_, shape.threads) == ROTOR_OK;
    const uint32_t most_tokens = shape.tokens > shape.cached ? shape.tokens : shape.cached;
    workspace_bytes_ = attention.attention_workspace_size(shape.q_heads, shape.kv_heads, d, most_tokens, shape.threads);
    workspace_ = aligned_buffer(workspace_bytes_);
    out_ = aligned_buffer(size_t{most_tokens} * shape.q_heads * d * sizeof(float));
  }
  ~Prefill() {
    if (pool_ != nullptr) api_.pool_destroy(pool_);
    if (table_ != nullptr) api_.table_destroy(table_);
  }
  Prefill(const Prefill &) = delete;
  Prefill &operator=(const Prefill &) = delete;

  bool ok() const { return ok_; }
  const void *output() const { return out_.get(); }

  // Seconds of one call of `tokens` tokens (the cache emptied first unless `append`); < 0 when
  // the call fails.
  double run(void *q, void *k, void *v, uint32_t tokens, bool append) {
    const PrefillShape &s = shape_;
    const rotor_tensor tq = api_.tensor_bshd(q, ROTOR_DTYPE_F32, 1, tokens, s.q_heads, s.head_dim);
    const rotor_tensor tk = api_.tensor_bshd(k, ROTOR_DTYPE_F32, 1, tokens, s.kv_heads, s.head_dim);
    const rotor_tensor tv = api_.tensor_bshd(v, ROTOR_DTYPE_F32, 1, tokens, s.kv_heads, s.head_dim);
    const rotor_tensor to = api_.tensor_bshd(out_.get(), ROTOR_DTYPE_F32, 1, tokens, s.q_heads, s.head_dim);
    if (!append) attention_.kv_cache_reset(cache_);
    const auto start = std::chrono::steady_clock::now();
    const rotor_status status = attention_.attention_forward(table_, &cache_, &tq, &tk, &tv, &to, 0.088f,
                                                             workspace_.get(), workspace_bytes_, pool_);
    const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    return status == ROTOR_OK ? took.count() : -1.0;
  }

 private:
  const RotorApi &api_;
  const AttentionApi &attention_;
  PrefillShape shape_;
  bool ok_ = false;
  rotor_table *table_ = nullptr;
  rotor_kv_cache *cache_ = nullptr;
  rotor_pool *pool_ = nullptr;
  Buffer arena_, workspace_, out_;
  size_t workspace_bytes_ = 0;
};

// The value at fraction f of the sorted values (nearest rank).
double at_fraction(std::vector<double> v, double f) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, size_t(f * double(v.size() - 1) + 0.5))];
}

// Seconds as milliseconds from 1 ms on, else microseconds.
std::string time_text(double seconds) {
  char text[32];
  if (seconds >= 1e-3) std::snprintf(text, sizeof text, "%.3f ms", seconds * 1e3);
  else std::snprintf(text, sizeof text, "%.1f us", seconds * 1e6);
  return text;
}

}  // namespace

bool parse_prefill_shape(const char *text, bool decode, PrefillShape *shape) {
  unsigned t = 0, qh = 0, kvh = 0, d = 0, threads = 1;
  char tail = 0;
  const int n = std::sscanf(text, "%ux%ux%ux%ux%u%c", &t, &qh, &kvh, &d, &threads, &tail);
  if ((n != 4 && n != 5) || t == 0 || qh == 0 || kvh == 0 || d == 0 || threads == 0 || qh % kvh != 0) return false;
  *shape = decode ? PrefillShape{1, qh, kvh, d, threads, t} : PrefillShape{t, qh, kvh, d, threads, 0};
  return true;
}

int run_prefill_pairs(const RotorApi api[2], const AttentionApi attention[2], const char *const label[2],
                      const PrefillShape &shape, int pairs) {
  constexpr int kWarmup = 4;
  const bool decode = shape.cached > 0;
  // Inputs for the prefill (or the decode steps' cached tokens); a step reads the first token's.
  const uint32_t input_tokens = decode ? shape.cached : shape.tokens;
  const uint32_t capacity = decode ? shape.cached + uint32_t(pairs) + kWarmup : shape.tokens;
  const size_t q_count = size_t{input_tokens} * shape.q_heads * shape.head_dim;
  const size_t kv_count = size_t{input_tokens} * shape.kv_heads * shape.head_dim;
  Buffer q = aligned_buffer(q_count * sizeof(float)), k = aligned_buffer(kv_count * sizeof(float)),
         v = aligned_buffer(kv_count * sizeof(float));
  uint32_t state = 1;
  for (auto [buffer, count] : {std::pair{&q, q_count}, {&k, kv_count}, {&v, kv_count}}) {
    float *x = static_cast<float *>(buffer->get());
    for (size_t i = 0; i < count; ++i) {
      state = state * 1103515245u + 12345u;
      x[i] = float(state >> 8 & 0xffff) / 65536.0f - 0.5f;
    }
  }
  Prefill lib0(api[0], attention[0], shape, capacity), lib1(api[1], attention[1], shape, capacity);
  Prefill *lib[2] = {&lib0, &lib1};
  const bool ready = lib0.ok() && lib1.ok() &&
                     (!decode || (lib0.run(q.get(), k.get(), v.get(), shape.cached, false) >= 0 &&
                                  lib1.run(q.get(), k.get(), v.get(), shape.cached, false) >= 0));
  if (!ready) {
    std::fprintf(stderr, "rotor_compare: setting up the prefill failed\n");
    return 1;
  }
  const int vector_bits = vector_bits_of(api[0].kernel_name());
  const double peak_before = fma_peak_gflops(vector_bits, int(shape.threads));
  // The FMA loop also runs inside every pair, between its two calls: the machine's speed then,
  // so that each call's fraction of the FMA loop compares numbers taken within one phase (the
  // loop before and after the pairs can fall in another; a call's fraction of it is then off by
  // the phases' difference, 20-40% on a shared 2-vCPU EPYC).
  std::vector<double> time[2], ratio, pair_peak;
  for (int i = -kWarmup; i < pairs; ++i) {
    double t[2], peak_in_pair = 0.0;
    const int first = (i & 1) != 0;  // alternating order
    for (int j : {first, 1 - first}) {
      t[j] = lib[j]->run(q.get(), k.get(), v.get(), shape.tokens, decode);
      if (t[j] < 0) {
        std::fprintf(stderr, "rotor_compare: library %s's prefill failed\n", label[j]);
        return 1;
      }
      if (j == first && !decode) peak_in_pair = fma_peak_gflops(vector_bits, int(shape.threads));
    }
    if (i < 0) continue;  // warm-up
    time[0].push_back(t[0]);
    time[1].push_back(t[1]);
    ratio.push_back(t[1] / t[0]);
    pair_peak.push_back(peak_in_pair);
  }
  const double peak = std::max(peak_before, fma_peak_gflops(vector_bits, int(shape.threads)));
  // A step's keys: the cached ones and, on average over the pairs, half of those the steps added.
  const double keys = decode ? shape.cached + kWarmup + 0.5 * pairs : 0.5 * (shape.tokens + 1.0);
  const double flops = 2.0 * 2.0 * shape.q_heads * shape.head_dim * double(shape.tokens) * keys;
  const size_t out_bytes = size_t{shape.tokens} * shape.q_heads * shape.head_dim * sizeof(float);
  const bool same = std::memcmp(lib0.output(), lib1.output(), out_bytes) == 0;

  if (decode)
    std::printf("\ndecode steps after %u cached tokens, %u query heads over %u kv heads, head_dim %u, f32, %u thread(s): "
                "%d pairs, one step of each library per pair, order alternating.\n",
                shape.cached, shape.q_heads, shape.kv_heads, shape.head_dim, shape.threads, pairs);
  else
    std::printf("\nprefill of %u tokens, %u query heads over %u kv heads, head_dim %u, f32, %u thread(s): %d pairs, "
                "one call of each library per pair, order alternating.\n",
                shape.tokens, shape.q_heads, shape.kv_heads, shape.head_dim, shape.threads, pairs);
  std::printf("FMA loop: %.1f GFLOP/s (the faster of two runs, before and after the pairs; 0 without one)\n\n", peak);
  std::printf("| library | kernel | fastest | median | GFLOP/s at fastest | of the FMA loop |\n|---|---|---|---|---|---|\n");
  for (int j = 0; j < 2; ++j) {
    const double fastest = at_fraction(time[j], 0.0), gflops = flops / fastest * 1e-9;
    std::printf("| %s | %s | %s | %s | %.1f | %.3f |\n", label[j], api[j].kernel_name(), time_text(fastest).c_str(),
                time_text(at_fraction(time[j], 0.5)).c_str(), gflops, peak > 0 ? gflops / peak : 0.0);
  }
  std::printf("\nB/A time per pair: median %.4f, quartiles %.4f-%.4f, min-max %.4f-%.4f; outputs %s\n",
              at_fraction(ratio, 0.5), at_fraction(ratio, 0.25), at_fraction(ratio, 0.75), at_fraction(ratio, 0.0),
              at_fraction(ratio, 1.0), same ? "identical" : "differ");
  if (!decode && pair_peak.front() > 0) {
    std::printf("\nEach call's GFLOP/s as a fraction of the FMA loop run between the pair's two calls (%.1f-%.1f "
                "GFLOP/s over the pairs, median %.1f):\n\n| library | median | quartiles | min-max |\n|---|---|---|---|\n",
                at_fraction(pair_peak, 0.0), at_fraction(pair_peak, 1.0), at_fraction(pair_peak, 0.5));
    for (int j = 0; j < 2; ++j) {
      std::vector<double> fraction;
      for (size_t i = 0; i < time[j].size(); ++i) fraction.push_back(flops / time[j][i] * 1e-9 / pair_peak[i]);
      std::printf("| %s | %.3f | %.3f-%.3f | %.3f-%.3f |\n", label[j], at_fraction(fraction, 0.5),
                  at_fraction(fraction, 0.25), at_fraction(fraction, 0.75), at_fraction(fraction, 0.0),
                  at_fraction(fraction, 1.0));
    }
  }
  return 0;
}

}  // namespace bench
