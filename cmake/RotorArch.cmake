# Per-architecture SIMD kernels (arch/), added to target `rotor` for the target processor.
#
# Each arch file is compiled with its own -m flags and only its own; everything else in the
# library (API, dispatch, CPU detection) gets none, so the library loads and runs on any CPU of
# the architecture and picks the kernels at run time (src/kernels/registry.cpp).
# ROTOR_HAVE_<ARCH> tells the registry (src/kernels/arch_kernels.hpp) which kernel sets were built.
option(ROTOR_SIMD "Build the SIMD kernels under arch/ (xsimd headers needed)" ON)
if(NOT ROTOR_SIMD)
  return()
endif()

# ---- Finding xsimd (header-only) -------------------------------------------------------------
# Host builds: the installed package (find_package). Cross builds: never the host's
# /usr/include (its headers may configure themselves for the host); a toolchain file may set
# ROTOR_XSIMD_INCLUDE to a directory holding xsimd/xsimd.hpp, otherwise only the sysroot /
# CMAKE_FIND_ROOT_PATH is searched. Keep every xsimd lookup in this block.
set(ROTOR_XSIMD_INCLUDE "" CACHE PATH "Directory holding xsimd/xsimd.hpp (overrides the search)")
set(_rotor_xsimd_dir "")
if(ROTOR_XSIMD_INCLUDE)
  set(_rotor_xsimd_dir "${ROTOR_XSIMD_INCLUDE}")
elseif(NOT CMAKE_CROSSCOMPILING)
  find_package(xsimd QUIET CONFIG)
  if(xsimd_FOUND)
    get_target_property(_rotor_xsimd_dir xsimd INTERFACE_INCLUDE_DIRECTORIES)
  else()
    find_path(_rotor_xsimd_found xsimd/xsimd.hpp)
    if(_rotor_xsimd_found)
      set(_rotor_xsimd_dir "${_rotor_xsimd_found}")
    endif()
  endif()
else()
  find_path(_rotor_xsimd_found xsimd/xsimd.hpp NO_CMAKE_SYSTEM_PATH NO_SYSTEM_ENVIRONMENT_PATH
            ONLY_CMAKE_FIND_ROOT_PATH)
  if(_rotor_xsimd_found)
    set(_rotor_xsimd_dir "${_rotor_xsimd_found}")
  endif()
endif()
if(NOT _rotor_xsimd_dir)
  # A scalar-only library is 3-8x slower than users expect: never build one by surprise.
  message(FATAL_ERROR "rotor: the SIMD kernels need the xsimd headers, which were not found. "
    "Install them (Debian/Ubuntu: apt-get install libxsimd-dev), point ROTOR_XSIMD_INCLUDE at "
    "the directory holding xsimd/xsimd.hpp, or configure with -DROTOR_SIMD=OFF for a "
    "scalar-only build.")
endif()
# ---- end of xsimd lookup ---------------------------------------------------------------------

set(_rotor_arch_dir ${CMAKE_CURRENT_LIST_DIR}/../arch)
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" _rotor_cpu)

# rotor_add_arch_source(<file> <define> <flags...>): one kernel file with its own flags.
#
# The file's instruction set is its name after the first `_` (rope_avx512bf16.cpp: avx512bf16;
# rope_avx2.cpp and attention_avx2.cpp share avx2, and their flags). xsimd's templates and
# inline functions have external linkage: rope_avx512.cpp and rope_avx512bf16.cpp, compiled with
# different flags, both emit xsimd::batch<float, avx512f>'s members (out of line in a Debug
# build), and the linker would keep one copy for both. `xsimd` is therefore a macro in these
# files, naming a namespace per instruction set (rotor_xsimd_avx512bf16, ...), so no two sets
# share a symbol; the sources still read xsimd::. .ci/check-isa-symbols checks the objects.
function(rotor_add_arch_source file define)
  get_filename_component(_isa "${file}" NAME_WE)
  string(REGEX REPLACE "^[^_]*_" "" _isa "${_isa}")
  target_sources(rotor_objects PRIVATE ${_rotor_arch_dir}/${file})
  set_source_files_properties(${_rotor_arch_dir}/${file} PROPERTIES COMPILE_OPTIONS "${ARGN}"
                              COMPILE_DEFINITIONS "xsimd=rotor_xsimd_${_isa}")
  target_compile_definitions(rotor_objects PRIVATE ${define})
endfunction()

if(_rotor_cpu MATCHES "^(x86_64|amd64)$")
  rotor_add_arch_source(x86/rope_sse2.cpp ROTOR_HAVE_SSE2 -msse2)
  rotor_add_arch_source(x86/rope_avx2.cpp ROTOR_HAVE_AVX2 -mavx2 -mfma -mf16c)
  # GCC 12's avx512fintrin.h initialises its "undefined" vectors from themselves, which
  # -Wmaybe-uninitialized reports at -O2 (a false positive inside the compiler's own header).
  rotor_add_arch_source(x86/rope_avx512.cpp ROTOR_HAVE_AVX512 -mavx512f -mavx2 -mfma -mf16c
                        $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  # AVX512_BF16 conversions for the bf16 rotations; only with a compiler that has the flag (the
  # registry then lists the set as not built).
  include(CheckCXXCompilerFlag)
  check_cxx_compiler_flag(-mavx512bf16 ROTOR_CXX_HAS_AVX512BF16)
  if(ROTOR_CXX_HAS_AVX512BF16)
    rotor_add_arch_source(x86/rope_avx512bf16.cpp ROTOR_HAVE_AVX512BF16 -mavx512f -mavx512bw -mavx512vl
                          -mavx512bf16 -mavx2 -mfma -mf16c $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
  endif()
  rotor_add_arch_source(x86/attention_avx2.cpp ROTOR_HAVE_AVX2 -mavx2 -mfma -mf16c)
  rotor_add_arch_source(x86/attention_avx512.cpp ROTOR_HAVE_AVX512 -mavx512f -mavx2 -mfma -mf16c
                        $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
elseif(_rotor_cpu MATCHES "^(aarch64|arm64)$")
  rotor_add_arch_source(arm/rope_neon64.cpp ROTOR_HAVE_NEON64)
  # GCC's first scheduling pass (before register allocation; on by default for AArch64, off for
  # x86) with its default pressure model hoisted the six rows' query (or weight) loads of a 6-row
  # tile above the multiply-adds: 6 + 4 key vectors + 24 accumulators are 34 of the 32
  # registers, and two accumulators went to the stack in every step of the key loop. The
  # weighted pressure algorithm keeps the tiles in registers: llvm-mca put the f32/f16/bf16 tiles
  # up to 14% and the fold 3-6% faster on Neoverse N1/N2/V2 and Cortex-X2, up to 26% and 29% on
  # the in-order Cortex-A55/A53/A510 (docs/performance.md, "The neon64 tiles without spills"; the
  # Q4_0 score tiles need attn_widened_first there). Not for rope_neon64.cpp, which gains nothing
  # from it. GCC only (Clang has no such parameter; Clang 14 keeps the tiles in registers
  # without one).
  rotor_add_arch_source(arm/attention_neon64.cpp ROTOR_HAVE_NEON64
                        $<$<CXX_COMPILER_ID:GNU>:--param=sched-pressure-algorithm=1>)
elseif(_rotor_cpu MATCHES "^arm")
  # -mfpu=neon only for this file: the rest of the library runs on VFP-only cores too.
  rotor_add_arch_source(arm/rope_neon.cpp ROTOR_HAVE_NEON -mfpu=neon)
else()
  return()
endif()

# Arch files include "kernels/..." from src/ and xsimd; xsimd is a build-only dependency.
target_include_directories(rotor_objects SYSTEM PRIVATE ${_rotor_xsimd_dir})
