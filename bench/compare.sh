#!/usr/bin/env bash
# Two versions of rotor in one process: builds librotor at commits A and B (Release, the library
# target only), loads both into bench/rotor_compare (built from this checkout: rotor_bench's rows,
# the library called through dlopen()ed function pointers) and runs every row for each library
# in turn, several rounds, the first library alternating between rounds. Prints per row the time
# ratio B/A and each library's fraction of the read-modify-write (or memcpy) measured in the same
# run, as the median and the min-max over rounds.
#
#   bench/compare.sh A B [rounds] [rotor_compare options...]
#   bench/compare.sh d6510e1 HEAD 5
#   bench/compare.sh f455b67 WORKTREE 5 --benchmark_filter='^(apply|decode_qk)/f32/'   # rows named <row>@A, <row>@B
#   ROTOR_KERNEL=avx2 bench/compare.sh d6510e1 WORKTREE     # both libraries run that set
#   bench/compare.sh HEAD WORKTREE --prefill=512x32x8x128 --pairs=60   # an f32 attention prefill, call by call
#   bench/compare.sh HEAD WORKTREE --decode=2048x32x8x128 --pairs=200  # decode steps after 2048 cached tokens
#   COMPARE_PERF_DATA=/tmp/p.data bench/compare.sh A B 1 --prefill=512x32x8x128 --pairs=60
#       # the same run under `perf record` (call graphs); then bench/phase_shares.py /tmp/p.data
#       # prints each library's share of its forward calls spent in each phase
#
# A and B: anything `git rev-parse` takes, or WORKTREE for this checkout's files as they are
# (uncommitted changes included). Commits are exported with `git archive` (no worktree, nothing
# changes in this checkout) and built once each under $COMPARE_DIR (default /tmp/rotor-compare);
# WORKTREE is rebuilt incrementally on every call. The two libraries are loaded side by side
# from copies at distinct paths (A/librotor-a.so, B/librotor-b.so: distinct file names too, so
# that a profile's listing tells them apart) with RTLD_LOCAL, so each one's calls stay inside
# itself. Rounds default to 5; ROTOR_JOBS (default 2) sets the build's jobs.
# The library API the rows use is rotor 1.0's (a subset of every later one).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
rev_a=$1 rev_b=$2
shift 2
rounds=5
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then rounds=$1; shift; fi
work=${COMPARE_DIR:-/tmp/rotor-compare}
jobs=${ROTOR_JOBS:-2}
mkdir -p "$work"
# Only what the library needs: no tests, examples, benchmarks or CUDA (an option an old commit
# does not know is ignored by its CMake).
lib_options=(-DCMAKE_BUILD_TYPE=Release -DROTOR_BUILD_TESTS=OFF -DROTOR_BUILD_EXAMPLES=OFF
             -DROTOR_BUILD_BENCH=OFF -DROTOR_CUDA=OFF -Wno-dev)

# Prints the path of the built librotor.so for a revision (logs on stderr).
build_library() {
  local rev=$1 key src build tree
  tree=$("$root/bench/export-tree.sh" "$rev" "$work") || exit 2
  read -r src key <<<"$tree"
  build=$work/build-$key
  echo "compare: building librotor of $rev ($key) in $build" >&2
  cmake -S "$src" -B "$build" "${lib_options[@]}" >"$work/configure-$key.log" 2>&1 ||
    { cat "$work/configure-$key.log" >&2; exit 1; }
  cmake --build "$build" -j"$jobs" --target rotor >"$work/build-$key.log" 2>&1 ||
    { tail -40 "$work/build-$key.log" >&2; exit 1; }
  readlink -f "$build/librotor.so"
}

lib_a=$(build_library "$rev_a")
lib_b=$(build_library "$rev_b")
# Distinct paths even when A and B are the same commit: the loader then maps two copies.
mkdir -p "$work/A" "$work/B"
# Removed first: cp into an existing file rewrites its inode, which a hard link elsewhere (perf's
# build-id cache) would then see change under it.
rm -f "$work/A/librotor-a.so" "$work/B/librotor-b.so"
cp "$lib_a" "$work/A/librotor-a.so"
cp "$lib_b" "$work/B/librotor-b.so"

driver_build=$work/build-driver
echo "compare: building rotor_compare from $root in $driver_build" >&2
cmake -S "$root" -B "$driver_build" -DCMAKE_BUILD_TYPE=Release -DROTOR_BUILD_BENCH=ON -DROTOR_BUILD_TESTS=OFF \
  -DROTOR_BUILD_EXAMPLES=OFF -DROTOR_CUDA=OFF >"$work/configure-driver.log" 2>&1 ||
  { cat "$work/configure-driver.log" >&2; exit 1; }
cmake --build "$driver_build" -j"$jobs" --target rotor_compare >"$work/build-driver.log" 2>&1 ||
  { tail -40 "$work/build-driver.log" >&2; exit 1; }

echo "compare: load average $(cut -d' ' -f1-3 /proc/loadavg) before the run; ROTOR_KERNEL=${ROTOR_KERNEL:-(automatic)}" >&2
# Under perf when asked: sampled by CPU clock with DWARF call graphs, so that a sample is known
# by its library (A/ or B/ in the path) and by the phase functions on its stack.
profile=()
if [ -n "${COMPARE_PERF_DATA:-}" ]; then
  # -N: no copy into ~/.debug (perf script then reads the libraries where they are, until the
  # next compare.sh run replaces them).
  profile=(perf record -q -N -e cpu-clock --call-graph=dwarf,8192 -o "$COMPARE_PERF_DATA" --)
fi
"${profile[@]}" "$driver_build/bench/rotor_compare" --a="$work/A/librotor-a.so" --b="$work/B/librotor-b.so" \
  --label-a="$rev_a" --label-b="$rev_b" --rounds="$rounds" "$@"
echo "compare: load average $(cut -d' ' -f1-3 /proc/loadavg) after the run" >&2
