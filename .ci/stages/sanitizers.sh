#!/usr/bin/env bash
# The whole test suite (library, unit tests, C header test, examples) built and run under
# AddressSanitizer + UndefinedBehaviorSanitizer, then under ThreadSanitizer. RelWithDebInfo at
# -O1: fast enough, and still readable stacks. Any sanitizer report fails the stage: UBSan is
# built with -fno-sanitize-recover=all (cmake/RotorSanitizers.cmake) and ASan/TSan halt on the
# first error. The stress test runs more iterations here than in the plain build.
# CUDA is off: nvcc does not take -fsanitize (the cuda stage covers it).
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs="${ROTOR_JOBS:-2}"
# allocator_may_return_null: tests ask for impossible sizes on purpose (rotor_table_create of an
# arena near 2^63 bytes must report OUT_OF_MEMORY, not be killed by the sanitizer's allocator).
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1"

run_one() {
  local name="$1" sanitize="$2" iterations="$3"
  shift 3  # the rest: extra ctest arguments
  local dir="${ROTOR_SANITIZER_BUILD_PREFIX:-build-ci}-$name" t0
  t0=$(date +%s)
  # CMakePresets.json's ci-asan / ci-tsan, in the directory asked for.
  cmake --preset "ci-$name" -B "$dir" -DROTOR_SANITIZE="$sanitize" >/dev/null
  cmake --build "$dir" -j"$jobs"
  local built
  built=$(date +%s)
  ROTOR_STRESS_ITERATIONS="$iterations" ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@"
  echo "sanitizers: $name built in $((built - t0)) s, tests ran in $(( $(date +%s) - built )) s"
}

run_one asan "address;undefined" "${ROTOR_STRESS_ITERATIONS_ASAN:-300}"
# Table.UntouchedRowsCostNoResidentMemory measures resident memory: under TSan every byte the
# table writes also gets 4 bytes of shadow (2 MiB of rows show as ~11 MiB), so its bound does
# not apply there. It runs in the plain and ASan builds.
run_one tsan thread "${ROTOR_STRESS_ITERATIONS_TSAN:-300}" -E UntouchedRowsCostNoResidentMemory
