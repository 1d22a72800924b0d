# 64-bit ARM Linux: Raspberry Pi 4/5 (64-bit OS), Graviton, Ampere, phones running Linux.
# Advanced SIMD (NEON) is part of ARMv8-A, so every aarch64 CPU runs the "neon64" kernels.
#
#   cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=toolchains/aarch64-linux-gnu.cmake
#   cmake --build build-aarch64 -j2 && ctest --test-dir build-aarch64   # tests run in qemu
#
# Needs g++-aarch64-linux-gnu (and qemu-user to run the tests here); see docs/cross-compiling.md.
# Generic ARMv8-A code unless ROTOR_AARCH64_FLAGS says otherwise (e.g. -mcpu=cortex-a76 for a
# Raspberry Pi 5): a binary for one core type then may not run on older ones.
set(ROTOR_CROSS_TRIPLE aarch64-linux-gnu)
set(ROTOR_CROSS_PROCESSOR aarch64)
set(ROTOR_CROSS_QEMU qemu-aarch64)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ROTOR_AARCH64_FLAGS)
set(ROTOR_AARCH64_FLAGS "${ROTOR_AARCH64_FLAGS}" CACHE STRING
    "Extra code-generation flags for aarch64 (empty: generic ARMv8-A)")
set(ROTOR_CROSS_ARCH_FLAGS "${ROTOR_AARCH64_FLAGS}")
include(${CMAKE_CURRENT_LIST_DIR}/rotor-cross-base.cmake)
