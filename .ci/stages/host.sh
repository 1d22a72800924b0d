#!/usr/bin/env bash
# Native build in Release and Debug with warnings as errors; every unit test through ctest.
set -euo pipefail
for type in Release Debug; do
  dir="build-ci-${type,,}"
  # CUDA is compiled by its own stage; benchmarks are built (not run) in Release only.
  bench=OFF; [ "$type" = Release ] && bench=ON
  cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE="$type" -DROTOR_WERROR=ON -DROTOR_BUILD_BENCH=$bench \
    -DROTOR_CUDA=OFF >/dev/null
  cmake --build "$dir" -j"${ROTOR_JOBS:-2}"
  ctest --test-dir "$dir" --output-on-failure -j"${ROTOR_JOBS:-2}"
  if [ -x "$dir/examples/rotor_demo" ]; then "$dir/examples/rotor_demo" >/dev/null; fi
done
