// GPU benchmark of rotor_cuda_apply_qk: effective bandwidth against a device-to-device copy of
// the same bytes, measured in the same run on the same GPU.
//
// Shapes: a Llama-sized attention layer, 32 query heads and 8 key/value heads of 128 dims
// (rotary_dim 128, HALF pairing), Q and K in [tokens, heads, 128] (bshd, batch 1), at 1, 128,
// 4096 and 32768 tokens, f16 and bf16, positions offset + s (the decode / prefill case) and,
// for the larger shapes, per-token device positions.
//
// Effective bandwidth = bytes read + bytes written by the rotation (Q and K, each read and
// written once: 2 * (|Q| + |K|)) / time. The copy baseline is cudaMemcpyAsync device-to-device
// of |Q| + |K| bytes, which also reads and writes each byte once: 2 * (|Q| + |K|) / time. Rows
// of the table (512 bytes per token) are not counted: they are the kernel's overhead.
// The 1-token case (a decode step) is dominated by launch latency; it reports time per call.
//
// Usage: rotor_bench_cuda [--iters-scale X] [--csv]
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "rotor/rotor.h"
#include "rotor/rotor_cuda.h"

namespace {

#define CHECK_CUDA(expr)                                                                        \
  do {                                                                                          \
    cudaError_t e_ = (expr);                                                                    \
    if (e_ != cudaSuccess) {                                                                    \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

#define CHECK_ROTOR(expr)                                                                       \
  do {                                                                                          \
    rotor_status s_ = (expr);                                                                   \
    if (s_ != ROTOR_OK) {                                                                       \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #expr, rotor_status_string(s_)); \
      std::exit(1);                                                                             \
    }                                                                                           \
  } while (0)

constexpr uint32_t kQHeads = 32, kKHeads = 8, kDim = 128;

// Seconds per call of fn, over iters calls after warmup calls, timed with events on stream.
template <typename Fn>
double time_per_call(cudaStream_t stream, int iters, Fn fn) {
  for (int i = 0; i < 3; ++i) fn();
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  CHECK_CUDA(cudaEventRecord(start, stream));
  for (int i = 0; i < iters; ++i) fn();
  CHECK_CUDA(cudaEventRecord(stop, stream));
  CHECK_CUDA(cudaEventSynchronize(stop));
  float ms = 0.0f;
  CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  return double(ms) * 1e-3 / iters;
}

}  // namespace

int main(int argc, char **argv) {
  double iters_scale = 1.0;
  bool csv = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--csv") == 0) {
      csv = true;
    } else if (std::strcmp(argv[i], "--iters-scale") == 0 && i + 1 < argc) {
      iters_scale = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--iters-scale X] [--csv]\n", argv[0]);
      return 2;
    }
  }
  uint32_t devices = 0;
  CHECK_ROTOR(rotor_cuda_device_count(&devices));
  if (devices == 0) {
    std::printf("rotor_bench_cuda: no CUDA device: nothing measured\n");
    return 0;
  }
  cudaDeviceProp prop{};
  int device = 0;
  CHECK_CUDA(cudaGetDevice(&device));
  CHECK_CUDA(cudaGetDeviceProperties(&prop, device));
  int runtime = 0, driver = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);
  std::printf("# GPU: %s (sm_%d%d, %d SMs), CUDA runtime %d, driver %d\n", prop.name, prop.major, prop.minor,
              prop.multiProcessorCount, runtime, driver);
  std::printf("# Q [tokens, %u, %u] + K [tokens, %u, %u], rotary_dim %u, HALF pairing, in place\n", kQHeads, kDim,
              kKHeads, kDim, kDim);

  const uint32_t token_counts[] = {1, 128, 4096, 32768};
  const uint32_t max_tokens = 32768;
  rotor_config cfg;
  rotor_config_init(&cfg, kDim);
  cfg.max_len = max_tokens;
  cfg.initial_len = max_tokens;
  rotor_table *table = nullptr;
  CHECK_ROTOR(rotor_table_create(&table, &cfg));
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  rotor_cuda_table *mirror = nullptr;
  CHECK_ROTOR(rotor_cuda_table_create(&mirror, table, stream));
  CHECK_ROTOR(rotor_cuda_table_sync(mirror, max_tokens, stream));

  const size_t q_max = size_t(max_tokens) * kQHeads * kDim * 2, k_max = size_t(max_tokens) * kKHeads * kDim * 2;
  void *q = nullptr, *k = nullptr, *copy_dst = nullptr;
  int32_t *positions = nullptr;
  CHECK_CUDA(cudaMalloc(&q, q_max));
  CHECK_CUDA(cudaMalloc(&k, k_max));
  CHECK_CUDA(cudaMalloc(&copy_dst, q_max + k_max));
  CHECK_CUDA(cudaMalloc(&positions, max_tokens * sizeof(int32_t)));
  // 0x3c3c is 1.06 in f16 and 0.0115 in bf16: finite values that rotate to finite values.
  CHECK_CUDA(cudaMemset(q, 0x3c, q_max));
  CHECK_CUDA(cudaMemset(k, 0x3c, k_max));
  std::vector<int32_t> host_positions(max_tokens);
  for (uint32_t i = 0; i < max_tokens; ++i) host_positions[i] = int32_t((i * 7919u) % max_tokens);
  CHECK_CUDA(cudaMemcpy(positions, host_positions.data(), max_tokens * sizeof(int32_t), cudaMemcpyHostToDevice));

  if (csv) {
    std::printf("dtype,tokens,positions,bytes,rotor_us,rotor_GBps,copy_us,copy_GBps,ratio\n");
  } else {
    std::printf("%-5s %7s %-9s %12s %10s %10s %10s %10s %7s\n", "dtype", "tokens", "positions", "bytes", "rotor_us",
                "rotor_GB/s", "copy_us", "copy_GB/s", "ratio");
  }
  for (rotor_dtype dtype : {ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16}) {
    for (uint32_t tokens : token_counts) {
      const size_t q_bytes = size_t(tokens) * kQHeads * kDim * 2, k_bytes = size_t(tokens) * kKHeads * kDim * 2;
      const double moved = 2.0 * double(q_bytes + k_bytes);
      // About 0.2 s of work per measurement at 2 TB/s, between 50 and 20000 calls.
      const int iters = int(std::clamp(4e11 / moved, 50.0, 20000.0) * iters_scale);
      const rotor_tensor qt = rotor_tensor_bshd(q, dtype, 1, tokens, kQHeads, kDim);
      const rotor_tensor kt = rotor_tensor_bshd(k, dtype, 1, tokens, kKHeads, kDim);
      const double copy_s = time_per_call(stream, iters, [&] {
        CHECK_CUDA(cudaMemcpyAsync(copy_dst, q, q_bytes + k_bytes, cudaMemcpyDeviceToDevice, stream));
      });
      for (int use_positions = 0; use_positions < 2; ++use_positions) {
        if (use_positions && tokens < 128) continue;
        const int32_t *pos = use_positions ? positions : nullptr;
        const uint32_t offset = use_positions ? 0 : max_tokens - tokens;
        const double rotor_s = time_per_call(stream, iters, [&] {
          CHECK_ROTOR(rotor_cuda_apply_qk(mirror, &qt, &kt, pos, offset, ROTOR_FORWARD, stream));
        });
        const char *dt = dtype == ROTOR_DTYPE_F16 ? "f16" : "bf16";
        const char *pn = use_positions ? "device" : "offset";
        const double rotor_gbs = moved / rotor_s * 1e-9, copy_gbs = moved / copy_s * 1e-9;
        if (csv) {
          std::printf("%s,%u,%s,%.0f,%.3f,%.1f,%.3f,%.1f,%.3f\n", dt, tokens, pn, moved, rotor_s * 1e6, rotor_gbs,
                      copy_s * 1e6, copy_gbs, rotor_gbs / copy_gbs);
        } else {
          std::printf("%-5s %7u %-9s %12.0f %10.3f %10.1f %10.3f %10.1f %7.3f\n", dt, tokens, pn, moved,
                      rotor_s * 1e6, rotor_gbs, copy_s * 1e6, copy_gbs, rotor_gbs / copy_gbs);
        }
      }
    }
  }
  uint32_t skipped = 0;
  CHECK_ROTOR(rotor_cuda_table_take_errors(mirror, stream, &skipped, nullptr));
  if (skipped != 0) {
    std::fprintf(stderr, "rotor_bench_cuda: %u tokens skipped (positions past the mirror)\n", skipped);
    return 1;
  }
  CHECK_CUDA(cudaFree(q));
  CHECK_CUDA(cudaFree(k));
  CHECK_CUDA(cudaFree(copy_dst));
  CHECK_CUDA(cudaFree(positions));
  rotor_cuda_table_destroy(mirror);
  CHECK_CUDA(cudaStreamDestroy(stream));
  rotor_table_destroy(table);
  return 0;
}
