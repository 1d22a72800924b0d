#!/usr/bin/env bash
# One kernel's cost over a whole workload on cores this machine is not, for two versions of
# rotor: builds each version's static library for x86-64 and aarch64 (Release, library only),
# links bench/prefill_workload.c (a 512-token f32 prefill, one thread) against each, runs the
# four programs under qemu-user with the kernel set forced (avx2 under `qemu-x86_64 -cpu max`,
# neon64 under qemu-aarch64), and puts the instructions each executed inside the function through
# llvm-mca (bench/mca_trace.py: the same sampled calls for both versions, branches, tails and
# rescales as they ran). Prints per CPU model the cycles of A and B and B/A. Nothing is timed:
# the same compilers, qemu and llvm-mca give the same numbers.
#
#   bench/mca-trace.sh A B [function] [every]
#   bench/mca-trace.sh 4a0a541 WORKTREE            # the attention fold (default): attn_fold
#   bench/mca-trace.sh HEAD~1 HEAD attn_fold 20     # every 20th call kept (default 7)
#
# `function`: the kernel table entry whose calls are traced (with the attn_*_rows / *_tile /
# *_block helpers it calls, matched by name prefix); avx2 has no AVX-512 (qemu 7.2 has none), so
# the x86 rows are the avx2 set's code modelled on each x86 CPU. A and B as for
# bench/compare.sh (a revision, or WORKTREE). Needs qemu-user, g++-aarch64-linux-gnu, llvm-19
# (.ci/install-deps); about 7 minutes on 2 cores, most of it llvm-mca on the aarch64 traces.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
rev_a=$1 rev_b=$2 function=${3:-attn_fold} every=${4:-7}
work=${COMPARE_DIR:-/tmp/rotor-compare}
jobs=${ROTOR_JOBS:-2}
mkdir -p "$work"
for tool in qemu-x86_64 qemu-aarch64 aarch64-linux-gnu-gcc aarch64-linux-gnu-nm; do
  command -v "$tool" >/dev/null || { echo "mca-trace: $tool not found (.ci/install-deps installs it)" >&2; exit 1; }
done

# Prints the path of the static librotor of a revision for an architecture (logs on stderr).
build_static() {
  local rev=$1 arch=$2 src key build options tree
  tree=$("$root/bench/export-tree.sh" "$rev" "$work") || exit 2
  read -r src key <<<"$tree"
  build=$work/build-static-$arch-$key
  options=(-DCMAKE_BUILD_TYPE=Release -DROTOR_BUILD_TESTS=OFF -DROTOR_BUILD_EXAMPLES=OFF -DROTOR_BUILD_BENCH=OFF
           -DROTOR_CUDA=OFF -Wno-dev)
  [ "$arch" = aarch64 ] && options+=("-DCMAKE_TOOLCHAIN_FILE=$src/toolchains/aarch64-linux-gnu.cmake")
  echo "mca-trace: building the static librotor of $rev ($key) for $arch in $build" >&2
  cmake -S "$src" -B "$build" "${options[@]}" >"$build.configure.log" 2>&1 || { cat "$build.configure.log" >&2; exit 1; }
  cmake --build "$build" -j"$jobs" --target rotor_static >"$build.log" 2>&1 || { tail -40 "$build.log" >&2; exit 1; }
  echo "$build/librotor.a"
}

# Cycles per CPU (`<cpu> <instructions> <cycles>` lines) of one version on one architecture.
trace() {
  local rev=$1 arch=$2 lib program cc nm qemu kernel cpus
  lib=$(build_static "$rev" "$arch")
  program=$work/prefill_workload-$arch-$(echo "$rev" | tr -c 'A-Za-z0-9_\n' _)
  if [ "$arch" = aarch64 ]; then
    cc=aarch64-linux-gnu-gcc nm=aarch64-linux-gnu-nm qemu=(qemu-aarch64) kernel=neon64
    cpus=neoverse-n1,neoverse-v2,cortex-a78
  else
    cc=gcc nm=nm qemu=(qemu-x86_64 -cpu max) kernel=avx2 cpus=icelake-server,znver3,znver4
  fi
  "$cc" -O2 -I"$root/include" "$root/bench/prefill_workload.c" "$lib" -lstdc++ -lm -lpthread -static -o "$program"
  # qemu's log (its stderr) into the pipe; the program's one line (kernel, an output) to stderr.
  { ROTOR_KERNEL=$kernel "${qemu[@]}" -d in_asm,exec,nochain "$program" 2>&1 >&3 |
      python3 "$root/bench/mca_trace.py" --binary "$program" --nm "$nm" --arch "$arch" --cpus "$cpus" \
        --every "$every" --entry "arch_attention_$kernel.*${function}\\(" \
        --member "arch_attention_$kernel.*${function}_(rows|tile|block)"; } 3>&2
}

echo "function $function, every $every-th call; cycles per CPU model (llvm-mca 19, one pass over the trace)"
printf '%-16s %12s %12s %8s\n' cpu "$rev_a" "$rev_b" "B/A"
for arch in x86_64 aarch64; do
  a=$(trace "$rev_a" "$arch")
  b=$(trace "$rev_b" "$arch")
  join <(echo "$a" | awk '{print $1, $3}' | sort) <(echo "$b" | awk '{print $1, $3}' | sort) |
    awk '{printf "%-16s %12d %12d %8.3f\n", $1, $2, $3, $3 / $2}'
done
