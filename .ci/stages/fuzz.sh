#!/usr/bin/env bash
# libFuzzer targets (clang, ASan + UBSan, tests/fuzz): each starts from its seed corpus
# (tests/fuzz/corpus/<target>.b64, one base64 input per line) and runs for a bounded time
# (ROTOR_FUZZ_SECONDS, default 60). A crash, a failed property (abort), a sanitizer report, a
# leak or a timeout fails the stage; libFuzzer prints the input that did it (and its base64),
# and the file is kept under build-ci-fuzz/artifacts/.
set -euo pipefail
cd "$(dirname "$0")/../.."
dir="${ROTOR_FUZZ_BUILD_DIR:-build-ci-fuzz}"
seconds="${ROTOR_FUZZ_SECONDS:-60}"
t0=$(date +%s)
cmake --preset ci-fuzz -B "$dir" >/dev/null  # CMakePresets.json: clang, ASan + UBSan, libFuzzer
cmake --build "$dir" -j"${ROTOR_JOBS:-2}" --target rotor_fuzzers
echo "fuzz: built in $(( $(date +%s) - t0 )) s"

export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
mkdir -p "$dir/artifacts"
for target in table apply attention vl_position_ids gguf kv_cache; do
  corpus="$dir/corpus/$target"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  python3 - "$corpus" "tests/fuzz/corpus/$target.b64" <<'PY'
import base64, hashlib, os, sys
out, seeds = sys.argv[1], sys.argv[2]
for line in open(seeds):
    line = line.strip()
    if line and not line.startswith("#"):
        data = base64.b64decode(line)
        open(os.path.join(out, hashlib.sha1(data).hexdigest()), "wb").write(data)
PY
  seeds=$(ls "$corpus" | wc -l)
  log="$dir/fuzz_$target.log"
  if ! "$dir/tests/fuzz/fuzz_$target" "$corpus" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=2048 \
      -print_final_stats=1 -artifact_prefix="$dir/artifacts/${target}-" >"$log" 2>&1; then
    tail -n 80 "$log"
    echo "fuzz: fuzz_$target FAILED"
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  echo "fuzz: fuzz_$target ran $runs inputs in ${seconds} s from $seeds seeds; corpus now $(ls "$corpus" | wc -l)"
done
echo "fuzz: stage took $(( $(date +%s) - t0 )) s"
