#!/usr/bin/env bash
# CUDA stage: compiles the CUDA build (ROTOR_CUDA=ON, opt-in; warnings as errors) with nvcc for
# sm_87 (Jetson Orin), sm_90 (Hopper), sm_110 (Jetson Thor) and compute_90 PTX: the library,
# the unit tests and the GPU benchmark; records ptxas's registers / spills / shared memory of
# every kernel instantiation (fails on any spill); then RUNS the CUDA code on the host:
# rotor_cuda_host_tests runs the kernels' per-thread body for every unit of each launch and
# every rotor_cuda_* entry point of this very build against a host stand-in for the device
# (tests/cuda_host/). CI has no GPU: the GPU tests (CudaGpu.*) skip, saying so;
# cuda/run-on-gpu.sh runs them on a machine with one. Last, the build is installed and a C
# program calling rotor_cuda_* links the archive through pkg-config --static and through
# find_package (rotor::rotor_static), and runs.
# Without nvcc the stage prints SKIPPED and exits 77 (.ci/test-all reports it as skipped).
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
  echo "cuda stage: SKIPPED (no nvcc)"
  exit 77
fi
echo "cuda stage: $("$nvcc" --version | tail -n 2 | head -n 1)"

dir=build-ci-cuda
archs="87-real;90-real;110-real;90-virtual"
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DROTOR_WERROR=ON -DROTOR_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc" -DCMAKE_CUDA_ARCHITECTURES="$archs" \
  -DROTOR_BUILD_BENCH=ON -DROTOR_BUILD_EXAMPLES=OFF -DROTOR_CUDA_PTXAS_VERBOSE=ON >/dev/null

# The GPU code generated must be what this stage promises (flags as CMake passes them to nvcc).
flags="$dir/CMakeFiles/rotor_cuda_kernels.dir/flags.make"
for code in "code=\[sm_87\]" "code=\[sm_90\]" "code=\[sm_110\]" "code=\[compute_90\]"; do
  if ! grep -q -- "$code" "$flags"; then
    echo "cuda stage: $code missing from the kernels' nvcc flags:" >&2
    grep CUDA_FLAGS "$flags" >&2
    exit 1
  fi
done

# The kernels are compiled afresh every run so that ptxas's report is in this run's log.
compile_start=$(date +%s)
rm -f "$dir/CMakeFiles/rotor_cuda_kernels.dir/cuda/rotate_kernels.cu.o"
cmake --build "$dir" -j"$jobs" --target rotor_cuda_kernels >"$dir/ptxas.log" 2>&1 || { cat "$dir/ptxas.log"; exit 1; }
echo "cuda stage: kernels compiled for $archs in $(( $(date +%s) - compile_start )) s"
# Registers, spills, stack and shared memory per kernel and architecture (docs/cuda.md shows
# this table); any spill fails the stage.
python3 cuda/ptxas_report.py "$dir/ptxas.log" --require-arch sm_87 --require-arch sm_90 --require-arch sm_110 |
  tee "$dir/ptxas.md"
cmake --build "$dir" -j"$jobs" --target rotor rotor_static rotor_tests rotor_cuda_host_tests rotor_bench_cuda

# The CUDA code of this build, run on the host: must pass (every kernel feature, every status).
"$dir/tests/rotor_cuda_host_tests" --gtest_brief=1 | tee "$dir/cuda-host-tests.log" | tail -n 3

# No GPU here: the GPU tests skip, saying why.
"$dir/tests/rotor_tests" --gtest_filter='Cuda*' | tee "$dir/cuda-tests.log" | tail -n 3
if grep -q "no CUDA device" "$dir/cuda-tests.log"; then
  echo "cuda stage: no GPU on this machine: the GPU tests (CudaGpu.*) were SKIPPED (compiled, not run);"
  echo "cuda stage: run cuda/run-on-gpu.sh on a machine with a GPU"
fi
"$dir/bench/rotor_bench_cuda" --iters-scale 0.1

# The installed package, used statically by a C program that calls rotor_cuda_*
# (tests/cuda_host/consumer/): the archive's CUDA objects need libcudart, which rotor.pc's
# Libs.private and rotor::rotor_static must name. Linked against the archive, not librotor.so.
prefix="$PWD/$dir/prefix"
rm -rf "$prefix" "$dir/consumer"
cmake --install "$dir" --prefix "$prefix" >/dev/null
pc_dir="$(dirname "$(find "$prefix" -name rotor.pc | head -n1)")"
pc() { PKG_CONFIG_PATH="$pc_dir" pkg-config "$@" rotor; }
echo "cuda stage: rotor.pc Libs.private: $(grep '^Libs.private' "$pc_dir/rotor.pc" | cut -d' ' -f2-)"
# -l:librotor.a picks the archive although librotor.so sits next to it; the rpath finds
# libcudart.so where pkg-config found it.
cc -std=c99 -Wall -Wextra -Werror $(pc --cflags) tests/cuda_host/consumer/static_consumer.c \
  -o "$dir/static_consumer_pkgconfig" $(pc --static --libs | sed 's/-lrotor\b/-l:librotor.a/') \
  $(pc --static --libs-only-L | sed 's/-L/-Wl,-rpath,/g')
"$dir/static_consumer_pkgconfig"
cmake -S tests/cuda_host/consumer -B "$dir/consumer" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$dir/consumer" >/dev/null
"$dir/consumer/static_consumer"
for program in "$dir/static_consumer_pkgconfig" "$dir/consumer/static_consumer"; do
  if readelf -d "$program" | grep 'NEEDED.*librotor' >/dev/null; then
    echo "cuda stage: $program depends on librotor.so, not the archive" >&2; exit 1
  fi
done
echo "cuda stage: done in $(( $(date +%s) - start )) s"
