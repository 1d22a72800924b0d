#!/usr/bin/env bash
# ARM: cross builds for aarch64 and armv7 (NEON), Release, warnings as errors; every unit test
# under qemu-user through ctest (CMAKE_CROSSCOMPILING_EMULATOR); the kernel in use printed and
# NEON required (tests/test_target_kernel.cpp); the on-device bundle unpacked elsewhere and run
# through its own run-tests.sh; then the Jetson configuration's CUDA code compiled for sm_87
# (device-code check: no GPU and no aarch64 CUDA target files in CI; see
# docs/cross-compiling.md). Build directories: ${ROTOR_ARM_BUILD_PREFIX:-build-ci-}<target>.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs="${ROTOR_JOBS:-2}"
prefix="${ROTOR_ARM_BUILD_PREFIX:-build-ci-}"
stage_start=$(date +%s)
step_start=$stage_start
step_done() {
  local now
  now=$(date +%s)
  echo "-- arm: $1 in $((now - step_start)) s"
  step_start=$now
}

for spec in aarch64:aarch64-linux-gnu:qemu-aarch64:aarch64-linux-gnu \
            armv7:armv7-linux-gnueabihf:qemu-arm:arm-linux-gnueabihf; do
  IFS=: read -r name toolchain qemu triple <<<"$spec"
  dir="$prefix$name"
  for tool in "$triple-g++" "$qemu"; do
    command -v "$tool" >/dev/null || { echo "arm: $tool not found (.ci/install-deps installs it)" >&2; exit 1; }
  done

  # Examples stay in the host stage: Debian's aarch64 gcc 12.2 has an internal compiler error
  # (tree vectorizer, an fmax reduction over doubles at -O3) on examples/c/rotor_example.c.
  cmake --preset "$name" -B "$dir" >/dev/null  # CMakePresets.json: toolchain, Release, -Werror
  cmake --build "$dir" -j"$jobs"
  step_done "$name build"

  ctest --test-dir "$dir" --output-on-failure -j"$jobs" --timeout 600
  # Which kernel ran: the line test_target_kernel.cpp prints (it fails on a scalar fallback).
  ctest --test-dir "$dir" -R '^TargetKernel\.ReportsTheKernelInUse$' -V | grep -F '[ KERNEL   ]' |
    sed "s/^[0-9]*: /arm: $name: /"
  step_done "$name tests under $qemu"

  # The bundle, unpacked away from the build tree and run by its own script, as on a board.
  # A filter keeps this a check of the bundle (library path, data path, both programs), not a
  # second run of the whole suite.
  bundle_dir=$(mktemp -d)
  toolchains/make-device-bundle.sh "$dir" "$bundle_dir/out" | tail -n 2
  mkdir "$bundle_dir/board"
  tar -C "$bundle_dir/board" -xzf "$bundle_dir/out/rotor-tests-"*.tar.gz
  (cd / && ROTOR_RUNNER="$qemu -L /usr/$triple" sh "$bundle_dir"/board/rotor-tests-*/run-tests.sh \
     --gtest_filter='TargetKernel.*:AllKernels/*' --gtest_brief=1)
  rm -rf "$bundle_dir"
  step_done "$name device bundle"
done

# Jetson: nvcc compiles cuda/*.cu with the Jetson toolchain's architectures (sm_87) and flags.
nvcc_path=$(command -v nvcc || true)
if [ -z "$nvcc_path" ] && [ -x /usr/local/cuda/bin/nvcc ]; then nvcc_path=/usr/local/cuda/bin/nvcc; fi
if [ -z "$nvcc_path" ]; then
  echo "################################################################################"
  echo "## SKIPPED: arm/jetson: nvcc not found; the sm_87 CUDA compile check did NOT run ##"
  echo "################################################################################"
else
  dir="${prefix}jetson"
  cuda_root=$(dirname "$(dirname "$(readlink -f "$nvcc_path")")")
  # ROTOR_CUDA=ON said here too: CUDA is opt-in (the toolchain file turns it on as well).
  cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=toolchains/jetson-orin.cmake -DROTOR_CUDA=ON \
        -DROTOR_JETSON_DEVICE_CODE_ONLY=ON -DROTOR_JETSON_CUDA_ROOT="$cuda_root" \
        -DCMAKE_BUILD_TYPE=Release -DROTOR_WERROR=ON -DROTOR_BUILD_TESTS=OFF \
        -DROTOR_BUILD_EXAMPLES=OFF >/dev/null
  log="$dir/jetson-cuda-build.log"
  cmake --build "$dir" --target rotor_cuda_kernels -j"$jobs" --verbose >"$log" 2>&1 ||
    { cat "$log"; echo "arm: Jetson CUDA compile failed" >&2; exit 1; }
  # Every .cu compiled, each with SASS for sm_87, as nvcc's command lines and the objects say.
  cu_count=$(find cuda -name '*.cu' | wc -l)
  objects=$(find "$dir" -path '*rotor_cuda_kernels.dir*' -name '*.cu.o')
  obj_count=$(echo "$objects" | grep -c . || true)
  sm87_commands=$(grep -c 'nvcc.*code=\[[^]]*sm_87' "$log" || true)
  if [ "$cu_count" -eq 0 ] || [ "$obj_count" -ne "$cu_count" ] || [ "$sm87_commands" -ne "$cu_count" ]; then
    cat "$log"
    echo "arm: expected $cu_count .cu files compiled for sm_87: $obj_count objects, $sm87_commands nvcc commands" >&2
    exit 1
  fi
  for obj in $objects; do
    # grep reads everything (no -q): with pipefail, an early exit would SIGPIPE strings and
    # fail the pipeline at random.
    strings -a "$obj" | grep -- '-arch sm_87' >/dev/null ||
      { echo "arm: $obj holds no sm_87 code" >&2; exit 1; }
  done
  echo "arm: jetson: $obj_count CUDA file(s) compiled for sm_87 by $("$nvcc_path" --version | tail -n 1)"
  step_done "jetson sm_87 CUDA compile"
fi

echo "-- arm: stage total $(($(date +%s) - stage_start)) s"
