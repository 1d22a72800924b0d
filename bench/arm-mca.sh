#!/usr/bin/env bash
# Static throughput of the AArch64 NEON kernels' hot loops on more Arm cores than the cycle
# table's two: bench/cycles.py's neon64 rows (arch/arm/rope_neon64.cpp and attention_neon64.cpp
# compiled by the aarch64 cross g++ with the library build's own flags, each hot loop through
# llvm-mca 19; docs/cycles.md says how loops are found and what the units are). No ARM board
# needed; qemu timings mean nothing.
#
#   bench/arm-mca.sh                       # Neoverse N1 (for Cortex-A78), Neoverse V2, Cortex-A55
#   bench/arm-mca.sh --keep /tmp/mca       # also keep the assembly and the extracted loops there
#   CPUS=neoverse-n2,cortex-a510 bench/arm-mca.sh
#
# This script used to compile with clang-14 and simulate with LLVM 14, whose Cortex-A76/A78
# models were its Cortex-A57 one; LLVM 19 still schedules -mcpu=cortex-a78 that way, so the
# Neoverse N1 model (the A76 design the A78 follows) stands in for it. Needs llvm-19 and
# g++-aarch64-linux-gnu (.ci/install-deps).
set -euo pipefail
exec python3 "$(dirname "$0")/cycles.py" --sets neon64 --cpus "${CPUS:-neoverse-n1,neoverse-v2,cortex-a55}" "$@"
