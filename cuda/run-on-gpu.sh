#!/usr/bin/env bash
# One command for a machine with an NVIDIA GPU: builds rotor with CUDA for that GPU, runs the
# GPU tests (and under compute-sanitizer memcheck and racecheck when it is installed), runs the
# GPU benchmark against a device-to-device copy measured in the same run and the PyTorch peer
# when torch is installed, and prints the figures as docs/performance.md shows them.
# Written to finish in one call with a 10-minute limit (build -j16: about a minute; tests and
# sanitizers a few minutes; benchmarks about a minute).
#
#   cuda/run-on-gpu.sh            everything
#   ROTOR_JOBS=8 ARCH=87-real cuda/run-on-gpu.sh     (Jetson Orin: fewer cores, sm_87)
#
# Output: build-gpu/gpu-check/ holds every log, the benchmark CSVs and summary.md.
#
# WHAT THE NEXT SESSION MUST DO with the output (the CUDA path has never run on a GPU before):
#   1. Every CudaGpu.* test must RUN and pass (none skipped); MatchesHostApplyOnRandomCases
#      must print "largest distance from the host: f32 0 ulp, f16 0 ulp, bf16 0 ulp" (the host
#      runs of the same kernel body are bit-exact; anything else is a device/host difference in
#      the intrinsics and is a bug to explain).
#   2. compute-sanitizer memcheck and racecheck: "ERROR SUMMARY: 0 errors" each.
#   3. Paste summary.md into docs/performance.md ("GPU" section) with the GPU name, driver and
#      date, and change the status line of docs/cuda.md from "not yet run on a GPU" to what ran.
#   4. Targets (issue 6): at 4096+ tokens rotor >= 85% of the copy bandwidth and >= 3x eager
#      PyTorch. Report the ratios as measured, met or not.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs="${ROTOR_JOBS:-16}"
dir=build-gpu
out="$dir/gpu-check"
status=0
step() { echo; echo "== $*"; }
fail() { echo "!! $*"; status=1; }

# ---- prerequisites: say what is missing instead of failing half way ----
command -v nvcc >/dev/null || { [ -x /usr/local/cuda/bin/nvcc ] && export PATH="/usr/local/cuda/bin:$PATH"; }
for tool in nvcc cmake python3; do
  command -v "$tool" >/dev/null || { echo "run-on-gpu: $tool not found: install it first"; exit 2; }
done
if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "run-on-gpu: no GPU visible (nvidia-smi -L fails): this script needs one"; exit 2
fi
nvidia-smi --query-gpu=name,driver_version,compute_cap,memory.total --format=csv,noheader
if [ -z "${ARCH:-}" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -n 1 | tr -d ' .')
  ARCH="${cap}-real"
fi
echo "run-on-gpu: building for CUDA architecture $ARCH with -j$jobs"

step "configure and build (CUDA, Release, ptxas report)"
mkdir -p "$out"
start=$(date +%s)
if ! cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DROTOR_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$ARCH" \
     -DROTOR_BUILD_BENCH=ON -DROTOR_BUILD_EXAMPLES=OFF -DROTOR_CUDA_PTXAS_VERBOSE=ON >"$out/configure.log" 2>&1; then
  tail -n 30 "$out/configure.log"
  echo "run-on-gpu: configure failed (GoogleTest, Google Benchmark and xsimd must be installed:"
  echo "  .ci/install-deps lists them; without network, install them from the OS packages)"
  exit 2
fi
if ! cmake --build "$dir" -j"$jobs" --target rotor_tests rotor_cuda_host_tests rotor_bench_cuda >"$out/build.log" 2>&1; then
  grep -E "error|Error" "$out/build.log" | head -n 30
  exit 2
fi
echo "built in $(( $(date +%s) - start )) s"
python3 cuda/ptxas_report.py "$out/build.log" >"$out/ptxas.md" || fail "ptxas: a kernel spills"
cat "$out/ptxas.md"

step "host runs of the CUDA code (no GPU used)"
"$dir/tests/rotor_cuda_host_tests" --gtest_brief=1 >"$out/host-tests.log" 2>&1 || fail "host tests failed"
grep -E "info|PASSED|FAILED" "$out/host-tests.log"

step "GPU tests"
timeout 300 "$dir/tests/rotor_tests" --gtest_filter='Cuda*' >"$out/gpu-tests.log" 2>&1 || fail "GPU tests failed"
grep -E "^\[ *(OK|FAILED|SKIPPED|info|PASSED) " "$out/gpu-tests.log"
if grep -q "SKIPPED" "$out/gpu-tests.log"; then fail "a GPU test was skipped: the GPU was not used"; fi

if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    step "compute-sanitizer --tool $tool (GPU tests)"
    timeout 240 compute-sanitizer --tool "$tool" --error-exitcode 1 \
      "$dir/tests/rotor_tests" --gtest_filter='CudaGpu.*' >"$out/sanitizer-$tool.log" 2>&1 ||
      fail "compute-sanitizer $tool reported errors (or timed out): see $out/sanitizer-$tool.log"
    grep -E "ERROR SUMMARY|PASSED|FAILED" "$out/sanitizer-$tool.log" | tail -n 3
  done
else
  echo "(compute-sanitizer not installed: memcheck and racecheck NOT run)"
fi

step "GPU benchmark: rotor_cuda_apply_qk vs device-to-device copy"
timeout 180 "$dir/bench/rotor_bench_cuda" --csv >"$out/bench-rotor.csv" 2>"$out/bench-rotor.err" ||
  fail "rotor_bench_cuda failed: $(tail -n 3 "$out/bench-rotor.err")"
if python3 -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  step "PyTorch peer (eager and torch.compile)"
  timeout 240 python3 bench/bench_torch_rope.py --csv --compile >"$out/bench-torch.csv" 2>"$out/bench-torch.err" ||
    timeout 120 python3 bench/bench_torch_rope.py --csv >"$out/bench-torch.csv" 2>>"$out/bench-torch.err" ||
    echo "(PyTorch benchmark failed: see $out/bench-torch.err)"
else
  echo "(torch with CUDA not installed: no PyTorch comparison)"
  : >"$out/bench-torch.csv"
fi

step "figures (docs/performance.md form)"
python3 - "$out/bench-rotor.csv" "$out/bench-torch.csv" >"$out/summary.md" <<'PY'
import csv, sys
def rows(path):
    try:
        with open(path) as f:
            return list(csv.DictReader(line for line in f if not line.startswith("#")))
    except OSError:
        return []
rotor, torch = rows(sys.argv[1]), rows(sys.argv[2])
eager = {(r["dtype"], r["tokens"]): float(r["torch_GBps"]) for r in torch if r["variant"] == "eager"}
compiled = {(r["dtype"], r["tokens"]): float(r["torch_GBps"]) for r in torch if r["variant"] == "compiled"}
print("| shape (Q [T,32,128] + K [T,8,128]) | dtype | positions | time (us) | GB/s | copy GB/s | fraction of copy | eager torch GB/s | x eager | compiled torch GB/s |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rotor:
    key = (r["dtype"], r["tokens"])
    gbs = float(r["rotor_GBps"])
    e, c = eager.get(key), compiled.get(key)
    print(f"| T={r['tokens']} | {r['dtype']} | {r['positions']} | {float(r['rotor_us']):.2f} | {gbs:.1f} | "
          f"{float(r['copy_GBps']):.1f} | {float(r['ratio']):.2f} | {e if e else ''} | "
          f"{f'{gbs / e:.2f}' if e else ''} | {c if c else ''} |")
PY
cat "$out/summary.md"
head -n 3 "$out/bench-rotor.err" 2>/dev/null
echo
if [ "$status" -eq 0 ]; then echo "== run-on-gpu: all checks passed"; else echo "== run-on-gpu: FAILURES above"; fi
echo "logs, CSVs and summary.md in $out/"
exit "$status"
