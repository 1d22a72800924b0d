#!/usr/bin/env bash
# Native build in Release and Debug with warnings as errors; every unit test through ctest.
set -euo pipefail
# The configurations are CMakePresets.json's ci-release and ci-debug (CUDA is compiled by its own
# stage; benchmarks are built, not run, in Release only).
for type in Release Debug; do
  dir="build-ci-${type,,}"
  cmake --preset "ci-${type,,}" >/dev/null
  cmake --build "$dir" -j"${ROTOR_JOBS:-2}"
  [ "$type" = Release ] || .ci/check-isa-symbols "$dir"  # Debug: no arch/ code shared across instruction sets
  ctest --test-dir "$dir" --output-on-failure -j"${ROTOR_JOBS:-2}"
  if [ "$type" = Release ]; then
    # The whole suite again with each other kernel set this CPU runs forced (ROTOR_KERNEL).
    kernels=$(python3 -c "import ctypes, sys; l = ctypes.CDLL(sys.argv[1]); l.rotor_kernel_available.restype = ctypes.c_char_p; print(' '.join(l.rotor_kernel_available(i).decode() for i in range(1, l.rotor_kernel_count())))" "$dir/librotor.so")
    for kernel in $kernels; do
      echo "== host: ctest with ROTOR_KERNEL=$kernel"
      ROTOR_KERNEL=$kernel ctest --test-dir "$dir" --output-on-failure -j"${ROTOR_JOBS:-2}" >/dev/null ||
        { ROTOR_KERNEL=$kernel ctest --test-dir "$dir" --output-on-failure --rerun-failed; exit 1; }
    done
  fi
  if [ -x "$dir/examples/rotor_demo" ]; then "$dir/examples/rotor_demo" >/dev/null; fi
done
