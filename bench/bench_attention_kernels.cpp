// The attention kernels alone (the active kernel set's, src/kernels/attention_kernels.hpp), on
// data that stays in L1, against an FMA-throughput loop of the set's vector width measured in the
// same benchmark (before and after the timed calls, averaged): what rotor_attention_forward's
// parts cost before memory and scheduling enter.
// 128 dims, one 64-key block, f32 scores and accumulators:
//  - KernelScores/<rows>/<cache dtype>, KernelAccumulate/<rows>/<cache dtype>: GFLOP/s of the
//    score and value tiles (2 x rows x 64 x 128 flops per call) and their fraction of the FMA
//    loop (frac_fma); 4 rows is a decode step's group, 24 a prefill's chunk;
//  - KernelFold/<rows>: the online-softmax step of rows x 64 scores (maximum, exp, sum; every
//    row rescaled on every other call), as `fold_per_fma`: its time over the time the FMA loop takes
//    for the same rows' score and value flops (2 x 2 x 64 x 128 per row). A prefill whose tiles
//    ran at the FMA peak would still spend this fraction more on the fold.
//
//   build-bench/bench/rotor_bench_attention_kernels
// (built with ROTOR_BUILD_BENCH and ROTOR_BUILD_TESTS: it links rotor_testing, the static library
// of rotor's objects, since the kernels are not part of the C API.)
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "bench_support.hpp"
#include "attention/quantized_keys.hpp"
#include "common/quant_blocks.hpp"
#include "kernels/registry.hpp"
#include "rooflines.hpp"
#include "support/aligned_buffer.hpp"

namespace {

constexpr uint32_t kDim = 128, kKeys = rotor::kKeyBlock;

using test_support::aligned_buffer;
using test_support::AlignedBuffer;

const rotor::AttentionKernels &kernels() { return *rotor::active_kernels().attention; }

// The FMA loop of the active set's vector width (0 for sets without one: no fraction then).
double fma_peak() {
  const int bits = bench::kernel_vector_bits();
  return bits > 0 ? bench::fma_peak_gflops(bits, 1) : 0.0;
}

// A key block and its values in `dtype` (all elements 0x3c00 for f16 = 1.0, 0x3f80 for bf16 =
// 1.0, 1.0f for f32, 1 x 1.0 for Q8_0/Q4_0), queries and weights of 0.01: finite, with no denormals.
struct BlockData {
  AlignedBuffer keys, values, q, scores, acc;
  explicit BlockData(uint32_t rows, rotor_dtype dtype)
      : keys(aligned_buffer(size_t{kKeys} * kDim * 4)), values(aligned_buffer(size_t{kKeys} * kDim * 4)),
        q(aligned_buffer(size_t{rows} * kDim * 4)), scores(aligned_buffer(size_t{rows} * kKeys * 4)),
        acc(aligned_buffer(size_t{rows} * kDim * 4)) {
    for (size_t i = 0; i < size_t{kKeys} * kDim; ++i) {
      if (dtype == ROTOR_DTYPE_F32) {
        reinterpret_cast<float *>(keys.get())[i] = 1.0f;
        reinterpret_cast<float *>(values.get())[i] = 1.0f;
      } else {
        const uint16_t one = dtype == ROTOR_DTYPE_F16 ? 0x3c00 : 0x3f80;
        reinterpret_cast<uint16_t *>(keys.get())[i] = one;
        reinterpret_cast<uint16_t *>(values.get())[i] = one;
      }
    }
    for (size_t i = 0; i < size_t{rows} * kDim; ++i) reinterpret_cast<float *>(q.get())[i] = 0.01f;
    for (size_t i = 0; i < size_t{rows} * kKeys; ++i) reinterpret_cast<float *>(scores.get())[i] = 0.01f;
    std::memset(acc.get(), 0, size_t{rows} * kDim * 4);
    if (dtype == ROTOR_DTYPE_Q8_0 || dtype == ROTOR_DTYPE_Q4_0) fill_quantized(dtype);
  }
  // Q8_0/Q4_0: every number 1 (a Q4_0 nibble of 9) with an f16 scale of 1.0, in the cache's
  // dimension-major key block and ggml's value rows (attention/quantized_keys.hpp); 0.01 queries.
  void fill_quantized(rotor_dtype dtype) {
    const unsigned char number = dtype == ROTOR_DTYPE_Q8_0 ? 0x01 : 0x99;
    const uint16_t one = 0x3c00;
    const size_t numbers = rotor::dimension_major_numbers_bytes(dtype, kDim, kKeys);
    std::memset(keys.get(), number, numbers);
    for (size_t i = numbers; i < rotor::quantized_key_block_bytes(dtype, kDim); i += 2) std::memcpy(keys.get() + i, &one, 2);
    const size_t block = rotor::quant_block_bytes(dtype);
    for (size_t b = 0; b < size_t{kKeys} * kDim / rotor::kQuantGroup; ++b) {
      std::memcpy(values.get() + b * block, &one, 2);
      std::memset(values.get() + b * block + 2, number, block - 2);
    }
  }
};

using bench::dtype_name;

enum class Tile { scores, values };

// Args: rows, cache dtype. One kernel on the block again and again: 2 x rows x 64 x 128 flops a
// call, against the FMA loop.
void tile_benchmark(benchmark::State &state, Tile tile) {
  const uint32_t rows = uint32_t(state.range(0));
  const rotor_dtype dtype = rotor_dtype(state.range(1));
  BlockData data(rows, dtype);
  const rotor::AttentionScoresFn scores = kernels().scores[dtype];
  const rotor::AttentionAccumulateFn accumulate = kernels().accumulate[dtype];
  if (tile == Tile::scores ? scores == nullptr : accumulate == nullptr)
    return state.SkipWithError("this kernel set has no such kernel for the type (its caller widens first)");
  const float *q = reinterpret_cast<const float *>(data.q.get());
  float *weights = reinterpret_cast<float *>(data.scores.get()), *acc = reinterpret_cast<float *>(data.acc.get());
  const double peak_before = fma_peak();
  for (auto _ : state) {
    if (tile == Tile::scores)
      scores(q, rows, data.keys.get(), kKeys, kDim, 0.088f, weights, kKeys);
    else
      accumulate(weights, kKeys, rows, data.values.get(), kKeys, kDim, acc);
    benchmark::ClobberMemory();
  }
  const double peak = (peak_before + fma_peak()) / 2;
  const double flops = 2.0 * rows * kKeys * kDim;
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_GFLOPs"] = peak;
  state.counters["frac_fma"] =
      benchmark::Counter(peak > 0 ? flops * 1e-9 / peak : 0.0, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(std::string(rotor::active_kernels().name) + " " + dtype_name(dtype));
}

void BM_KernelScores(benchmark::State &state) { tile_benchmark(state, Tile::scores); }
void BM_KernelAccumulate(benchmark::State &state) { tile_benchmark(state, Tile::values); }

// Args: rows, keys per row (64: a whole block, a prefill's rows off the diagonal; fewer: the
// diagonal's rows and a decode step's last block). The fold leaves weights in (0, 1] where the
// scores were, which the next call folds again (2^x costs the same for any value), so nothing
// but the running maxima and sums is reset between calls.
void BM_KernelFold(benchmark::State &state) {
  const uint32_t rows = uint32_t(state.range(0)), n = uint32_t(state.range(1));
  std::vector<float> scores(size_t{rows} * kKeys), acc(size_t{rows} * kDim, 0.0f), running_max(rows),
      running_sum(rows);
  for (size_t i = 0; i < scores.size(); ++i) scores[i] = 3.0f * std::sin(float(i));
  const double peak_before = fma_peak();
  uint64_t call = 0;
  for (auto _ : state) {
    // Every other call starts from -inf (the first block of a row: every row rescales, by 0), the
    // others from a maximum above every score (no row rescales).
    const float start = call++ % 2 == 0 ? -INFINITY : 10.0f;
    for (uint32_t r = 0; r < rows; ++r) {
      running_max[r] = start;
      running_sum[r] = 1.0f;
    }
    kernels().fold(scores.data(), kKeys, rows, n, running_max.data(), running_sum.data(), acc.data(), kDim);
    benchmark::ClobberMemory();
  }
  const double peak = (peak_before + fma_peak()) / 2;
  // The score and value flops of the same rows and keys, at the FMA loop's rate.
  const double fma_seconds = peak > 0 ? 4.0 * rows * n * kDim / (peak * 1e9) : 0.0;
  state.counters["fold_per_fma"] =
      benchmark::Counter(fma_seconds, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
  state.counters["peak_GFLOPs"] = peak;
  state.SetLabel(rotor::active_kernels().name);
}

}  // namespace

BENCHMARK(BM_KernelScores)
    ->ArgsProduct({{4, 24}, {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}})
    ->Args({256, ROTOR_DTYPE_F32});
BENCHMARK(BM_KernelAccumulate)
    ->ArgsProduct({{4, 24}, {ROTOR_DTYPE_F32, ROTOR_DTYPE_F16, ROTOR_DTYPE_BF16, ROTOR_DTYPE_Q8_0, ROTOR_DTYPE_Q4_0}})
    ->Args({256, ROTOR_DTYPE_F32});
BENCHMARK(BM_KernelFold)->Args({4, kKeys})->Args({256, kKeys})->Args({256, 40});

BENCHMARK_MAIN();
