#!/usr/bin/env python3
"""The cycle table: llvm-mca's cycles for every kernel set's hot loops, per microarchitecture.

Compiles each arch/ file exactly as the library build does (the compile command CMake writes
for it, with -S instead of -c: g++ for x86-64, the aarch64 cross g++ through
toolchains/aarch64-linux-gnu.cmake), takes the hot loops out of the assembly and runs them
through llvm-mca 19 for Intel Ice Lake server and AMD Zen 4 (x86 sets) and Arm Neoverse N1 (for
Cortex-A78, which LLVM 19 models as a Cortex-A57) and Neoverse V2 (neon64). Deterministic for a given g++ and llvm-mca: no timing, nothing run.

    bench/cycles.py                            # prints the table (Markdown)
    bench/cycles.py --out docs/cycles.md       # writes the committed table
    bench/cycles.py --tree /tmp/old --out t.md # the table of another source tree (an old commit)
    bench/cycles.py --compare docs/cycles.md new.md [--previous old.md]   # the CI check
    bench/cycles.py --self-test                # the loop finder on known layouts (CI, first)

How a loop is found (the same rules for every kernel, so an old tree is measured the same way):
  * the function: the first assembly function whose demangled name matches the kernel's patterns
    (tried in order: the forward-direction instantiation where the compiler kept it apart);
  * the loop: among the function's innermost natural loops (a back edge to a block that
    dominates its source; forward branches inside are taken as not taken, which is how the
    compiler lays out the likely path; blocks laid out above the header count only where no
    back edge comes from below it, else they are a cold path that falls back into the loop) that
    multiply vectors, the one inside the most other loops, then the one with the most vector
    multiply lanes (multiplies and fused multiply-adds, times their lanes), then the longest,
    then the first;
  * calls inside the loop to a straight-line function of the same file (an out-of-line helper)
    are replaced by that function's body; other calls stay (and are listed in the notes);
  * the fold: the straight-line block of attn_fold_rows<R> with the most vector instructions (the
    exps and reductions of a whole block's rows), per 64 scores it exponentiates (counted by the
    exp's shift into the exponent field: R rows of 64, or one row where the compiler kept a loop
    over the rows). Where that block has no exp (rotor before 2026-12-07 on neon64, whose exps
    were a loop over the vectors of a row) the row is not the exp's cost: see performance.md.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MCA_ITERATIONS = 500  # for a short loop; fewer for long bodies (the steady state needs fewer)
THRESHOLD = 0.03  # a loop more than 3% slower on any CPU fails --compare

# (architecture, CPUs it is modelled on). The columns of the table, in this order.
# LLVM 19's -mcpu=cortex-a78 schedules with its Cortex-A57 model (one 128-bit multiply a cycle,
# 10-cycle fmla; a78_model below checks it when the table is made): Neoverse N1, the Cortex-A76
# design the A78 follows with the same two 128-bit FP/SIMD pipes, stands in for it.
CPUS = {"x86_64": ["icelake-server", "znver4"], "aarch64": ["neoverse-n1", "neoverse-v2"]}
ALL_SETS = ["sse2", "avx2", "avx512", "avx512bf16", "neon64"]

# The sets and the files their kernels are in (the rotation of avx512bf16 is bf16 only; its other
# kernels are avx512's).
ROTATION_FILES = [("sse2", "x86_64", "arch/x86/rope_sse2.cpp"), ("avx2", "x86_64", "arch/x86/rope_avx2.cpp"),
                  ("avx512", "x86_64", "arch/x86/rope_avx512.cpp"),
                  ("avx512bf16", "x86_64", "arch/x86/rope_avx512bf16.cpp"),
                  ("neon64", "aarch64", "arch/arm/rope_neon64.cpp")]
ATTENTION_FILES = [("avx2", "x86_64", "arch/x86/attention_avx2.cpp"),
                   ("avx512", "x86_64", "arch/x86/attention_avx512.cpp"),
                   ("neon64", "aarch64", "arch/arm/attention_neon64.cpp")]

NS = r"[^<>]*"  # a namespace-qualified name inside template arguments
# Rotation kernels: (name, function patterns in order of preference).
# Two heads per pass where the set has both (2u; interleaved 3u, two heads in place), one head
# in 1.0's code; the one-head kernels the registry gives AMD's Zen cores (1u) as rows of their own.
ROTATIONS = [
    ("rotate f32 half", [rf"rotate_half_pairs_dir<{NS}StoreF32, false(?:, 2u)?>", rf"rotate_half_pairs<{NS}StoreF32(?:, 2u)?>"]),
    ("rotate f32 half, one head a pass", [rf"rotate_half_pairs_dir<{NS}StoreF32, false, 1u>",
                                          rf"rotate_half_pairs<{NS}StoreF32, 1u>"]),
    ("rotate f32 interleaved", [rf"rotate_interleaved_pairs<{NS}StoreF32(?:, 3u)?>"]),
    ("rotate f32 interleaved, one head a pass", [rf"rotate_interleaved_pairs<{NS}StoreF32, 1u>"]),
    ("rotate f16 half", [rf"rotate_half_pairs_dir<{NS}StoreF16, false(?:, 2u)?>", rf"rotate_half_pairs<{NS}StoreF16(?:, 2u)?>"]),
    ("rotate f16 half, one head a pass", [rf"rotate_half_pairs_dir<{NS}StoreF16, false, 1u>",
                                          rf"rotate_half_pairs<{NS}StoreF16, 1u>"]),
    ("rotate f16 interleaved", [rf"rotate_interleaved_pairs<{NS}StoreF16(?:, 3u)?>"]),
    ("rotate f16 interleaved, one head a pass", [rf"rotate_interleaved_pairs<{NS}StoreF16, 1u>"]),
    ("rotate bf16 half", [r"rotate_half_bf16_dir<false>", r"rotate_half_bf16\("]),
    ("rotate bf16 interleaved", [r"rotate_interleaved_bf16_dir<false>", r"rotate_interleaved_bf16\("]),
]
# Attention: (name, function patterns, unit). The tiles' full instantiations: 6 rows and the most
# key vectors the file has (attn_score_tile<E, 6, V> with the largest V is found by sorting).
ATTENTION = [
    ("attention score tile f32", [rf"attn_score_tile<{NS}AttnF32, 6u, (\d)u>"], "mac"),
    ("attention score tile f16", [rf"attn_score_tile<{NS}AttnF16, 6u, (\d)u>"], "mac"),
    ("attention score tile bf16", [rf"attn_score_tile<{NS}AttnBF16, 6u, (\d)u>"], "mac"),
    ("attention value tile f32", [rf"attn_accumulate_tile<{NS}AttnF32, 6u, (\d)u>"], "mac"),
    ("attention value tile f16", [rf"attn_accumulate_tile<{NS}AttnF16, 6u, (\d)u>"], "mac"),
    ("attention value tile bf16", [rf"attn_accumulate_tile<{NS}AttnBF16, 6u, (\d)u>"], "mac"),
    ("attention fold", [r"attn_fold_rows<(\d)u>\("], "fold"),
    # A decode step's tiles (a group of 4 query rows per kv head, GQA 32/8): f16 beside the
    # quantized caches' tiles, which widen the numbers and multiply by the scales in the loop.
    ("attention score tile f16, 4 rows", [rf"attn_score_tile<{NS}AttnF16, 4u, (\d)u>"], "mac"),
    ("attention score tile q8_0, 4 rows", [rf"attn_score_tile<{NS}AttnQ8, 4u, (\d)u>"], "mac"),
    ("attention score tile q4_0, 4 rows", [rf"attn_score_tile<{NS}AttnQ4, 4u, (\d)u>"], "mac"),
    ("attention value tile f16, 4 rows", [rf"attn_accumulate_tile<{NS}AttnF16, 4u, (\d)u>"], "mac"),
    ("attention value tile q8_0, 4 rows", [rf"attn_accumulate_tile<{NS}AttnQ8, 4u, (\d)u>"], "mac"),
    ("attention value tile q4_0, 4 rows", [rf"attn_accumulate_tile<{NS}AttnQ4, 4u, (\d)u>"], "mac"),
    # The AVX-512 set's AMD Zen variant (src/kernels/arch_kernels.hpp): the same tiles with each
    # row's query element or weight read by the multiply-adds (arch/common/attention_kernel_body.hpp,
    # AttnInFma). The rows above do not match these names.
    ("attention score tile f32, Zen variant", [rf"attn_score_tile<{NS}AttnInFma<{NS}AttnF32>, 6u, (\d)u>"], "mac"),
    ("attention score tile f16, Zen variant", [rf"attn_score_tile<{NS}AttnInFma<{NS}AttnF16>, 6u, (\d)u>"], "mac"),
    ("attention score tile bf16, Zen variant", [rf"attn_score_tile<{NS}AttnInFma<{NS}AttnBF16>, 6u, (\d)u>"], "mac"),
    ("attention value tile f32, Zen variant", [rf"attn_accumulate_tile<{NS}AttnInFma<{NS}AttnF32>, 6u, (\d)u>"], "mac"),
    ("attention value tile f16, Zen variant", [rf"attn_accumulate_tile<{NS}AttnInFma<{NS}AttnF16>, 6u, (\d)u>"], "mac"),
    ("attention value tile bf16, Zen variant", [rf"attn_accumulate_tile<{NS}AttnInFma<{NS}AttnBF16>, 6u, (\d)u>"], "mac"),
    ("attention score tile f16, 4 rows, Zen variant", [rf"attn_score_tile<{NS}AttnInFma<{NS}AttnF16>, 4u, (\d)u>"], "mac"),
    ("attention score tile q8_0, 4 rows, Zen variant", [rf"attn_score_tile<{NS}AttnInFma<{NS}AttnQ8>, 4u, (\d)u>"], "mac"),
    ("attention score tile q4_0, 4 rows, Zen variant", [rf"attn_score_tile<{NS}AttnInFma<{NS}AttnQ4>, 4u, (\d)u>"], "mac"),
    ("attention value tile f16, 4 rows, Zen variant", [rf"attn_accumulate_tile<{NS}AttnInFma<{NS}AttnF16>, 4u, (\d)u>"], "mac"),
    ("attention value tile q8_0, 4 rows, Zen variant", [rf"attn_accumulate_tile<{NS}AttnInFma<{NS}AttnQ8>, 4u, (\d)u>"], "mac"),
    ("attention value tile q4_0, 4 rows, Zen variant", [rf"attn_accumulate_tile<{NS}AttnInFma<{NS}AttnQ4>, 4u, (\d)u>"], "mac"),
]


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def tool(*names):
    for n in names:
        p = shutil.which(n) or (n if os.path.exists(n) else None)
        if p:
            return p
    sys.exit(f"cycles: none of {', '.join(names)} found (apt-get install llvm-19 g++-aarch64-linux-gnu)")


# ---- building the assembly ------------------------------------------------------------------

def configure(tree, work, arch):
    """Configures the tree (library only) and returns its compile commands by source path."""
    build = os.path.join(work, f"build-{arch}")
    opts = ["-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON", "-DROTOR_BUILD_TESTS=OFF",
            "-DROTOR_BUILD_EXAMPLES=OFF", "-DROTOR_BUILD_BENCH=OFF", "-DROTOR_CUDA=OFF", "-Wno-dev"]
    if arch == "aarch64":
        opts.append(f"-DCMAKE_TOOLCHAIN_FILE={tree}/toolchains/aarch64-linux-gnu.cmake")
    run(["cmake", "-S", tree, "-B", build] + opts)
    commands = {}
    for e in json.load(open(os.path.join(build, "compile_commands.json"))):
        commands[os.path.relpath(os.path.realpath(e["file"]), os.path.realpath(tree))] = e
    return commands


def compile_to_asm(entry, out):
    """The library's compile command of one file, with -S (and without -o/-c's object)."""
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    i = args.index("-o")
    del args[i:i + 2]
    args[args.index("-c")] = "-S"
    run(args + ["-o", out], cwd=entry["directory"])
    return out


# ---- reading the assembly -------------------------------------------------------------------

class Asm:
    """One .s file: its functions (mangled name -> lines) and their demangled names."""

    def __init__(self, path, arch):
        self.arch = arch
        self.functions = {}
        name, body = None, []
        for line in open(path):
            line = line.rstrip("\n")
            m = re.match(r"^(_Z[\w.$]+):", line)
            if m:
                name, body = m.group(1), []
                self.functions[name] = body
                continue
            if name is None:
                continue
            if re.match(r"^\s*\.size\s+" + re.escape(name) + r",", line):
                name = None
                continue
            body.append(line)
        names = list(self.functions)
        demangled = run(["c++filt"], input="\n".join(names)).split("\n") if names else []
        self.demangled = dict(zip(names, demangled))

    def find(self, patterns):
        """The first function matching the first pattern that matches any (demangled names)."""
        for pattern in patterns:
            hits = [(n, re.search(pattern, d)) for n, d in self.demangled.items()]
            hits = [(n, m) for n, m in hits if m and not self.demangled[n].endswith("[clone .cold]")]
            if hits:
                # With a captured group (a tile's key vectors, a fold's rows), the largest one.
                hits.sort(key=lambda h: -int(h[1].group(1)) if h[1].groups() else 0)
                return hits[0][0], hits[0][1]
        return None, None


def strip_comment(line, arch):
    if arch == "x86_64":
        line = line.split("#")[0]
    return line.split("//")[0].strip()


def parse(lines, arch):
    """(instructions, labels): instructions as text, labels as {name: index of the next instruction}."""
    insts, labels = [], {}
    for raw in lines:
        s = strip_comment(raw, arch)
        if not s:
            continue
        m = re.match(r"^([.\w$]+):\s*(.*)$", s)
        if m:
            labels[m.group(1)] = len(insts)
            s = m.group(2)
            if not s:
                continue
        if s.startswith("."):
            continue  # directive
        insts.append(s)
    return insts, labels


def mnemonic(inst):
    return inst.split()[0]


# b.eq or, as GCC writes it, beq (and bls, bcc, ...).
AARCH64_CONDITIONAL = r"^b\.?(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al|nv)$"


def branch_target(inst, arch):
    """The label a branch goes to, or None (not a branch, or an indirect one)."""
    op = mnemonic(inst)
    if arch == "x86_64":
        if not op.startswith("j"):
            return None
    elif not (op in ("b", "cbz", "cbnz", "tbz", "tbnz") or re.match(AARCH64_CONDITIONAL, op)):
        return None
    target = inst.split()[-1].split(",")[-1]
    return target if target.startswith(".L") else None


def is_call(inst, arch):
    return mnemonic(inst) in (("call",) if arch == "x86_64" else ("bl",))


def is_ret(inst):
    return mnemonic(inst) in ("ret", "retq")


def vector_lanes(inst, arch):
    """Multiply lanes of a vector float multiply or fused multiply-add (0 for anything else)."""
    op = mnemonic(inst)
    if arch == "x86_64":
        if not re.match(r"^v?(mulps|f[n]?m(add|sub)\d*ps)$", op):
            return 0
        return 16 if "%zmm" in inst else 8 if "%ymm" in inst else 4
    if op not in ("fmul", "fmla", "fmls"):
        return 0
    m = re.search(r"\bv\d+\.(\d+)s\b", inst)
    return int(m.group(1)) if m else 0


def exp_lanes(inst, arch):
    """Lanes of the fold's exp that `inst` finishes: each exp builds 2^n with one shift left by 23
    (the exponent field), which nothing else in the fold does (0 for any other instruction)."""
    op = mnemonic(inst)
    if arch == "x86_64":
        if op != "vpslld" or not re.match(r"^\s*vpslld\s+\$23,", inst):
            return 0
        return 16 if "%zmm" in inst else 8 if "%ymm" in inst else 4
    if op != "shl" or not re.search(r",\s*#?23\s*$", inst):
        return 0
    m = re.search(r"\bv\d+\.(\d+)s\b", inst)
    return int(m.group(1)) if m else 0


def is_fma(inst, arch):
    op = mnemonic(inst)
    return bool(re.match(r"^vf[n]?m(add|sub)\d*ps$", op)) if arch == "x86_64" else op in ("fmla", "fmls")


def blocks_of(insts, labels, arch):
    """Basic blocks as (first, last) instruction indices, in layout order, and their successors."""
    starts = sorted({0} | {i for i in labels.values() if i < len(insts)} |
                    {i + 1 for i, x in enumerate(insts) if i + 1 < len(insts) and
                     (branch_target(x, arch) is not None or is_ret(x) or mnemonic(x) in ("jmp", "b", "br"))})
    blocks = [(s, (starts[k + 1] if k + 1 < len(starts) else len(insts)) - 1) for k, s in enumerate(starts)]
    index = {s: k for k, (s, _) in enumerate(blocks)}
    succ = []
    for k, (_, last) in enumerate(blocks):
        x, out = insts[last], []
        t = branch_target(x, arch)
        if t is not None and t in labels and labels[t] in index:
            out.append(index[labels[t]])
        unconditional = is_ret(x) or mnemonic(x) in ("jmp", "b", "br")
        if not unconditional and k + 1 < len(blocks):
            out.append(k + 1)
        succ.append(out)
    return blocks, succ


def natural_loops(insts, labels, arch):
    """The function's loops (a back edge to a block that dominates its source, and every block
    that reaches the source without passing the header), as (first, last, blocks): first and last
    the instruction range of the loop's blocks laid out next to each other around the header (the
    likely path, as the compiler lays it out; a cold block placed elsewhere that jumps back is left
    out). A cold block that jumps back into a loop is no loop of its own (its target does not
    dominate it)."""
    blocks, succ = blocks_of(insts, labels, arch)
    n = len(blocks)
    pred = [[] for _ in range(n)]
    for u, vs in enumerate(succ):
        for v in vs:
            pred[v].append(u)
    order, seen = [], set()

    def dfs(u):  # iterative post-order from the entry
        stack = [(u, iter(succ[u]))]
        seen.add(u)
        while stack:
            node, it = stack[-1]
            for v in it:
                if v not in seen:
                    seen.add(v)
                    stack.append((v, iter(succ[v])))
                    break
            else:
                order.append(node)
                stack.pop()
    dfs(0)
    rpo = list(reversed(order))
    rank = {u: k for k, u in enumerate(rpo)}
    idom = {0: 0}

    def intersect(a, b):
        while a != b:
            while rank[a] > rank[b]:
                a = idom[a]
            while rank[b] > rank[a]:
                b = idom[b]
        return a
    changed = True
    while changed:
        changed = False
        for u in rpo[1:]:
            ps = [p for p in pred[u] if p in idom]
            if not ps:
                continue
            new = ps[0]
            for p in ps[1:]:
                new = intersect(p, new)
            if idom.get(u) != new:
                idom[u], changed = new, True

    def dominates(h, u):
        while True:
            if u == h:
                return True
            if u == 0 or u not in idom:
                return False
            u = idom[u]
    loops_by_header = {}
    for u in rank:
        for h in succ[u]:
            if h in rank and dominates(h, u):
                loops_by_header.setdefault(h, []).append(u)
    found = []
    for h, sources in sorted(loops_by_header.items()):
        body, work = {h}, [x for x in sources if x != h]
        body.update(work)
        while work:
            u = work.pop()
            for p in pred[u]:
                if p not in body and p in rank:
                    body.add(p)
                    work.append(p)
        lo = hi = h
        # Blocks laid out before the header belong to the likely path only where the loop's
        # latch is among them (a loop entered at its test, laid out below the body). Where a
        # back edge comes from below the header, a block above it is a cold path that returns
        # into the loop (the avx512bf16 bf16 rotations' subnormal rounding, placed before the
        # loop it falls through into), and the loop is laid out from its header down.
        if not any(u > h for u in sources):
            while lo - 1 in body:
                lo -= 1
        while hi + 1 in body:
            hi += 1
        found.append((blocks[lo][0], blocks[hi][1], frozenset(body)))
    return found


def innermost(all_loops):
    return [l for l in all_loops if not any(o is not l and o[2] < l[2] for o in all_loops)]


def splice_calls(body, asm):
    """Calls to straight-line functions of the same file replaced by their bodies; the calls
    that stay (library functions, functions with branches) are returned by name."""
    out, kept = [], []
    for inst in body:
        if is_call(inst, asm.arch):
            callee = inst.split()[-1].split("@")[0]
            if callee in asm.functions:
                ci, _ = parse(asm.functions[callee], asm.arch)
                inner = [x for x in ci if not is_ret(x)]
                if ci and is_ret(ci[-1]) and not any(branch_target(x, asm.arch) or is_call(x, asm.arch) or is_ret(x)
                                                     for x in inner):
                    out.extend(inner)
                    continue
            kept.append(short_name(asm.demangled.get(callee, callee)) if callee in asm.demangled else callee)
        out.append(inst)
    return out, kept


def short_name(demangled):
    """rotate_half_pairs_dir<StoreF32, false> from the demangled name (no namespaces, no arguments)."""
    name = re.sub(r"\b\w+::", "", demangled.replace("(anonymous namespace)::", "").split("(")[0]).strip()
    depth, cut = 0, 0
    for i, ch in enumerate(name):  # drop a return type: up to the last space outside <...>
        depth += (ch == "<") - (ch == ">")
        if ch == " " and depth == 0:
            cut = i + 1
    return name[cut:]


def lanes_of(body, arch):
    return sum(vector_lanes(i, arch) for i in body)


def hot_loop(insts, labels, arch):
    """The innermost loop with vector multiplies that is nested deepest (a rotation's loop over a
    head's vectors sits inside the heads loop, its once-a-token row expansion does not), then the
    one with the most multiply lanes (two heads per pass before one), the longest, the first.
    Returned as its instruction range from the header to the back edge, in layout order."""
    every = natural_loops(insts, labels, arch)

    def depth(l):
        return sum(1 for o in every if o is not l and o[2] > l[2])
    candidates = [l for l in innermost(every) if lanes_of(insts[l[0]:l[1] + 1], arch) > 0 and l[1] >= l[0]]
    if not candidates:
        return None
    best = max(candidates, key=lambda l: (depth(l), lanes_of(insts[l[0]:l[1] + 1], arch), l[1] - l[0], -l[0]))
    return best[0], best[1]


def largest_block(insts, labels, arch):
    """The straight-line block (between labels and branches) with the most vector instructions."""
    starts = sorted(set(labels.values()) | {0})
    blocks, begin = [], 0
    for i, inst in enumerate(insts):
        if i in starts and i > begin:
            blocks.append((begin, i - 1))
            begin = i
        if branch_target(inst, arch) is not None or is_ret(inst):
            blocks.append((begin, i))
            begin = i + 1
    if begin < len(insts):
        blocks.append((begin, len(insts) - 1))
    reg = "%zmm|%ymm|%xmm" if arch == "x86_64" else r"\bv\d+\.|\bq\d+"
    return max(blocks, key=lambda b: (sum(1 for x in insts[b[0]:b[1] + 1] if re.search(reg, x)), -b[0]))


# Layouts the loop finder must read right, as GCC emits them (x86 syntax; the hot loop's first
# and last instruction by their text). --self-test runs them (CI's cycles stage, first).
LAYOUT_CASES = [
    ("a loop entered at its header", """
        xorl %eax, %eax
    .L1:
        vmulps %ymm0, %ymm1, %ymm2
        addl $1, %eax
        cmpl %esi, %eax
        jne .L1
        ret""", ("vmulps %ymm0, %ymm1, %ymm2", "jne .L1")),
    ("a loop entered at its test, laid out below its body", """
        jmp .L2
    .L1:
        vmulps %ymm0, %ymm1, %ymm2
        addl $1, %eax
    .L2:
        cmpl %esi, %eax
        jb .L1
        ret""", ("vmulps %ymm0, %ymm1, %ymm2", "jb .L1")),
    ("a cold path laid out above the header, falling back into the loop", """
        jmp .L2
    .L3:
        vmulps %ymm5, %ymm5, %ymm6
        vmulps %ymm6, %ymm6, %ymm7
        vmovups %ymm7, (%rdi)
    .L2:
        vmulps %ymm0, %ymm1, %ymm2
        vptest %ymm2, %ymm2
        jne .L3
        addl $1, %eax
        cmpl %esi, %eax
        jb .L2
        ret""", ("vmulps %ymm0, %ymm1, %ymm2", "jb .L2")),
]


def self_test():
    """0 when hot_loop finds each LAYOUT_CASES loop, else 1 (what it found is printed)."""
    failed = 0
    for name, text, (first, last) in LAYOUT_CASES:
        insts, labels = parse(text.strip().splitlines(), "x86_64")
        loop = hot_loop(insts, labels, "x86_64")
        found = tuple(" ".join(insts[i].split()) for i in loop) if loop else None
        if found != (first, last):
            print(f"cycles self-test: {name}: found {found}, expected ({first!r}, {last!r})")
            failed = 1
    if not failed:
        print(f"cycles self-test: {len(LAYOUT_CASES)} loop layouts read right")
    return failed


# ---- llvm-mca -------------------------------------------------------------------------------

def mca_cycles(mca, arch, cpu, body, work, tag):
    """Cycles per iteration of `body` in llvm-mca's steady state."""
    path = os.path.join(work, f"{tag}.{cpu}.s")
    # Branches become plain instructions of the block; labels they name need not exist.
    text = "\n".join(body) + "\n"
    if arch == "x86_64":
        text = "\t.att_syntax\n" + text
    open(path, "w").write(text)
    triple = "x86_64-unknown-linux-gnu" if arch == "x86_64" else "aarch64-unknown-linux-gnu"
    iterations = mca_iterations(body)
    out = run([mca, f"-mtriple={triple}", f"-mcpu={cpu}", f"-iterations={iterations}", path])
    return int(re.search(r"Total Cycles:\s+(\d+)", out).group(1)) / iterations


def mca_iterations(body):
    """500 iterations; about 200,000 instructions in all for bodies past 400 instructions (the
    steady state needs fewer iterations of a long body: a 5,000-instruction body modelled 40 times
    is within 0.2% of 500 times, in a tenth of the time)."""
    return max(40, min(MCA_ITERATIONS, 200000 // max(1, len(body))))


# ---- the table ------------------------------------------------------------------------------

def measure(tree, work, mca, jobs, sets, cpus):
    """Rows for the kernel sets `sets`, each modelled on the CPUs cpus[its architecture]."""
    files = [f for f in ROTATION_FILES + ATTENTION_FILES if f[0] in sets]
    commands = {arch: configure(tree, work, arch) for arch in sorted({f[1] for f in files})}
    sources = {}
    for kset, arch, path in files:
        if path in commands[arch] and os.path.exists(os.path.join(tree, path)):
            sources[path] = arch
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {path: pool.submit(compile_to_asm, commands[arch][path],
                                     os.path.join(work, os.path.basename(path) + ".s"))
                   for path, arch in sources.items()}
        asm = {path: Asm(f.result(), sources[path]) for path, f in futures.items()}

    rows = []

    # units: what one iteration of body produces (elements, multiply-adds, scores)
    def add(kset, arch, label, unit, body, units, note):
        rows.append(dict(set=kset, loop=label, unit=unit, insts=len(body), arch=arch, body=body, units=units,
                         note=note))

    for kset, arch, path in ROTATION_FILES:
        if path not in asm:
            continue
        a = asm[path]
        for label, patterns in ROTATIONS:
            name, _ = a.find(patterns)
            if name is None:
                continue
            insts, labels = parse(a.functions[name], arch)
            loop = hot_loop(insts, labels, arch)
            if loop is None:
                continue
            body, kept = splice_calls(insts[loop[0]:loop[1] + 1], a)
            elements = lanes_of(insts[loop[0]:loop[1] + 1], arch) / 2  # two multiplies per output element
            note = short_name(a.demangled[name]) + ("; calls " + ", ".join(sorted(set(kept))) if kept else "")
            add(kset, arch, label, "rot", body, elements, note)
    for kset, arch, path in ATTENTION_FILES:
        if path not in asm:
            continue
        a = asm[path]
        for label, patterns, unit in ATTENTION:
            name, m = a.find(patterns)
            if name is None:
                continue
            insts, labels = parse(a.functions[name], arch)
            if unit == "fold":
                block = largest_block(insts, labels, arch)
                body, kept = splice_calls(insts[block[0]:block[1] + 1], a)
                # The scores whose exp the block computes (R rows of 64 where the compiler
                # unrolled the rows; one row where it kept a loop over them, as for avx2's
                # streamed fold); R rows of 64 where the block has no exp.
                units = sum(exp_lanes(i, arch) for i in body) or int(m.group(1)) * 64
            else:
                loop = hot_loop(insts, labels, arch)
                if loop is None:
                    continue
                body, kept = splice_calls(insts[loop[0]:loop[1] + 1], a)
                units = sum(vector_lanes(i, arch) for i in body if is_fma(i, arch))  # multiply-adds
                if units == 0:
                    continue
            note = short_name(a.demangled[name]) + ("; calls " + ", ".join(sorted(set(kept))) if kept else "")
            add(kset, arch, label, unit, body, units, note)
    # Every row for every CPU of its architecture.
    tasks = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for n, row in enumerate(rows):
            for cpu in cpus[row["arch"]]:
                tasks.append((row, cpu, pool.submit(mca_cycles, mca, row["arch"], cpu, row["body"], work, f"loop{n}")))
        for row, cpu, f in tasks:
            row.setdefault("cycles", {})[cpu] = f.result() * 64 / row["units"]
    return rows


def versions(mca, tree):
    gxx = run(["g++", "--version"]).split("\n")[0]
    agxx = run(["aarch64-linux-gnu-g++", "--version"]).split("\n")[0]
    llvm = [l.strip() for l in run([mca, "--version"]).split("\n") if "version" in l.lower()][0]
    return gxx, agxx, llvm


HEADER = """# Cycle table

llvm-mca's cycles for the hot loops of every kernel set, per microarchitecture: a deterministic
instrument for what timings on shared machines cannot show (another kind of core than the one at
hand, a few percent). Made by

```sh
bench/cycles.py --out docs/cycles.md   # 1-2 minutes on 2 cores; needs llvm-19 and g++-aarch64-linux-gnu
```

which compiles each `arch/` file with the library build's own compile command (`-S` for `-c`),
takes each kernel's hot loop out of the assembly (how: `bench/cycles.py`'s docstring) and runs it
through `llvm-mca-19` ({iterations} iterations). Nothing is timed: the same g++ and llvm-mca give the same
file.

**The CI check** (`.ci/stages/cycles.sh`, stage `cycles`): it regenerates this table and fails when
a loop models more than {threshold}% slower on any CPU than the numbers committed here. A change that
makes a loop slower on purpose commits the regenerated table with it: the check then compares
with the new numbers, and lists the loops that moved more than {threshold}% from the previous
commit's table (`git show HEAD~1:docs/cycles.md`) as accepted. Faster loops pass and are listed.
The table must therefore be made from the tree being committed, nothing else in the work tree.

Compilers and model: {gxx}; {agxx}; {llvm}.

Units: **rotate** rows, cycles per 64 elements written by the hot loop (two vector multiplies per
element; the heads loop around it, what a decode step's small calls add per head, is not in it;
**one head a pass**: the f32 and f16 kernels the registry gives AMD's Zen cores, see performance.md);
**attention tile** rows, cycles per 64 multiply-adds (FMA lanes); **fold**, cycles per 64 scores
the largest block of attn_fold_rows exponentiates (its exps and sums; a whole fold call, with its
branches, is modelled by bench/mca-trace.sh). llvm-mca models the core only, every load an
L1 hit: a loop whose time goes to memory (a 2048-token apply) can differ in time where it ties
here ([performance.md](performance.md), issue 25). LLVM 19's `icelake-server` issues a 512-bit
FMA on port 0 only, so AVX-512 tiles read 4.0 there where a Xeon with two FMA units reaches 2.0:
compare a row with itself over time, not with the FMA peak.

CPUs: `icelake-server` (Intel Xeon 3rd gen; this project's build machine is a later Xeon),
`znver4` (AMD Zen 4: 512-bit operations in two 256-bit halves), `neoverse-n1` for Cortex-A78
(Jetson Orin's cores: LLVM 19 has no model of its own for the A78 and schedules `-mcpu=cortex-a78`
{a78_model}; Neoverse N1 is the Cortex-A76 design the A78 follows, with the same two 128-bit
FP/SIMD pipes), `neoverse-v2` (Grace, Graviton 4).

"""


def a78_model(mca, work):
    """Which scheduling model LLVM uses for -mcpu=cortex-a78: the model whose instruction table it shares."""
    probe = os.path.join(work, "probe.s")
    open(probe, "w").write("fmul v0.4s, v1.4s, v2.4s\nfmla v3.4s, v4.4s, v5.4s\nldr q6, [x0]\nstr q7, [x1]\n"
                           "fadd v8.4s, v9.4s, v10.4s\nzip1 v11.4s, v12.4s, v13.4s\n")

    def info(cpu):
        out = run([mca, "-mtriple=aarch64", f"-mcpu={cpu}", "-iterations=1", "-instruction-info", "-resource-pressure=0",
                   probe])
        return out[out.find("Instruction Info"):]
    mine = info("cortex-a78")
    for other in ("neoverse-n1", "cortex-a57", "cortex-a55", "neoverse-v1"):
        if info(other) == mine:
            return f"with its {other} model (identical instruction tables)"
    return "with a model of its own"


def render(rows, mca, work, tree, columns):
    gxx, agxx, llvm = versions(mca, tree)
    out = [HEADER.format(iterations=MCA_ITERATIONS, threshold=int(THRESHOLD * 100), gxx=gxx, agxx=agxx, llvm=llvm,
                         a78_model=a78_model(mca, work))]
    out.append("| set | loop | instructions | " + " | ".join(columns) + " | function, notes |")
    out.append("|---|---|---|" + "---|" * len(columns) + "---|")
    for r in rows:
        cells = [f"{r['cycles'][c]:.2f}" if c in r["cycles"] else "" for c in columns]
        out.append(f"| {r['set']} | {r['loop']} | {r['insts']} | " + " | ".join(cells) + f" | {r['note']} |")
    return "\n".join(out) + "\n"


def read_table(path):
    """{(set, loop): {cpu: cycles}} from a table this script wrote."""
    table, columns = {}, None
    for line in open(path):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 3 and cells[0] == "set" and cells[1] == "loop":
            columns = cells
            continue
        if columns is None or len(cells) != len(columns) or cells[0].startswith("---"):
            continue
        values = {}
        for name, cell in zip(columns[3:-1], cells[3:-1]):  # the CPU columns
            if cell:
                values[name] = float(cell)
        table[(cells[0], cells[1])] = values
    return table


def compare(committed_path, new_path, previous_path=None):
    """Exit status 1 when a loop of new is more than THRESHOLD slower than committed on any CPU."""
    committed, new = read_table(committed_path), read_table(new_path)
    failures, faster = [], []
    for key, values in committed.items():
        if key not in new:
            failures.append(f"{key[0]} {key[1]}: no longer found (the table must be regenerated)")
            continue
        for cpu, old in values.items():
            now = new[key].get(cpu)
            if now is None:
                failures.append(f"{key[0]} {key[1]} on {cpu}: not measured")
            elif now > old * (1 + THRESHOLD):
                failures.append(f"{key[0]} {key[1]} on {cpu}: {old:.2f} -> {now:.2f} ({now / old - 1:+.1%})")
            elif now < old * (1 - THRESHOLD):
                faster.append(f"{key[0]} {key[1]} on {cpu}: {old:.2f} -> {now:.2f} ({now / old - 1:+.1%})")
    for key in new:
        if key not in committed:
            print(f"cycles: new loop, not in the committed table: {key[0]} {key[1]}")
    if previous_path:
        previous = read_table(previous_path)
        changed = [f"{k[0]} {k[1]} on {c}: {previous[k][c]:.2f} -> {v:.2f}"
                   for k, vals in committed.items() if k in previous for c, v in vals.items()
                   if c in previous[k] and abs(v / previous[k][c] - 1) > THRESHOLD]
        print(f"cycles: this commit changed docs/cycles.md; {len(changed)} loop(s) moved more than "
              f"{int(THRESHOLD * 100)}% from the previous table (accepted):")
        for c in changed:
            print("  " + c)
    for f in faster:
        print(f"cycles: faster than the committed table (commit the regenerated table to keep it): {f}")
    for f in failures:
        print(f"cycles: SLOWER than the committed table: {f}")
    checked = sum(len(v) for v in committed.values())
    print(f"cycles: {checked} loop x CPU values checked against the committed table, {len(failures)} failed "
          f"(more than {int(THRESHOLD * 100)}% slower or missing)")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", default=ROOT, help="source tree to measure (default: this checkout)")
    ap.add_argument("--out", help="write the table here (default: print it)")
    ap.add_argument("--keep", help="keep the build, assembly and loop files in this directory")
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("ROTOR_JOBS", "2")))
    ap.add_argument("--compare", nargs=2, metavar=("COMMITTED", "NEW"),
                    help="compare two tables: exit 1 if a loop of NEW is >3%% slower than in COMMITTED")
    ap.add_argument("--previous", help="with --compare: the table before this commit changed it (printed)")
    ap.add_argument("--sets", default=",".join(ALL_SETS), help="kernel sets, comma-separated (default: all)")
    ap.add_argument("--cpus", help="llvm-mca CPUs, comma-separated, in place of the table's (x86 ones model the "
                    "x86 sets, cortex-* and neoverse-* the neon64 set)")
    ap.add_argument("--self-test", action="store_true", help="check the loop finder on known layouts, then exit")
    args = ap.parse_args()
    if args.self_test:
        sys.exit(self_test())
    if args.compare:
        sys.exit(compare(args.compare[0], args.compare[1], args.previous))
    mca = tool("llvm-mca-19", "/usr/lib/llvm-19/bin/llvm-mca")
    work = args.keep or tempfile.mkdtemp(prefix="rotor-cycles-")
    os.makedirs(work, exist_ok=True)
    try:
        cpus = CPUS
        if args.cpus:
            names = args.cpus.split(",")
            arm = [c for c in names if c.startswith(("cortex-", "neoverse-", "apple-", "ampere"))]
            cpus = {"x86_64": [c for c in names if c not in arm], "aarch64": arm}
        rows = measure(os.path.realpath(args.tree), work, mca, args.jobs, args.sets.split(","), cpus)
        text = render(rows, mca, work, args.tree, cpus["x86_64"] + cpus["aarch64"])
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if args.out:
        open(args.out, "w").write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
