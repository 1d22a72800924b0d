# NVIDIA Jetson: aarch64 host code (NEON kernels, as aarch64-linux-gnu.cmake) plus the CUDA
# kernels of cuda/ for the Jetson GPU: sm_87 (Orin) unless ROTOR_JETSON_CUDA_ARCHS says other.
# Three ways to use it (docs/cross-compiling.md has the details):
#
# 1. On the Jetson itself, with JetPack's CUDA installed: a native build, every test runs there.
#      cmake -S . -B build-jetson -DCMAKE_TOOLCHAIN_FILE=toolchains/jetson-orin.cmake
#
# 2. From an x86-64 machine with NVIDIA's cross CUDA for aarch64 (JetPack's cuda-cross-aarch64
#    package: <cuda>/targets/aarch64-linux) and, optionally, the board's root file system:
#      cmake -S . -B build-jetson -DCMAKE_TOOLCHAIN_FILE=toolchains/jetson-orin.cmake \
#            -DROTOR_JETSON_SYSROOT=$HOME/nvidia/Linux_for_Tegra/rootfs
#    Without ROTOR_JETSON_SYSROOT, Debian/Ubuntu's aarch64 cross libraries are the target root.
#    ctest runs the tests in qemu-aarch64 (no GPU there: the GPU tests skip); the device bundle
#    (toolchains/make-device-bundle.sh) runs them on the board, GPU included.
#
# 3. Device-code check where no aarch64 CUDA target files exist (CI, any x86 machine with nvcc):
#      cmake -S . -B build-jetson -DCMAKE_TOOLCHAIN_FILE=toolchains/jetson-orin.cmake \
#            -DROTOR_JETSON_DEVICE_CODE_ONLY=ON
#      cmake --build build-jetson --target rotor_cuda_kernels
#    nvcc compiles cuda/*.cu with the Jetson architectures and flags; the GPU code (SASS) is
#    what runs on the Jetson, but the host half of those objects and the rest of the build are
#    for this machine's CPU, so nothing from this mode is meant to be installed or run.
#
# Cache variables:
#   ROTOR_JETSON_CUDA_ARCHS  CMAKE_CUDA_ARCHITECTURES for the board: 87 Orin (default), 72 Xavier,
#                            53 Nano (CUDA 13 compiles for 75 and later only: use JetPack's CUDA)
#   ROTOR_JETSON_SYSROOT     the Jetson's root file system (mode 2)
#   ROTOR_JETSON_CUDA_ROOT   CUDA toolkit holding nvcc (default /usr/local/cuda)
#   ROTOR_JETSON_DEVICE_CODE_ONLY  mode 3
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ROTOR_JETSON_CUDA_ARCHS ROTOR_JETSON_SYSROOT
     ROTOR_JETSON_CUDA_ROOT ROTOR_JETSON_DEVICE_CODE_ONLY)

if(NOT ROTOR_JETSON_CUDA_ARCHS)
  set(ROTOR_JETSON_CUDA_ARCHS 87)
endif()
set(ROTOR_JETSON_CUDA_ARCHS "${ROTOR_JETSON_CUDA_ARCHS}" CACHE STRING
    "CUDA architectures of the Jetson GPU (87 Orin, 72 Xavier, 53 Nano)")
if(NOT ROTOR_JETSON_CUDA_ROOT)
  set(ROTOR_JETSON_CUDA_ROOT /usr/local/cuda)
endif()
set(ROTOR_JETSON_CUDA_ROOT "${ROTOR_JETSON_CUDA_ROOT}" CACHE PATH "CUDA toolkit holding bin/nvcc")
set(ROTOR_JETSON_SYSROOT "${ROTOR_JETSON_SYSROOT}" CACHE PATH
    "Root file system of the Jetson (JetPack's Linux_for_Tegra/rootfs) for cross builds")
set(ROTOR_JETSON_DEVICE_CODE_ONLY "${ROTOR_JETSON_DEVICE_CODE_ONLY}" CACHE BOOL
    "Only check that cuda/ compiles for the Jetson GPU (no aarch64 CUDA target files needed)")

# CUDA is required, for the Jetson's GPU architectures.
set(ROTOR_CUDA ON CACHE STRING "Build the CUDA kernels: ON or OFF")
set(CMAKE_CUDA_ARCHITECTURES "${ROTOR_JETSON_CUDA_ARCHS}")
if(EXISTS "${ROTOR_JETSON_CUDA_ROOT}/bin/nvcc")
  set(CMAKE_CUDA_COMPILER "${ROTOR_JETSON_CUDA_ROOT}/bin/nvcc")
endif()

if(ROTOR_JETSON_DEVICE_CODE_ONLY)
  # Mode 3: no CMAKE_SYSTEM_NAME, so a build for this machine with the Jetson's CUDA settings.
  if(NOT CMAKE_HOST_SYSTEM_PROCESSOR MATCHES "^(aarch64|arm64)$")
    message(STATUS "jetson-orin: device-code check for sm_${ROTOR_JETSON_CUDA_ARCHS}: build the "
                   "rotor_cuda_kernels target; host code is for ${CMAKE_HOST_SYSTEM_PROCESSOR}, "
                   "not the Jetson")
  endif()
  return()
endif()

if(NOT CMAKE_HOST_SYSTEM_PROCESSOR STREQUAL "aarch64" OR ROTOR_JETSON_SYSROOT)
  # Mode 2: the build machine's nvcc with NVIDIA's aarch64 target files.
  if(NOT EXISTS "${ROTOR_JETSON_CUDA_ROOT}/targets/aarch64-linux/include/cuda_runtime.h")
    message(FATAL_ERROR
      "jetson-orin: cross compiling needs NVIDIA's CUDA for aarch64 Linux in "
      "${ROTOR_JETSON_CUDA_ROOT}/targets/aarch64-linux (JetPack's cuda-cross-aarch64 package; "
      "set ROTOR_JETSON_CUDA_ROOT if it is elsewhere). To only check that cuda/ compiles for "
      "sm_${ROTOR_JETSON_CUDA_ARCHS}, configure with -DROTOR_JETSON_DEVICE_CODE_ONLY=ON.")
  endif()
  if(ROTOR_JETSON_SYSROOT)
    # nvcc does not take CMake's sysroot for its host compiler: pass it on by hand.
    string(APPEND CMAKE_CUDA_FLAGS_INIT " -Xcompiler=--sysroot=${ROTOR_JETSON_SYSROOT}")
  endif()
endif()

# Modes 1 and 2: the aarch64 host part, shared with the other ARM toolchains (native on the
# Jetson, cross from elsewhere). nvcc hands host code to the same C++ compiler.
set(ROTOR_CROSS_TRIPLE aarch64-linux-gnu)
set(ROTOR_CROSS_PROCESSOR aarch64)
set(ROTOR_CROSS_QEMU qemu-aarch64)
set(ROTOR_CROSS_SYSROOT "${ROTOR_JETSON_SYSROOT}")
set(ROTOR_CROSS_WITH_CUDA ON)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ROTOR_AARCH64_FLAGS)
set(ROTOR_AARCH64_FLAGS "${ROTOR_AARCH64_FLAGS}" CACHE STRING
    "Extra code-generation flags for aarch64 (e.g. -mcpu=cortex-a78ae for Orin)")
set(ROTOR_CROSS_ARCH_FLAGS "${ROTOR_AARCH64_FLAGS}")
include(${CMAKE_CURRENT_LIST_DIR}/rotor-cross-base.cmake)
if(NOT ROTOR_CROSS_NATIVE)
  set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER})
endif()
