# Packaging: what `cmake --install` puts in the prefix, and what the shared library exports.
#   <prefix>/include/rotor/*.h
#   <libdir>/librotor.so.<major> (SONAME), librotor.so.<version>, librotor.so, librotor.a
#   <libdir>/cmake/rotor/      find_package(rotor CONFIG): rotor::rotor, rotor::rotor_static
#   <libdir>/pkgconfig/rotor.pc
# Both libraries come from one build: rotor_static archives the very object files of the
# shared rotor (rotor_objects, compiled once, position independent), so the two can never differ.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
include(CheckLinkerFlag)

option(ROTOR_INSTALL "Generate rotor's install rules and package files" ${ROTOR_TOP_LEVEL})

# --- Exported symbols -------------------------------------------------------------------------
# Hidden visibility keeps rotor's own code private, but libstdc++ templates that rotor
# instantiates (std::thread's state, std::vector growth) carry default visibility from the
# standard headers and would leak into the dynamic symbol table. A version script exports the
# C API (rotor_*) and makes everything else local. tests/ffi/check_symbols.sh verifies it.
get_target_property(_rotor_type rotor TYPE)
if(_rotor_type STREQUAL "SHARED_LIBRARY" AND NOT APPLE AND NOT WIN32)
  set(_rotor_map "${PROJECT_BINARY_DIR}/rotor.map")
  file(WRITE "${_rotor_map}" "{\n  global: rotor_*;\n  local: *;\n};\n")
  check_linker_flag(CXX "-Wl,--version-script=${_rotor_map}" ROTOR_LINKER_HAS_VERSION_SCRIPT)
  if(ROTOR_LINKER_HAS_VERSION_SCRIPT)
    target_link_options(rotor PRIVATE "-Wl,--version-script=${_rotor_map}")
    set_property(TARGET rotor APPEND PROPERTY LINK_DEPENDS "${_rotor_map}")
  endif()
endif()

# The C++ runtime libraries of this compiler (libstdc++ or libc++, and libm), for static users.
set(ROTOR_CXX_RUNTIME_LIBS "")
foreach(_lib IN LISTS CMAKE_CXX_IMPLICIT_LINK_LIBRARIES)
  if(_lib MATCHES "^(stdc\\+\\+|c\\+\\+|c\\+\\+abi|m)$")
    list(APPEND ROTOR_CXX_RUNTIME_LIBS "${_lib}")
  endif()
endforeach()
list(REMOVE_DUPLICATES ROTOR_CXX_RUNTIME_LIBS)

# --- The static library next to the shared one ------------------------------------------------
# rotor's own objects, plus those of any object or static library built in this project that
# it links privately (per-architecture kernels, say); imported and system libraries are
# passed on to users of the archive, who must link them.
set(_rotor_static_extra_objects "")
set(_rotor_static_interface_libs "")
set(_rotor_config_deps "")
if(_rotor_type STREQUAL "SHARED_LIBRARY")
  get_target_property(_rotor_links rotor LINK_LIBRARIES)
  if(NOT _rotor_links)
    set(_rotor_links "")
  endif()
  foreach(_lib IN LISTS _rotor_links)
    if(TARGET "${_lib}")
      get_target_property(_lib_imported "${_lib}" IMPORTED)
      get_target_property(_lib_type "${_lib}" TYPE)
      if(NOT _lib_imported AND _lib_type MATCHES "^(OBJECT|STATIC)_LIBRARY$")
        list(APPEND _rotor_static_extra_objects "$<TARGET_OBJECTS:${_lib}>")
      elseif(_lib_imported AND _lib_type STREQUAL "INTERFACE_LIBRARY" AND NOT _lib MATCHES "::")
        # An imported header-only library (xsimd): used at rotor's compile time only.
      elseif(_lib_imported)
        list(APPEND _rotor_static_interface_libs "${_lib}")
      else()
        message(AUTHOR_WARNING "rotor_static: ${_lib} (${_lib_type}) is not carried into the archive")
      endif()
    else()
      list(APPEND _rotor_static_interface_libs "${_lib}")  # -lm, -ldl, a generator expression
    endif()
  endforeach()
  add_library(rotor_static STATIC $<TARGET_OBJECTS:rotor_objects> ${_rotor_static_extra_objects})
  set_target_properties(rotor_static PROPERTIES LINKER_LANGUAGE CXX)
  if(NOT WIN32)
    set_target_properties(rotor_static PROPERTIES OUTPUT_NAME rotor)  # librotor.a
  endif()
  target_include_directories(rotor_static INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_definitions(rotor_static INTERFACE ROTOR_STATIC_DEFINE)
  target_link_libraries(rotor_static INTERFACE ${_rotor_static_interface_libs})
  # rotor is C++ inside: a C (or Rust, or Fortran) program linking the archive needs the C++
  # runtime, which CMake adds on its own only when the user's project enables CXX.
  target_link_libraries(rotor_static INTERFACE ${ROTOR_CXX_RUNTIME_LIBS})
else()
  # rotor itself is static: rotor_static names the same library, so users can always spell it.
  add_library(rotor_static INTERFACE)
  target_link_libraries(rotor_static INTERFACE rotor)
endif()
add_library(rotor::rotor_static ALIAS rotor_static)

# --- CUDA (ROTOR_CUDA=ON): what a static user must link ---------------------------------------
# The rotor_cuda_* objects call the CUDA runtime, which librotor.so carries as a dependency of
# its own but an archive cannot: static users link the shared libcudart (one CUDA runtime in the
# process, as cmake/RotorCuda.cmake builds). The installed CMake package finds the toolkit for
# CUDA::cudart (rotor_static's interface beside a shared rotor; a static rotor's link-only
# dependency), and rotor.pc names libcudart in Libs.private, with the directory it was found in:
# CUDA ships no pkg-config file of its own.
set(_rotor_links_cuda OFF)
if(TARGET rotor_cuda_kernels)
  set(_rotor_links_cuda ON)
  set(_rotor_config_deps "find_dependency(CUDAToolkit)")
endif()

# --- Symbol check, as a test of every build that makes a shared library -----------------------
if(ROTOR_BUILD_TESTS AND _rotor_type STREQUAL "SHARED_LIBRARY" AND NOT APPLE AND NOT WIN32
   AND CMAKE_NM)
  enable_testing()
  add_test(NAME exported_symbols
    COMMAND sh "${PROJECT_SOURCE_DIR}/tests/ffi/check_symbols.sh" "$<TARGET_FILE:rotor>"
            "${PROJECT_SOURCE_DIR}/include/rotor" "${CMAKE_NM}")
endif()

if(NOT ROTOR_INSTALL)
  return()
endif()

# --- Install rules ------------------------------------------------------------------------------
set(ROTOR_CMAKE_PACKAGE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/rotor")
install(TARGETS rotor rotor_static EXPORT rotorTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/rotor" DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(EXPORT rotorTargets NAMESPACE rotor:: DESTINATION ${ROTOR_CMAKE_PACKAGE_DIR})

set(ROTOR_CONFIG_EXTRA_DEPENDENCIES "${_rotor_config_deps}")
configure_package_config_file("${CMAKE_CURRENT_LIST_DIR}/rotorConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/rotorConfig.cmake" INSTALL_DESTINATION ${ROTOR_CMAKE_PACKAGE_DIR})
# The ABI follows the major version (the SONAME carries it): any 1.x satisfies a request for 1.y.
write_basic_package_version_file("${PROJECT_BINARY_DIR}/rotorConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES "${PROJECT_BINARY_DIR}/rotorConfig.cmake" "${PROJECT_BINARY_DIR}/rotorConfigVersion.cmake"
  DESTINATION ${ROTOR_CMAKE_PACKAGE_DIR})

# rotor.pc finds its prefix relative to itself (${pcfiledir}), so the installed tree can be moved
# or installed elsewhere with `cmake --install --prefix`; absolute install dirs are used as they are.
set(_rotor_pc_dir "${CMAKE_INSTALL_LIBDIR}/pkgconfig")
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(ROTOR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(ROTOR_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH _rotor_pc_up "/prefix/${_rotor_pc_dir}" "/prefix")
  string(REGEX REPLACE "/$" "" _rotor_pc_up "${_rotor_pc_up}")
  set(ROTOR_PC_PREFIX "\${pcfiledir}/${_rotor_pc_up}")
  set(ROTOR_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(ROTOR_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(ROTOR_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
set(ROTOR_PC_LIBS_PRIVATE "-pthread")
if(_rotor_links_cuda)
  string(APPEND ROTOR_PC_LIBS_PRIVATE " -L${CUDAToolkit_LIBRARY_DIR} -lcudart")
endif()
foreach(_lib IN LISTS ROTOR_CXX_RUNTIME_LIBS)
  string(APPEND ROTOR_PC_LIBS_PRIVATE " -l${_lib}")
endforeach()
configure_file("${CMAKE_CURRENT_LIST_DIR}/rotor.pc.in" "${PROJECT_BINARY_DIR}/rotor.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/rotor.pc" DESTINATION ${_rotor_pc_dir})
