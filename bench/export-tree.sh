#!/usr/bin/env bash
# The source tree of rotor at a revision, for the scripts that build two versions side by side
# (bench/compare.sh, bench/mca-trace.sh): prints its path and a key for the build directories
# (`<path> <key>` on one line). WORKTREE is this checkout as it is (key "worktree"); anything else
# `git rev-parse` takes is exported with `git archive` into WORK/src-<commit>, once (nothing
# changes in this checkout).
#
#   bench/export-tree.sh REV WORK
set -euo pipefail
rev=$1 work=$2
root=$(cd "$(dirname "$0")/.." && pwd)
if [ "$rev" = WORKTREE ]; then
  echo "$root worktree"
  exit 0
fi
key=$(git -C "$root" rev-parse --verify --quiet "$rev^{commit}") || { echo "export-tree: no commit $rev" >&2; exit 2; }
src=$work/src-$key
if [ ! -f "$src/CMakeLists.txt" ]; then
  rm -rf "$src.tmp" && mkdir -p "$src.tmp"
  git -C "$root" archive "$key" | tar -x -C "$src.tmp"
  mv "$src.tmp" "$src"
fi
echo "$src $key"
