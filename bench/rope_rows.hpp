// rotor_bench's rows (RoPE in place and out of place against the read-modify-write and memcpy
// of the same bytes, decode steps, table growth, the scalar kernel), defined once and
// registered with Google Benchmark for one library (rotor_bench) or for two, row by row
// (rotor_compare). bench/rope_rows.cpp says what each row measures.
#pragma once
#include <string>
#include <vector>

#include "rotor_api.hpp"

namespace bench {

// One library the rows run against; `suffix` is appended to every row name ("" for rotor_bench).
struct RowTarget {
  std::string suffix;
  const RotorApi *api;
};

// Registers every row, each for every target in turn (row 1 for each target, then row 2, ...),
// so that two libraries are measured next to each other rather than one run apart.
void register_rope_rows(const std::vector<RowTarget> &targets);

}  // namespace bench
