# Shared part of rotor's ARM toolchain files. Not used on its own: aarch64-linux-gnu.cmake,
# armv7-linux-gnueabihf.cmake and jetson-orin.cmake set these, then include this file:
#   ROTOR_CROSS_TRIPLE      GNU triple of the target; the compilers are <triple>-gcc / -g++
#   ROTOR_CROSS_PROCESSOR   CMAKE_SYSTEM_PROCESSOR of the target (aarch64, armv7l)
#   ROTOR_CROSS_QEMU        qemu-user program that runs the target's binaries on another host
#   ROTOR_CROSS_ARCH_FLAGS  code-generation flags for every C and C++ file (may be empty)
#
# Cache variables a user may set on the cmake command line:
#   ROTOR_CROSS_SYSROOT     a target root file system (a board image, a JetPack rootfs). Empty:
#                           Debian/Ubuntu cross packages, whose target root is /usr/<triple>.
#   ROTOR_CROSS_STATIC_RUNTIME  link libstdc++ and libgcc statically (default ON), so binaries
#                           copied to a board need only its C library.
#   CMAKE_CROSSCOMPILING_EMULATOR  what runs target programs for ctest (default: qemu, below).
#
# The toolchain file is read again for every try_compile, where the cache is not visible: the
# variables it needs are forwarded through CMAKE_TRY_COMPILE_PLATFORM_VARIABLES.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES ROTOR_CROSS_SYSROOT ROTOR_CROSS_STATIC_RUNTIME)

set(ROTOR_CROSS_SYSROOT "${ROTOR_CROSS_SYSROOT}" CACHE PATH
    "Target root file system; empty for the distribution's cross packages (/usr/<triple>)")
if(NOT DEFINED ROTOR_CROSS_STATIC_RUNTIME)
  set(ROTOR_CROSS_STATIC_RUNTIME ON)
endif()
set(ROTOR_CROSS_STATIC_RUNTIME "${ROTOR_CROSS_STATIC_RUNTIME}" CACHE BOOL
    "Link libstdc++ and libgcc statically into rotor's binaries")

# Already on the target (a Raspberry Pi, a Graviton server, a Jetson) and no other root given:
# a native build. Setting CMAKE_SYSTEM_NAME would make CMake look for libraries only under
# /usr/<triple>, which does not exist there; the same flags are used either way.
if(CMAKE_HOST_SYSTEM_PROCESSOR STREQUAL ROTOR_CROSS_PROCESSOR AND NOT ROTOR_CROSS_SYSROOT)
  set(ROTOR_CROSS_NATIVE ON)
else()
  set(ROTOR_CROSS_NATIVE OFF)
  set(CMAKE_SYSTEM_NAME Linux)
  set(CMAKE_SYSTEM_PROCESSOR ${ROTOR_CROSS_PROCESSOR})
  set(CMAKE_C_COMPILER ${ROTOR_CROSS_TRIPLE}-gcc)
  set(CMAKE_CXX_COMPILER ${ROTOR_CROSS_TRIPLE}-g++)

  if(ROTOR_CROSS_SYSROOT)
    set(CMAKE_SYSROOT "${ROTOR_CROSS_SYSROOT}")
    set(_rotor_target_root "${ROTOR_CROSS_SYSROOT}")
  else()
    # Debian's cross compilers already search /usr/<triple>; CMake's own searches are kept
    # inside it, so nothing built for the build machine (its /usr/include, its libraries and
    # package configs) leaks into the target build.
    set(_rotor_target_root "/usr/${ROTOR_CROSS_TRIPLE}")
  endif()
  set(CMAKE_FIND_ROOT_PATH "${_rotor_target_root}")
  set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
  set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
  set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

  # The build machine's nvcc makes code for the build machine's CPU only: a plain ARM cross
  # build has no CUDA unless asked for (-DROTOR_CUDA=ON); jetson-orin.cmake turns it on.
  if(NOT ROTOR_CROSS_WITH_CUDA)
    set(ROTOR_CUDA OFF CACHE STRING "Build the CUDA kernels: ON or OFF")
  endif()

  # xsimd (header-only, configured by the compiler's own predefined macros, so the same headers
  # serve every architecture). Debian installs its CMake package for amd64 only and keeps the
  # headers in the host's /usr/include, which must not be on a cross build's include path. When
  # the target root has no xsimd, a directory holding nothing but a link to the host's xsimd/
  # is made in the build tree and handed to cmake/RotorArch.cmake as ROTOR_XSIMD_INCLUDE.
  get_property(_rotor_in_try_compile GLOBAL PROPERTY IN_TRY_COMPILE)
  if(NOT _rotor_in_try_compile AND NOT ROTOR_XSIMD_INCLUDE
     AND NOT EXISTS "${_rotor_target_root}/include/xsimd/xsimd.hpp"
     AND NOT EXISTS "${_rotor_target_root}/usr/include/xsimd/xsimd.hpp")
    set(ROTOR_HOST_XSIMD_DIR "/usr/include/xsimd" CACHE PATH
        "The build machine's xsimd header directory, staged for cross builds")
    if(EXISTS "${ROTOR_HOST_XSIMD_DIR}/xsimd.hpp")
      set(_rotor_xsimd_stage "${CMAKE_BINARY_DIR}/_rotor_xsimd_include")
      file(MAKE_DIRECTORY "${_rotor_xsimd_stage}")
      file(CREATE_LINK "${ROTOR_HOST_XSIMD_DIR}" "${_rotor_xsimd_stage}/xsimd" SYMBOLIC)
      # FORCE only replaces an empty value (the branch above needs one): a user's choice stays.
      set(ROTOR_XSIMD_INCLUDE "${_rotor_xsimd_stage}" CACHE PATH
          "Directory holding xsimd/xsimd.hpp (overrides the search)" FORCE)
    endif()
  endif()

  # ctest runs every test program (and gtest_discover_tests its listing) through this.
  # -L points qemu's dynamic loader at the target's libraries.
  if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
    find_program(ROTOR_CROSS_QEMU_PROGRAM ${ROTOR_CROSS_QEMU})
    if(ROTOR_CROSS_QEMU_PROGRAM)
      set(CMAKE_CROSSCOMPILING_EMULATOR "${ROTOR_CROSS_QEMU_PROGRAM};-L;${_rotor_target_root}")
    endif()
  endif()
endif()

# Build-tree programs find librotor.so through $ORIGIN-relative run paths rather than this
# machine's absolute build path, so a copied build tree or device bundle
# (toolchains/make-device-bundle.sh) never picks up a stale library from a path on the board.
set(CMAKE_BUILD_RPATH_USE_ORIGIN ON)

if(ROTOR_CROSS_ARCH_FLAGS)
  string(APPEND CMAKE_C_FLAGS_INIT " ${ROTOR_CROSS_ARCH_FLAGS}")
  string(APPEND CMAKE_CXX_FLAGS_INIT " ${ROTOR_CROSS_ARCH_FLAGS}")
endif()
if(ROTOR_CROSS_STATIC_RUNTIME)
  # librotor.so keeps hidden visibility and a C ABI, so its private copy of libstdc++ never
  # meets the program's: no C++ object or exception crosses the boundary.
  string(APPEND CMAKE_EXE_LINKER_FLAGS_INIT " -static-libstdc++ -static-libgcc")
  string(APPEND CMAKE_SHARED_LINKER_FLAGS_INIT " -static-libstdc++ -static-libgcc")
endif()
