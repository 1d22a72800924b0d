# 32-bit ARM Linux with NEON, hard-float ABI: Raspberry Pi 2/3 on a 32-bit OS, Cortex-A7/A9/A15
# boards, BeagleBone. Compiled for ARMv7-A with NEON, so the "neon" kernels (xsimd's 32-bit
# `neon`: float batches only, the double-precision table code stays scalar) are the default.
#
#   cmake -S . -B build-armv7 -DCMAKE_TOOLCHAIN_FILE=toolchains/armv7-linux-gnueabihf.cmake
#   cmake --build build-armv7 -j2 && ctest --test-dir build-armv7       # tests run in qemu
#
# Needs g++-arm-linux-gnueabihf (and qemu-user to run the tests here).
# Debian's armhf default is ARMv7-A with VFPv3-D16 and no NEON (for NEON-less Tegra 2 and
# Marvell cores); the default below targets NEON cores instead. A board without NEON needs
# -DROTOR_ARMV7_FLAGS="-march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard" (scalar kernels only).
set(ROTOR_CROSS_TRIPLE arm-linux-gnueabihf)
set(ROTOR_CROSS_PROCESSOR armv7l)
set(ROTOR_CROSS_QEMU qemu-arm)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ROTOR_ARMV7_FLAGS)
if(NOT ROTOR_ARMV7_FLAGS)
  set(ROTOR_ARMV7_FLAGS "-march=armv7-a -mfpu=neon -mfloat-abi=hard")
endif()
set(ROTOR_ARMV7_FLAGS "${ROTOR_ARMV7_FLAGS}" CACHE STRING
    "Code-generation flags for 32-bit ARM (default: ARMv7-A, NEON, hard float)")
set(ROTOR_CROSS_ARCH_FLAGS "${ROTOR_ARMV7_FLAGS}")
include(${CMAKE_CURRENT_LIST_DIR}/rotor-cross-base.cmake)
