#!/usr/bin/env bash
# Static throughput of the AArch64 NEON kernels' inner loops, simulated with llvm-mca (no ARM
# board needed; qemu timings mean nothing). Cross-compiles arch/arm/rope_neon64.cpp and
# arch/arm/attention_neon64.cpp with clang for aarch64 (-O3 -ffp-contract=off, the library's
# flags), takes each kernel's hot inner loop (the largest basic block that branches to itself in
# the named function), and runs it through llvm-mca for Cortex-A78 (Jetson Orin), Cortex-A76
# (Raspberry Pi 5) and Cortex-A55. Prints a Markdown table (docs/performance.md, "ARM").
#
#   bench/arm-mca.sh                 # the table
#   KEEP=/tmp/mca bench/arm-mca.sh   # also keep the .s files and the extracted loops there
#
# Needs clang-14 (or clang) and llvm-mca-14 (or llvm-mca), and the xsimd headers in
# /usr/include/xsimd. Which scheduling model LLVM uses for each -mcpu is printed at the end:
# LLVM 14 has no Cortex-A76/A78 model of its own and schedules both with its Cortex-A57 model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${KEEP:-$(mktemp -d)}
mkdir -p "$work/inc"
ln -sfn /usr/include/xsimd "$work/inc/xsimd"  # xsimd only, not the host's other headers
clang=$(command -v clang-14 || command -v clang)
mca=$(command -v llvm-mca-14 || command -v llvm-mca)
for f in rope_neon64 attention_neon64; do
  "$clang" --target=aarch64-linux-gnu -O3 -ffp-contract=off -std=c++17 -I"$root/src" -I"$root/include" \
    -I"$work/inc" -S "$root/arch/arm/$f.cpp" -o "$work/$f.s"
done

python3 - "$work" "$mca" <<'EOF'
import re, subprocess, sys

work, mca = sys.argv[1], sys.argv[2]

def functions(path):
    name, body = None, []
    for line in open(path):
        m = re.match(r'^(_Z[\w.]+):', line)
        if m:
            name, body = m.group(1), []
        elif name and line.startswith('.Lfunc_end'):
            yield subprocess.run(['c++filt', name], capture_output=True, text=True).stdout.strip(), body
            name = None
        elif name:
            body.append(line.rstrip('\n'))

def self_loops(body):
    loops, label, insts = [], None, []
    for line in body:
        m = re.match(r'^(\.LBB\w+):', line)
        if m:
            label, insts = m.group(1), []
            continue
        s = line.split('//')[0].strip()
        if not s or s.startswith('.'):
            continue
        insts.append(s)
        if label and re.match(r'^(b\.\w+|cbnz|cbz|tbnz|tbz|b)\s', s) and s.split()[-1] == label:
            loops.append(list(insts))
    return loops

def stored_bytes(insts):
    size = {'q': 16, 'd': 8, 's': 4}
    total = 0
    for i in insts:
        m = re.match(r'^(str|stur)\s+([qds])\d+', i)
        if m:
            total += size[m.group(2)]
        m = re.match(r'^stp\s+([qds])\d+', i)
        if m:
            total += 2 * size[m.group(1)]
    return total

# (label, .s file, function name contains, element bytes of the tensor, what one iteration does)
kernels = [
    ("rope f32 rotate_half", "rope_neon64", "rotate_half_pairs<rotor::arch_neon64::(anonymous namespace)::StoreF32>", 4),
    ("rope f32 interleaved", "rope_neon64", "rotate_interleaved_pairs<rotor::arch_neon64::(anonymous namespace)::StoreF32>", 4),
    ("rope f16 rotate_half", "rope_neon64", "rotate_half_pairs<rotor::arch_neon64::(anonymous namespace)::StoreF16>", 2),
    ("rope f16 interleaved", "rope_neon64", "rotate_interleaved_pairs<rotor::arch_neon64::(anonymous namespace)::StoreF16>", 2),
    # The word-pair loop of bf16 rotate_half branches inside (the NaN check), so it is not one
    # block; the block found is the general loop (rows past 512 pairs, and tails).
    ("rope bf16 rotate_half (general loop)", "rope_neon64", "rotate_half_bf16", 2),
    ("rope bf16 interleaved", "rope_neon64", "rotate_interleaved_pairs<rotor::arch_neon64::(anonymous namespace)::StoreBF16>", 2),
    ("attention scores (6 rows x 16 keys, one dim)", "attention_neon64", "attn_scores(", 0),
    ("attention accumulate (6 rows x 4 vectors, one key)", "attention_neon64", "attn_accumulate(", 0),
]
cpus = [("cortex-a78", "Jetson Orin (A78AE)", 2.2), ("cortex-a76", "Raspberry Pi 5", 2.4), ("cortex-a55", "A55 (e.g. RK3588 little)", 1.8)]

def simulate(loop_file, cpu):
    out = subprocess.run([mca, '-mtriple=aarch64', f'-mcpu={cpu}', '-iterations=400', loop_file],
                         capture_output=True, text=True, check=True).stdout
    cycles = int(re.search(r'Total Cycles:\s+(\d+)', out).group(1))
    rthroughput = float(re.search(r'Block RThroughput:\s+([\d.]+)', out).group(1))
    return cycles / 400, rthroughput

print("| kernel (inner loop) | instructions / iteration | elements out / iteration | CPU (-mcpu) | cycles / iteration (mca) | "
      "throughput bound (cycles) | cycles / 4-element vector out | tensor bytes / cycle (read + write) | "
      "GB/s per core at clock (compute bound) |")
print("|---|---|---|---|---|---|---|---|---|")
for label, sfile, needle, elem in kernels:
    loops = [l for name, body in functions(f"{work}/{sfile}.s") if needle in name for l in self_loops(body)]
    if not loops:
        print(f"| {label} | loop not found | | | | | | | |")
        continue
    loop = max(loops, key=len)
    path = f"{work}/{re.sub(r'[^a-z0-9]+', '_', label)}.s"
    open(path, 'w').write('\n'.join(loop) + '\n')
    fmas = sum(1 for i in loop if i.startswith('fmla'))
    for cpu, board, ghz in cpus:
        per_iter, bound = simulate(path, cpu)
        if elem:
            out_elems = stored_bytes(loop) // elem
            per_vector = per_iter / (out_elems / 4)
            bytes_per_cycle = 2 * out_elems * elem / per_iter
            print(f"| {label} | {len(loop)} | {out_elems} | {cpu} ({board}) | {per_iter:.2f} | {bound:.1f} | "
                  f"{per_vector:.2f} | {bytes_per_cycle:.1f} | {bytes_per_cycle * ghz:.1f} at {ghz} GHz |")
        else:
            print(f"| {label} | {len(loop)} | {fmas} fmla | {cpu} ({board}) | {per_iter:.2f} | {bound:.1f} | "
                  f"{per_iter / fmas:.2f} per fmla | | {8 * fmas / per_iter * ghz:.1f} GFLOP/s at {ghz} GHz |")

# Which model: identical instruction tables mean the same scheduling model.
probe = f"{work}/{re.sub(r'[^a-z0-9]+', '_', kernels[1][0])}.s"
def table(cpu):
    out = subprocess.run([mca, '-mtriple=aarch64', f'-mcpu={cpu}', '-iterations=1', '-instruction-info', probe],
                         capture_output=True, text=True).stdout
    return out[out.find('Instruction Info'):]
reference = {c: table(c) for c in ("cortex-a57", "cortex-a55", "cortex-a53", "neoverse-n1")}
print()
for cpu, _, _ in cpus:
    same = [r for r, t in reference.items() if t == table(cpu) and r != cpu]
    print(f"- -mcpu={cpu}: instruction latencies/resources identical to {', '.join(same) if same else 'no other model probed'}")
EOF
