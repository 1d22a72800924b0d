# GoogleTest for a cross build (included by tests/CMakeLists.txt when CMAKE_CROSSCOMPILING).
# Distribution packages ship gtest compiled for the build machine only (Debian's libgtest-dev is
# amd64), so GoogleTest is built here from source with the target's compiler. Debian and Ubuntu
# put that source at /usr/src/googletest (package `googletest`); any GoogleTest source tree works.
# Provides the GTest::gtest and GTest::gtest_main targets that find_package(GTest) would.
set(ROTOR_GTEST_SOURCE_DIR "/usr/src/googletest/googletest" CACHE PATH
    "GoogleTest source tree built for the target in a cross build")
if(NOT EXISTS "${ROTOR_GTEST_SOURCE_DIR}/CMakeLists.txt")
  message(FATAL_ERROR "Cross build: GoogleTest source not found at ROTOR_GTEST_SOURCE_DIR="
          "'${ROTOR_GTEST_SOURCE_DIR}' (Debian/Ubuntu: apt install googletest), "
          "or configure with -DROTOR_BUILD_TESTS=OFF.")
endif()

# A function, so these settings reach GoogleTest's directory and nothing else.
function(rotor_add_cross_gtest)
  # Static gtest: the test programs then need no libgtest.so on the board.
  set(BUILD_SHARED_LIBS OFF)
  set(INSTALL_GTEST OFF)
  set(gtest_force_shared_crt OFF)
  set(CMAKE_POLICY_DEFAULT_CMP0077 NEW)  # let the plain variables above win over option()
  add_subdirectory("${ROTOR_GTEST_SOURCE_DIR}" "${PROJECT_BINARY_DIR}/_googletest" EXCLUDE_FROM_ALL)
endfunction()

if(NOT TARGET GTest::gtest)
  rotor_add_cross_gtest()
endif()
