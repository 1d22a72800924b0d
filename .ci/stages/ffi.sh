#!/usr/bin/env bash
# Packaging and FFI: builds rotor (Release, shared + static), installs it to a temporary prefix,
# checks the exported symbols, then builds and runs every example against the INSTALLED package:
# C with pkg-config (shared and static) and with find_package (rotor::rotor, rotor::rotor_static).
# Then the language packages: the drift check of both bindings against rotor.h; the Python
# package (pip install ./bindings/python into a venv, its example, pytest: numpy, ONNX
# RotaryEmbedding conformance, torch where importable); the Rust crates (cargo test and cargo doc
# offline, building rotor from this repository; the demo linked to the installed rotor through
# pkg-config); rotor against Hugging Face's golden files (tests/ffi/test_golden.py, numpy
# only) through the installed library.
# Warnings as errors are the host stage's job, CUDA the cuda stage's: this one checks the package.
set -euo pipefail
cd "$(dirname "$0")/../.."
jobs="${ROTOR_JOBS:-2}"
root="$PWD/build-ffi/ci"
prefix="$root/prefix"
start=$(date +%s)
step() { echo "-- ffi [$(( $(date +%s) - start )) s] $*"; }

step "build and install to $prefix"
rm -rf "$prefix" "$root/example-c"
cmake -S . -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON \
  -DROTOR_BUILD_TESTS=OFF -DROTOR_BUILD_EXAMPLES=OFF -DROTOR_BUILD_BENCH=OFF -DROTOR_CUDA=OFF >/dev/null
cmake --build "$root/build" -j"$jobs"
cmake --install "$root/build" --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH="$(dirname "$(find "$prefix" -name rotor.pc | head -n1)")"
libdir="$(pkg-config --variable=libdir rotor)"
major="$(pkg-config --modversion rotor | cut -d. -f1)"
for f in "$prefix/include/rotor/rotor.h" "$libdir/librotor.so" "$libdir/librotor.so.$major" "$libdir/librotor.a" \
         "$libdir/cmake/rotor/rotorConfig.cmake" "$libdir/cmake/rotor/rotorConfigVersion.cmake"; do
  [ -e "$f" ] || { echo "ffi: $f was not installed"; exit 1; }
done

step "exported symbols and SONAME"
sh tests/ffi/check_symbols.sh "$libdir/librotor.so" "$prefix/include/rotor"
soname="$(readelf -d "$libdir/librotor.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')"
[ "$soname" = "librotor.so.$major" ] || { echo "ffi: SONAME is '$soname', want librotor.so.$major"; exit 1; }
echo "SONAME $soname"

step "C example with pkg-config (shared, then static)"
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags rotor) examples/c/rotor_example.c \
  -o "$root/c_pkgconfig_shared" $(pkg-config --libs rotor) -lm -Wl,-rpath,"$libdir"
"$root/c_pkgconfig_shared"
# -l:librotor.a picks the archive although librotor.so sits next to it; --static adds Libs.private.
cc -std=c99 -Wall -Wextra -Wpedantic -Werror $(pkg-config --cflags rotor) examples/c/rotor_example.c \
  -o "$root/c_pkgconfig_static" $(pkg-config --static --libs rotor | sed 's/-lrotor\b/-l:librotor.a/') -lm
"$root/c_pkgconfig_static" | tail -n1
if readelf -d "$root/c_pkgconfig_static" | grep 'NEEDED.*librotor' >/dev/null; then
  echo "ffi: the static build depends on librotor.so"; exit 1
fi

step "C example with find_package (rotor::rotor and rotor::rotor_static)"
cmake -S examples/c -B "$root/example-c" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/example-c" -j"$jobs" >/dev/null
"$root/example-c/rotor_c_example_shared" | tail -n1
"$root/example-c/rotor_c_example_static" | tail -n1
readelf -d "$root/example-c/rotor_c_example_shared" | grep "NEEDED.*librotor.so.$major" >/dev/null ||
  { echo "ffi: rotor::rotor did not link the shared library"; exit 1; }
if readelf -d "$root/example-c/rotor_c_example_static" | grep 'NEEDED.*librotor' >/dev/null; then
  echo "ffi: rotor::rotor_static linked the shared library"; exit 1
fi

step "bindings against rotor.h (bindings/check_header.py)"
python3 bindings/check_header.py

step "rotor against Hugging Face's golden files (tests/ffi/test_golden.py, numpy only)"
ROTOR_LIBRARY="$libdir/librotor.so.$major" python3 tests/ffi/test_golden.py

step "Python package: pip install ./bindings/python, example, pytest"
# --system-site-packages: numpy, onnx, onnxruntime and pytest come from install-deps; pip builds
# the package in isolation (scikit-build-core from PyPI) with this repository's CMake project.
rm -rf "$root/venv"
python3 -m venv --system-site-packages "$root/venv"
CMAKE_BUILD_PARALLEL_LEVEL="$jobs" "$root/venv/bin/python" -m pip install -q --disable-pip-version-check ./bindings/python
# gguf: llama.cpp's own GGUF writer (pure Python; numpy, pyyaml, requests, tqdm), which
# tests/test_gguf.py uses to write the model files rotor reads.
"$root/venv/bin/python" -m pip install -q --disable-pip-version-check gguf
"$root/venv/bin/python" bindings/python/examples/example.py
# From $root: `import rotor` must find the installed package, not bindings/python/src.
tests="$PWD/bindings/python/tests"
(cd "$root" && "$root/venv/bin/python" -m pytest -q -p no:cacheprovider "$tests")

step "Rust crates: cargo test, cargo doc, the demo ($(cargo --version), $(rustc --version))"
(cd bindings/rust && cargo test --offline -j "$jobs" && cargo doc --offline --no-deps -j "$jobs")
# The demo against the installed package, found by pkg-config (static librotor.a, no rpath needed).
(cd bindings/rust && ROTOR_USE_PKG_CONFIG=1 cargo run --offline -j "$jobs" --example demo)

step "passed"
