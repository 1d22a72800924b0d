// rotor benchmarks: every figure of docs/performance.md's RoPE table, each apply next to a
// streaming read-modify-write and a memcpy of the same bytes measured in the same run. The rows
// and their counters are bench/rope_rows.cpp's, run here against the library this program links;
// bench/compare.sh runs the same rows against two versions of the library in one process.
#include <benchmark/benchmark.h>

#include "rope_rows.hpp"
#include "rotor_api.hpp"

int main(int argc, char **argv) {
  static const bench::RotorApi api = bench::linked_rotor_api();
  bench::register_rope_rows({{"", &api}});
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
