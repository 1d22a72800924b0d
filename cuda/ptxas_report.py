#!/usr/bin/env python3
"""Reads the `ptxas -v` output of a build (nvcc -Xptxas=-v, CMake option
ROTOR_CUDA_PTXAS_VERBOSE) and prints, per kernel instantiation and GPU architecture, the
registers, spill bytes, stack frame and shared memory ptxas reports, as a Markdown table.
Exits 1 if any kernel spills (spill stores or loads above 0 bytes) or if no kernel was found.

Usage: cuda/ptxas_report.py BUILD_LOG [--require-arch sm_87 --require-arch sm_90 --require-arch sm_110]
(architecture names as ptxas prints them, three digits included: sm_110 is Jetson Thor)
"""
import argparse
import re
import sys

ENTRY = re.compile(r"Compiling entry function '([^']+)' for '(sm_\d+a?)'")
FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
USED = re.compile(r"Used (\d+) registers")
SMEM = re.compile(r"(\d+) bytes smem")
ROTATE = re.compile(r"rotate_kernelI.*?(F32|F16|BF16)Elem.*?rotor_pairing(\d)ELb(\d)E")


def readable(mangled):
    m = ROTATE.search(mangled)
    if m:
        pairing = "HALF" if m.group(2) == "0" else "INTERLEAVED"
        path = "vector" if m.group(3) == "1" else "element"
        return f"rotate_kernel<{m.group(1).lower()}, {pairing}, {path}>"
    if "take_errors_kernel" in mangled:
        return "take_errors_kernel"
    return mangled


def arch_number(arch):
    return int(re.search(r"\d+", arch).group())


def parse(lines):
    kernels = []
    current = None
    for line in lines:
        m = ENTRY.search(line)
        if m:
            current = {"name": readable(m.group(1)), "arch": m.group(2), "registers": None,
                       "stack": 0, "spill_stores": 0, "spill_loads": 0, "smem": 0}
            kernels.append(current)
            continue
        if current is None:
            continue
        m = FRAME.search(line)
        if m:
            current["stack"], current["spill_stores"], current["spill_loads"] = map(int, m.groups())
        m = USED.search(line)
        if m:
            current["registers"] = int(m.group(1))
            m = SMEM.search(line)
            current["smem"] = int(m.group(1)) if m else 0
    return kernels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("--require-arch", action="append", default=[])
    args = parser.parse_args()
    with open(args.log, errors="replace") as f:
        kernels = parse(f)
    # A build log may hold several compilations of the file: keep the last per kernel and arch.
    last = {}
    for k in kernels:
        last[(k["name"], k["arch"])] = k
    if not last:
        print("ptxas_report: no kernel found in", args.log, "(built with -Xptxas=-v?)", file=sys.stderr)
        return 1
    print("| kernel | arch | registers | spill stores (B) | spill loads (B) | stack frame (B) | shared memory (B) |")
    print("|---|---|---|---|---|---|---|")
    # Architectures in numeric order (sm_87, sm_90, sm_110), not as strings.
    for (name, arch), k in sorted(last.items(), key=lambda item: (arch_number(item[0][1]), item[0][1], item[0][0])):
        print(f"| `{name}` | {arch} | {k['registers']} | {k['spill_stores']} | {k['spill_loads']} | "
              f"{k['stack']} | {k['smem']} |")
    failed = False
    for arch in args.require_arch:
        if not any(a == arch for (_, a) in last):
            print(f"ptxas_report: no kernel compiled for {arch}", file=sys.stderr)
            failed = True
    spilling = [f"{n} ({a})" for (n, a), k in last.items() if k["spill_stores"] or k["spill_loads"]]
    if spilling:
        print("ptxas_report: spills in " + ", ".join(spilling), file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
