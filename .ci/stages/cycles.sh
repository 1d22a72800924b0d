#!/usr/bin/env bash
# The cycle table check: regenerates docs/cycles.md (bench/cycles.py: every kernel set's hot
# loops through llvm-mca 19 for Ice Lake server, Zen 4, Neoverse N1 and Neoverse V2; no timing,
# deterministic for a given g++ and llvm-mca) and fails when a loop models more than 3% slower on
# any CPU than the committed table says.
#
# The rule: the regenerated numbers are compared with the checkout's docs/cycles.md, always. A
# change that makes a loop slower therefore passes only if it also commits the regenerated table
# (bench/cycles.py --out docs/cycles.md): the slowdown is then in the diff, reviewed. When the
# commit under test (HEAD) changed docs/cycles.md, the loops that moved more than 3% from the
# previous commit's table (git show HEAD~1:docs/cycles.md) are listed as accepted; with no
# HEAD~1 (a shallow clone) that list is skipped, never the check. Faster loops pass and are
# listed (commit the table to lock the gain in). Needs llvm-19 and g++-aarch64-linux-gnu
# (.ci/install-deps); about 1-2 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in aarch64-linux-gnu-g++ c++filt cmake; do
  command -v "$tool" >/dev/null || { echo "cycles: $tool not found (.ci/install-deps installs it)" >&2; exit 1; }
done
if ! command -v llvm-mca-19 >/dev/null && [ ! -x /usr/lib/llvm-19/bin/llvm-mca ]; then
  echo "cycles: llvm-mca-19 not found (.ci/install-deps installs llvm-19)" >&2
  exit 1
fi
if [ ! -f docs/cycles.md ]; then
  echo "cycles: no docs/cycles.md to compare with: make it with bench/cycles.py --out docs/cycles.md" >&2
  exit 1
fi
# The loop finder on layouts it must read right (a wrong rule would model the wrong loop, and the
# table would agree with itself).
python3 bench/cycles.py --self-test
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 bench/cycles.py --jobs "${ROTOR_JOBS:-2}" --out "$work/cycles.md"
previous=()
if git rev-parse --verify --quiet HEAD~1 >/dev/null && ! git diff --quiet HEAD~1 HEAD -- docs/cycles.md; then
  if git show HEAD~1:docs/cycles.md >"$work/previous.md" 2>/dev/null; then
    previous=(--previous "$work/previous.md")
  fi
fi
status=0
python3 bench/cycles.py --compare docs/cycles.md "$work/cycles.md" "${previous[@]}" || status=$?
if [ "$status" -ne 0 ]; then
  echo "cycles: if the slowdown is intended, commit the regenerated table: bench/cycles.py --out docs/cycles.md" >&2
  diff -u docs/cycles.md "$work/cycles.md" | sed -n '1,60p' >&2 || true
fi
exit "$status"
