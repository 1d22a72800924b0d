# CUDA support: the device mirror and rotation kernels of cuda/ (see docs/cuda.md).
#
#   ROTOR_CUDA=OFF (default)  not built: the rotor_cuda_* functions return ROTOR_ERR_UNSUPPORTED
#                             (src/capi/cuda_stubs.cpp), and neither librotor nor its installed
#                             CMake and pkg-config files need anything of CUDA
#   ROTOR_CUDA=ON             built; configuring fails without a CUDA compiler (nvcc). No GPU is
#                             needed to build; the tests skip their GPU part without one
#
# Opt-in, never detected: a machine that merely has nvcc (a CI image, a workstation) must not
# get a librotor that links libcudart, nor an installed package that requires its users to
# have the CUDA toolkit. The option itself is declared in CMakeLists.txt.
#
# GPU code: CMAKE_CUDA_ARCHITECTURES, or the CUDAARCHS environment variable, when set (the
# Jetson toolchain sets 87); otherwise SASS for sm_87 (Jetson Orin), sm_90 (H100/H200) and, with
# nvcc 13 or later, sm_110 (Jetson Thor), plus compute_90 PTX that the driver compiles for later
# GPUs.
#
# Layout: the kernels (cuda/*.cu) build as the object library rotor_cuda_kernels with nvcc's
# own flags (rotor's warning flags are for the host compilers); the host side (cuda/*.cpp)
# compiles into rotor with rotor's flags. Without CUDA, src/capi/cuda_stubs.cpp defines every
# rotor_cuda_* function as UNSUPPORTED instead.
#
# ROTOR_CUDA_HOST_SOURCES: the host side of cuda/ that needs no CUDA header (entry points,
# mirror, launch plan, the device-operations seam). The host tests (tests/cuda_host/) compile
# these themselves when CUDA is not built in.
include_guard(GLOBAL)

set(ROTOR_CUDA_HOST_SOURCES
  ${PROJECT_SOURCE_DIR}/cuda/api_cuda.cpp ${PROJECT_SOURCE_DIR}/cuda/mirror.cpp
  ${PROJECT_SOURCE_DIR}/cuda/launch_plan.cpp ${PROJECT_SOURCE_DIR}/cuda/device_ops.cpp)
set(ROTOR_CUDA_PTXAS_VERBOSE OFF CACHE BOOL
    "Have ptxas print registers, spills and shared memory of every kernel (the cuda CI stage reads them)")

# ROTOR_CUDA=AUTO, the former default (perhaps still in a build directory's cache), built CUDA
# whenever nvcc was found: whether that was wanted is not knowable, so it must be said again.
if(ROTOR_CUDA STREQUAL "AUTO")
  message(FATAL_ERROR "rotor: ROTOR_CUDA=AUTO is no longer accepted: CUDA is built only when asked "
    "for. Configure with -DROTOR_CUDA=ON (needs nvcc) or -DROTOR_CUDA=OFF.")
endif()
if(NOT ROTOR_CUDA)
  target_sources(rotor_objects PRIVATE ${PROJECT_SOURCE_DIR}/src/capi/cuda_stubs.cpp)
  message(STATUS "rotor: CUDA kernels not built (ROTOR_CUDA=OFF; -DROTOR_CUDA=ON builds them)")
  return()
endif()

include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "rotor: ROTOR_CUDA=ON but no CUDA compiler was found. Install the CUDA "
    "toolkit and put nvcc on PATH, or point CMAKE_CUDA_COMPILER (or the CUDACXX environment "
    "variable) at it (e.g. -DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc); or configure with "
    "-DROTOR_CUDA=OFF.")
endif()

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
  # sm_110 (Jetson Thor) exists from CUDA 13 on; CMake knows nvcc's version only after
  # enable_language, which needs the architectures first, so nvcc is asked here.
  execute_process(COMMAND "${CMAKE_CUDA_COMPILER}" --version OUTPUT_VARIABLE _rotor_nvcc_version
                  ERROR_QUIET RESULT_VARIABLE _rotor_nvcc_result)
  set(_rotor_cuda_archs "87-real;90-real")
  if(_rotor_nvcc_result EQUAL 0 AND _rotor_nvcc_version MATCHES "release ([0-9]+)\\."
     AND CMAKE_MATCH_1 GREATER_EQUAL 13)
    list(APPEND _rotor_cuda_archs "110-real")
  endif()
  list(APPEND _rotor_cuda_archs "90-virtual")
  set(CMAKE_CUDA_ARCHITECTURES "${_rotor_cuda_archs}" CACHE STRING
      "GPU code to build: sm_87 (Jetson Orin), sm_90 (Hopper), sm_110 (Jetson Thor, nvcc 13+), compute_90 PTX for later GPUs")
endif()
# One CUDA runtime in the process: the shared libcudart, for the library, tests and benchmark.
set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
message(STATUS "rotor: CUDA kernels built with nvcc ${CMAKE_CUDA_COMPILER_VERSION} for "
               "${CMAKE_CUDA_ARCHITECTURES}")

# Directory-wide compile options (ROTOR_SANITIZE's -fsanitize=..., say) are written for the
# host compilers; nvcc rejects them. On the CUDA targets they go to nvcc's host compiler through
# -Xcompiler, except the sanitizer switches (nvcc would split their comma lists; the launch
# stubs need no instrumentation for the sanitizers to work on everything else).
function(_rotor_cuda_fix_inherited_options target)
  get_target_property(_options ${target} COMPILE_OPTIONS)
  if(NOT _options)
    return()
  endif()
  set(_fixed "")
  foreach(_option IN LISTS _options)
    if(_option MATCHES "^-f(no-)?sanitize" OR _option MATCHES ",")
      continue()
    elseif(_option MATCHES "^-")
      list(APPEND _fixed "-Xcompiler=${_option}")
    else()
      list(APPEND _fixed "${_option}")
    endif()
  endforeach()
  set_property(TARGET ${target} PROPERTY COMPILE_OPTIONS "${_fixed}")
endfunction()

add_library(rotor_cuda_kernels OBJECT ${PROJECT_SOURCE_DIR}/cuda/rotate_kernels.cu)
_rotor_cuda_fix_inherited_options(rotor_cuda_kernels)
target_include_directories(rotor_cuda_kernels PRIVATE
  ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/cuda)
target_compile_definitions(rotor_cuda_kernels PRIVATE ROTOR_BUILDING_LIBRARY)
set_target_properties(rotor_cuda_kernels PROPERTIES
  CUDA_STANDARD 17
  CUDA_STANDARD_REQUIRED ON
  CUDA_EXTENSIONS OFF
  POSITION_INDEPENDENT_CODE ON
  CUDA_VISIBILITY_PRESET hidden
  CUDA_RUNTIME_LIBRARY Shared)
# --fmad=false: nothing in the kernels may be contracted into an FMA (the rotation uses the
# _rn intrinsics already; this keeps any other float expression as written, like the host's
# -ffp-contract=off).
target_compile_options(rotor_cuda_kernels PRIVATE -Xcompiler=-Wall,-Wextra --fmad=false)
if(ROTOR_CUDA_PTXAS_VERBOSE)
  target_compile_options(rotor_cuda_kernels PRIVATE -Xptxas=-v)
endif()
if(ROTOR_WERROR)
  target_compile_options(rotor_cuda_kernels PRIVATE -Werror=all-warnings -Xcompiler=-Werror)
endif()

target_sources(rotor_objects PRIVATE ${ROTOR_CUDA_HOST_SOURCES} ${PROJECT_SOURCE_DIR}/cuda/device_ops_cuda.cpp)
target_compile_definitions(rotor_objects PRIVATE ROTOR_HAVE_CUDA)
target_include_directories(rotor_objects PRIVATE ${CUDAToolkit_INCLUDE_DIRS})
if(BUILD_SHARED_LIBS)
  target_link_libraries(rotor PRIVATE rotor_cuda_kernels CUDA::cudart)
else()
  # A static rotor's link interface would name the object library, which no export set can
  # hold; its objects are in the archive itself, so it is needed only while building.
  target_link_libraries(rotor PRIVATE $<BUILD_INTERFACE:rotor_cuda_kernels> CUDA::cudart)
endif()
# The kernels' objects come in through the object library; the link stays a C++ link. rotor
# was made before CUDA was enabled, so its CUDA properties are set here.
set_target_properties(rotor PROPERTIES
  LINKER_LANGUAGE CXX
  CUDA_RUNTIME_LIBRARY Shared
  CUDA_ARCHITECTURES "${CMAKE_CUDA_ARCHITECTURES}")

# The tests call the CUDA runtime themselves (device memory, streams) when it is built in, and
# the GPU benchmark is a CUDA program. Both targets are made after this file is included, so
# the test wiring runs at the end of the top-level directory.
function(_rotor_cuda_wire_tests)
  if(TARGET rotor_tests)
    target_link_libraries(rotor_tests PRIVATE CUDA::cudart)
    target_compile_definitions(rotor_tests PRIVATE ROTOR_TEST_HAVE_CUDA=1)
  endif()
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL _rotor_cuda_wire_tests)

if(ROTOR_BUILD_BENCH)
  add_executable(rotor_bench_cuda ${PROJECT_SOURCE_DIR}/bench/bench_cuda.cu)
  _rotor_cuda_fix_inherited_options(rotor_bench_cuda)
  target_link_libraries(rotor_bench_cuda PRIVATE rotor::rotor CUDA::cudart)
  set_target_properties(rotor_bench_cuda PROPERTIES
    CUDA_STANDARD 17
    CUDA_STANDARD_REQUIRED ON
    CUDA_RUNTIME_LIBRARY Shared
    RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/bench)
endif()
