// Two librotor builds in one process (bench/compare.sh builds them and runs this): rotor_bench's
// rows (bench/rope_rows.cpp), each run for library A and library B back to back, the whole row
// set `rounds` times with the first library alternating between rounds, so that both see the
// same machine state (other processes' load, turbo, the memory system) within seconds of each
// other. Prints per row: each library's median time, the per-round ratio B/A (median and
// min-max), and each library's fraction of the read-modify-write (apply rows) or memcpy
// (apply_to rows) measured in the same run next to it (min-max).
//
//   rotor_compare --a=A/librotor.so --b=B/librotor.so [--label-a=..] [--label-b=..]
//                 [--rounds=5] [Google Benchmark flags: --benchmark_filter=..., --benchmark_min_time=...]
//   rotor_compare --a=.. --b=.. --prefill=512x32x8x128[x1] [--pairs=60]
//   rotor_compare --a=.. --b=.. --decode=2048x32x8x128[x1] [--pairs=200]
//
// --prefill times an f32 attention prefill instead, call by call in alternating pairs
// (bench/prefill_pairs.hpp: the shape is tokens x query heads x kv heads x head_dim x threads);
// --decode a decode step after that many cached tokens, step by step.
//
// Rows are registered as "<row>@A" and "<row>@B" (Google Benchmark adds "/real_time" after
// that to most), so a --benchmark_filter should not anchor at the end: '^decode_qk/f32/half@'
// selects one row, '^apply/f32/half/2048x32x128/threads:1@' another.
//
// This program does not link librotor: each library is dlopen()ed with RTLD_LOCAL from its own
// path, so neither one's symbols are global and each one's calls to its own functions stay inside
// it. The libraries must be copies at distinct paths (the loader maps one file once).
#include <benchmark/benchmark.h>
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <vector>

#include "prefill_pairs.hpp"
#include "rope_rows.hpp"
#include "rotor_api.hpp"

namespace {

struct Loaded {
  bench::RotorApi api{};
  bench::AttentionApi attention{};
  uint32_t version = 0;
};

// Resolves every RotorApi member in the library at `path`; exits with a message when one is missing.
Loaded load_library(const std::string &path) {
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    std::fprintf(stderr, "rotor_compare: %s\n", dlerror());
    std::exit(2);
  }
  auto symbol = [&](auto &slot, const char *name) {
    void *p = dlsym(handle, name);
    if (p == nullptr) {
      std::fprintf(stderr, "rotor_compare: %s has no %s\n", path.c_str(), name);
      std::exit(2);
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(p);
  };
  Loaded l;
  bench::RotorApi &a = l.api;
  symbol(a.config_init, "rotor_config_init");
  symbol(a.table_create, "rotor_table_create");
  symbol(a.table_init, "rotor_table_init");
  symbol(a.table_arena_size, "rotor_table_arena_size");
  symbol(a.table_reserve, "rotor_table_reserve");
  symbol(a.table_destroy, "rotor_table_destroy");
  symbol(a.tensor_bshd, "rotor_tensor_bshd");
  symbol(a.pool_create, "rotor_pool_create");
  symbol(a.pool_destroy, "rotor_pool_destroy");
  symbol(a.apply, "rotor_apply");
  symbol(a.apply_qk, "rotor_apply_qk");
  symbol(a.apply_to, "rotor_apply_to");
  symbol(a.kernel_force, "rotor_kernel_force");
  symbol(a.kernel_name, "rotor_kernel_name");
  bench::AttentionApi &p = l.attention;
  symbol(p.kv_cache_arena_size, "rotor_kv_cache_arena_size");
  symbol(p.kv_cache_init, "rotor_kv_cache_init");
  symbol(p.kv_cache_reset, "rotor_kv_cache_reset");
  symbol(p.attention_workspace_size, "rotor_attention_workspace_size");
  symbol(p.attention_forward, "rotor_attention_forward");
  uint32_t (*version)(void) = nullptr;
  symbol(version, "rotor_version");
  l.version = version();
  return l;
}

// One library's measurements of one row, a value per round.
struct Series {
  std::vector<double> time, fraction;
  std::string unit, kernel;
};

const char *const kSuffix[2] = {"@A", "@B"};

// Keeps every run's time (real time per iteration, in the row's unit), kernel label and
// fraction of its same-run baseline, by row name and library; prints nothing.
class Collector : public benchmark::BenchmarkReporter {
 public:
  std::vector<std::string> order;  // row names, first seen first
  std::map<std::string, Series> series[2];
  std::map<std::string, std::string> errors;

  bool ReportContext(const Context &) override { return true; }
  void ReportRuns(const std::vector<Run> &runs) override {
    for (const Run &run : runs) {
      // "<row>@A" or "<row>@B", to which Google Benchmark may add "/real_time" or "/manual_time".
      std::string name = run.benchmark_name();
      const size_t at = name.rfind('@');
      if (at == std::string::npos || at + 1 >= name.size() || (name[at + 1] != 'A' && name[at + 1] != 'B')) continue;
      const int lib = name[at + 1] == 'A' ? 0 : 1;
      name.erase(at);
      if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
      if (run.error_occurred) {
        errors[name] = run.error_message;
        continue;
      }
      Series &s = series[lib][name];
      s.time.push_back(run.GetAdjustedRealTime());
      s.unit = benchmark::GetTimeUnitString(run.time_unit);
      s.kernel = run.report_label;
      for (const char *counter : {"frac_rmw", "frac_memcpy"}) {
        const auto c = run.counters.find(counter);
        if (c != run.counters.end()) s.fraction.push_back(c->second.value);
      }
    }
  }
  void Finalize() override {}
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n == 0 ? 0.0 : n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::string spread(const std::vector<double> &v, const char *format) {
  if (v.empty()) return "";
  char lo[32], hi[32];
  std::snprintf(lo, sizeof lo, format, *std::min_element(v.begin(), v.end()));
  std::snprintf(hi, sizeof hi, format, *std::max_element(v.begin(), v.end()));
  return std::string(lo) + "-" + hi;
}

// A time in the unit Google Benchmark reported it in, or in microseconds when that is
// nanoseconds and the value is large (2.8e+06 ns reads worse than 2776 us).
std::string time_string(double t, const std::string &unit) {
  char buf[48];
  if (unit == "ns" && t >= 1e4)
    std::snprintf(buf, sizeof buf, "%.0f us", t / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.4g %s", t, unit.c_str());
  return buf;
}

std::string version_string(uint32_t v) {
  return std::to_string(v >> 16) + "." + std::to_string(v >> 8 & 0xff) + "." + std::to_string(v & 0xff);
}

}  // namespace

int main(int argc, char **argv) {
  std::string path[2], label[2] = {"A", "B"};
  int rounds = 5, pairs = 60;
  std::string prefill;
  bool decode = false;
  // Shorter than Google Benchmark's 0.5 s default: the rounds give the repetition. A
  // --benchmark_min_time given on the command line comes later and wins.
  std::vector<char *> args = {argv[0], const_cast<char *>("--benchmark_min_time=0.2")};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&](const char *flag) { return a.rfind(flag, 0) == 0 ? a.substr(std::strlen(flag)) : std::string(); };
    if (!value("--a=").empty()) path[0] = value("--a=");
    else if (!value("--b=").empty()) path[1] = value("--b=");
    else if (!value("--label-a=").empty()) label[0] = value("--label-a=");
    else if (!value("--label-b=").empty()) label[1] = value("--label-b=");
    else if (!value("--rounds=").empty()) rounds = std::max(1, std::atoi(value("--rounds=").c_str()));
    else if (!value("--prefill=").empty()) prefill = value("--prefill=");
    else if (!value("--decode=").empty()) prefill = value("--decode="), decode = true;
    else if (!value("--pairs=").empty()) pairs = std::max(1, std::atoi(value("--pairs=").c_str()));
    else args.push_back(argv[i]);
  }
  if (path[0].empty() || path[1].empty()) {
    std::fprintf(stderr, "usage: %s --a=LIB --b=LIB [--label-a=..] [--label-b=..] [--rounds=N] [benchmark flags]\n", argv[0]);
    return 2;
  }
  int bench_argc = static_cast<int>(args.size());
  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 2;

  const Loaded lib[2] = {load_library(path[0]), load_library(path[1])};
  std::printf("A = %s (librotor %s, %s)\nB = %s (librotor %s, %s)\n", label[0].c_str(),
              version_string(lib[0].version).c_str(), path[0].c_str(), label[1].c_str(),
              version_string(lib[1].version).c_str(), path[1].c_str());
  if (!prefill.empty()) {
    bench::PrefillShape shape;
    if (!bench::parse_prefill_shape(prefill.c_str(), decode, &shape)) {
      std::fprintf(stderr, "rotor_compare: --prefill=TOKENSxQHEADSxKVHEADSxDIM[xTHREADS] or --decode=CACHEDx..., got %s\n",
                   prefill.c_str());
      return 2;
    }
    const bench::RotorApi apis[2] = {lib[0].api, lib[1].api};
    const bench::AttentionApi attention[2] = {lib[0].attention, lib[1].attention};
    const char *const labels[2] = {label[0].c_str(), label[1].c_str()};
    return bench::run_prefill_pairs(apis, attention, labels, shape, pairs);
  }
  Collector collector;
  for (int round = 0; round < rounds; ++round) {
    // A first in even rounds, B first in odd ones: a drift within a row pair cancels out.
    const int first = round % 2;
    benchmark::ClearRegisteredBenchmarks();
    bench::register_rope_rows({{kSuffix[first], &lib[first].api}, {kSuffix[1 - first], &lib[1 - first].api}});
    benchmark::RunSpecifiedBenchmarks(&collector);
    std::fprintf(stderr, "rotor_compare: round %d of %d done\n", round + 1, rounds);
  }

  std::printf("\n%d rounds, each row run for both libraries back to back (first library alternating by round).\n"
              "time: median over rounds (real time per call); B/A: the per-round time ratio, median (min-max);\n"
              "frac: throughput over the same-run baseline (RMW for apply, memcpy for apply_to), min-max.\n\n",
              rounds);
  std::printf("| row | kernel A / B | A time | B time | B/A time | A frac | B frac |\n|---|---|---|---|---|---|---|\n");
  for (const std::string &name : collector.order) {
    const auto ia = collector.series[0].find(name), ib = collector.series[1].find(name);
    if (ia == collector.series[0].end() || ib == collector.series[1].end()) {
      std::printf("| `%s` | %s | | | | | |\n", name.c_str(), collector.errors[name].c_str());
      continue;
    }
    const Series &a = ia->second, &b = ib->second;
    std::vector<double> ratio;
    for (size_t r = 0; r < std::min(a.time.size(), b.time.size()); ++r) ratio.push_back(b.time[r] / a.time[r]);
    std::printf("| `%s` | %s / %s | %s | %s | %.3f (%s) | %s | %s |\n", name.c_str(), a.kernel.c_str(),
                b.kernel.c_str(), time_string(median(a.time), a.unit).c_str(),
                time_string(median(b.time), b.unit).c_str(), median(ratio), spread(ratio, "%.3f").c_str(),
                spread(a.fraction, "%.2f").c_str(), spread(b.fraction, "%.2f").c_str());
  }
  benchmark::Shutdown();
  return 0;
}
