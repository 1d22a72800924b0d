#!/usr/bin/env bash
# CUDA stage: compiles the CUDA build (ROTOR_CUDA=ON, warnings as errors) with nvcc for sm_87
# (Jetson Orin), sm_90 (Hopper) and compute_90 PTX: the library, the unit tests and the GPU
# benchmark. CI has no GPU, so nothing runs on one: the unit tests run and their GPU part
# skips (the host-side CUDA tests still run). Without nvcc the stage says so loudly and exits
# with 77: .ci/test-all reports it SKIPPED.
# Prints its own timing. Run on a machine with a GPU, the same commands run the GPU tests.
set -euo pipefail
start=$(date +%s)
jobs="${ROTOR_JOBS:-2}"

nvcc="${CUDACXX:-}"
if [ -z "$nvcc" ]; then
  nvcc="$(command -v nvcc || true)"
fi
if [ -z "$nvcc" ] && [ -x /usr/local/cuda/bin/nvcc ]; then
  nvcc=/usr/local/cuda/bin/nvcc
fi
if [ -z "$nvcc" ]; then
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  echo "!!! cuda stage: nvcc not found (PATH, CUDACXX, /usr/local/cuda/bin): the CUDA code"
  echo "!!! was NOT compiled. Install the CUDA toolkit to check it."
  echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 77
fi
echo "cuda stage: $("$nvcc" --version | tail -n 2 | head -n 1)"

dir=build-ci-cuda
archs="87-real;90-real;90-virtual"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DROTOR_WERROR=ON -DROTOR_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$archs" \
  -DROTOR_BUILD_BENCH=ON -DROTOR_BUILD_EXAMPLES=OFF >/dev/null

# The GPU code generated must be what this stage promises (flags as CMake passes them to nvcc).
flags="$dir/CMakeFiles/rotor_cuda_kernels.dir/flags.make"
for code in "code=\[sm_87\]" "code=\[sm_90\]" "code=\[compute_90\]"; do
  if ! grep -q -- "$code" "$flags"; then
    echo "cuda stage: $code missing from the kernels' nvcc flags:" >&2
    grep CUDA_FLAGS "$flags" >&2
    exit 1
  fi
done

compile_start=$(date +%s)
cmake --build "$dir" -j"$jobs" --target rotor_cuda_kernels
echo "cuda stage: kernels compiled for $archs in $(( $(date +%s) - compile_start )) s"
cmake --build "$dir" -j"$jobs" --target rotor rotor_tests rotor_bench_cuda

# No GPU here: the CUDA tests run their host-side part and skip the rest, saying why.
"$dir/tests/rotor_tests" --gtest_filter='Cuda*' | tee "$dir/cuda-tests.log" | tail -n 5
if grep -q "no CUDA device" "$dir/cuda-tests.log"; then
  echo "cuda stage: no GPU on this machine: the GPU tests were skipped (compiled, not run)"
fi
"$dir/bench/rotor_bench_cuda" --iters-scale 0.1
echo "cuda stage: done in $(( $(date +%s) - start )) s"
