#!/bin/sh
# Packs a cross build's test programs into a directory and a tarball that run on the board with
# only a POSIX shell: no CMake, no compiler, no GoogleTest installed there.
#
#   toolchains/make-device-bundle.sh BUILD_DIR [OUT_DIR]
#
# BUILD_DIR: a build configured with one of the toolchains/ files (built here if needed).
# OUT_DIR:   where the bundle goes (default BUILD_DIR). Produces OUT_DIR/rotor-tests-<cpu>/ and
#            OUT_DIR/rotor-tests-<cpu>.tar.gz. On the board:
#   tar xzf rotor-tests-aarch64.tar.gz && sh rotor-tests-aarch64/run-tests.sh
set -eu

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 BUILD_DIR [OUT_DIR]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
out=${2:-$build}
src=$(cd "$(dirname "$0")/.." && pwd)
cache="$build/CMakeCache.txt"
[ -f "$cache" ] || { echo "$0: $build is not a configured CMake build" >&2; exit 2; }

cache_value() { sed -n "s/^$1:[A-Z]*=//p" "$cache" | head -n 1; }
# What CMake found out about the compiler (a toolchain file's choice is not in the cache).
compiler_value() { sed -n "s/^set($1 \"\\(.*\\)\")\$/\\1/p" "$build"/CMakeFiles/*/CMakeCXXCompiler.cmake | head -n 1; }
cpu=$(sed -n 's/^set(CMAKE_SYSTEM_PROCESSOR "\(.*\)")$/\1/p' "$build"/CMakeFiles/*/CMakeSystem.cmake | head -n 1)
[ -n "$cpu" ] || cpu=$(uname -m)

cmake --build "$build" --target rotor_tests rotor_c99_test -j"${ROTOR_JOBS:-2}"

name="rotor-tests-$cpu"
dir="$out/$name"
rm -rf "$dir" "$dir.tar.gz"
mkdir -p "$dir/bin" "$dir/lib"
cp "$build/tests/rotor_tests" "$build/tests/rotor_c99_test" "$dir/bin/"
# The C program links the shared library, under the name its loader asks for (the SONAME).
soname=$(readelf -d "$build/tests/rotor_c99_test" | sed -n 's/.*NEEDED.*\[\(librotor[^]]*\)\].*/\1/p')
if [ -n "$soname" ]; then
  cp -L "$build/$soname" "$dir/lib/$soname"
fi
if [ -d "$src/tests/data" ]; then
  cp -R "$src/tests/data" "$dir/data"
fi

# What the board must provide: its C library at least as new as the newest symbol version used.
glibc=$(for f in "$dir"/bin/* "$dir"/lib/*; do [ -f "$f" ] && readelf -V "$f"; done |
        grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1)
needed=$(for f in "$dir"/bin/* "$dir"/lib/*; do [ -f "$f" ] && readelf -d "$f"; done |
         sed -n 's/.*NEEDED.*\[\(.*\)\].*/\1/p' | sort -u | tr '\n' ' ')
{
  echo "rotor device test bundle"
  echo "target cpu:      $cpu"
  echo "compiler:        $(compiler_value CMAKE_CXX_COMPILER) $(compiler_value CMAKE_CXX_COMPILER_VERSION)"
  echo "flags:           $(cache_value CMAKE_CXX_FLAGS) $(cache_value CMAKE_CXX_FLAGS_RELEASE)"
  echo "build type:      $(cache_value CMAKE_BUILD_TYPE)"
  echo "source revision: $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "needs glibc >=   ${glibc:-unknown}"
  echo "shared libraries: $needed"
} > "$dir/MANIFEST"

cat > "$dir/run-tests.sh" <<'SCRIPT'
#!/bin/sh
# Runs rotor's unit tests on this machine. Arguments go to the GoogleTest program, e.g.
#   sh run-tests.sh --gtest_filter='Table.*'
# ROTOR_RUNNER (optional) is put in front of every program, e.g. a qemu-user command when the
# bundle is tried on another kind of machine.
set -u
here=$(cd "$(dirname "$0")" && pwd)
LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ROTOR_TEST_DATA="$here/data"
export LD_LIBRARY_PATH ROTOR_TEST_DATA
runner=${ROTOR_RUNNER:-}

cat "$here/MANIFEST"
echo "this machine:    $(uname -m), $(uname -sr)${runner:+; programs run through: $runner}"
failed=0
# $runner is split into words on purpose: it is a command with its arguments.
echo "== rotor_tests"
if ! $runner "$here/bin/rotor_tests" "$@"; then failed=$((failed + 1)); fi
echo "== rotor_c99_test (shared library through the C API)"
if $runner "$here/bin/rotor_c99_test"; then echo "rotor_c99_test: passed"; else
  echo "rotor_c99_test: FAILED"; failed=$((failed + 1)); fi

if [ "$failed" -ne 0 ]; then
  echo "== $failed of 2 test programs FAILED"
  exit 1
fi
echo "== all tests passed"
SCRIPT
chmod +x "$dir/run-tests.sh" "$dir"/bin/*

tar -C "$out" -czf "$dir.tar.gz" "$name"
echo "bundle: $dir"
echo "tarball: $dir.tar.gz ($(wc -c < "$dir.tar.gz") bytes)"
