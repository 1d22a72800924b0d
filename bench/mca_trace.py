#!/usr/bin/env python3
"""A function's dynamic instruction trace through llvm-mca: what one kernel costs over a whole
workload, branches, tails and rescales as they happen, on cores this machine is not.

Reads qemu-user's log of a run (`qemu-x86_64 -cpu max -d in_asm,exec,nochain` or
`qemu-aarch64 -d ...`: every translated block's instructions, then every block executed) on
stdin, keeps the blocks executed inside the entry function and the functions it calls that
match --member (their address ranges from `nm -C` of the binary), cuts the trace into calls
of the entry function (from one entry to the next: name only helpers the entry alone calls;
a callee not named, such as memcpy, is left out of the trace), keeps every --every-th call, and runs the kept instructions through
llvm-mca 19 once (one iteration: the trace is the program) for each --cpus model. Prints
`<cpu> <instructions> <cycles>` per line. bench/mca-trace.sh drives it for two builds.

    qemu-aarch64 -d in_asm,exec,nochain ./prefill_workload 2>&1 >/dev/null |
      bench/mca_trace.py --binary ./prefill_workload --entry 'arch_attention_neon64.*attn_fold\\(' \\
        --member 'arch_attention_neon64.*attn_fold_rows<' --arch aarch64 --cpus neoverse-n1,neoverse-v2
"""
import argparse
import re
import subprocess
import sys
import tempfile


def function_ranges(binary, nm, entry, members):
    """(entry start, [(start, end)] of the entry and member functions) from the symbol table."""
    symbols = []
    for line in subprocess.run([nm, "-C", "-n", "-S", binary], capture_output=True, text=True, check=True).stdout.splitlines():
        m = re.match(r"^([0-9a-f]+) ([0-9a-f]+) [tTwW] (.*)$", line)
        if m:
            symbols.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3)))
    entry_start, ranges = None, []
    for start, size, name in symbols:
        if name.endswith("[clone .cold]") or re.search(r"\[clone \.cold\]", name):
            is_entry = False
        else:
            is_entry = re.search(entry, name) is not None
        if is_entry and entry_start is None:
            entry_start = start
            ranges.append((start, start + size))
        elif any(re.search(p, name) for p in members):
            ranges.append((start, start + size))
    if entry_start is None:
        sys.exit(f"mca_trace: no function matches {entry!r} in {binary}")
    return entry_start, ranges


def calls_from_log(lines, entry_start, ranges):
    """The instruction texts of each call of the entry function, in order."""
    texts, blocks, calls = {}, {}, []
    block = None
    inside = lambda pc: any(a <= pc < b for a, b in ranges)
    for line in lines:
        if line.startswith("IN:"):
            block = []
            continue
        if block is not None:
            # "0x<pc>:  <bytes (x86) or the word (aarch64)>  <instruction>"; a line of bytes
            # alone continues the previous instruction's encoding (x86's longer ones).
            if re.match(r"^0x[0-9a-f]+:(\s+[0-9a-f]{2})+\s*$", line):
                continue
            m = re.match(r"^0x([0-9a-f]+):\s+(?:(?:[0-9a-f]{2} )+|[0-9a-f]{8}\s)\s*(.*)$", line.rstrip("\n"))
            if m:
                if m.group(2).strip():
                    pc = int(m.group(1), 16)
                    if not block:
                        blocks[pc] = block
                    texts.setdefault(pc, m.group(2).strip())
                    block.append(pc)
                continue
        if line.startswith("Trace"):
            block = None
            m = re.search(r"\[[0-9a-f]+/([0-9a-f]+)/", line)
            pc = int(m.group(1), 16) if m else None
            if pc is None or not inside(pc):
                continue
            if pc == entry_start:
                calls.append([])
            if calls:
                calls[-1].extend(texts[a] for a in blocks[pc])
    return calls


def mca_input(instructions, arch):
    """Assembly llvm-mca parses: branch and address operands made a label (the trace already
    took every branch; mca models the instructions, not where they go)."""
    out = ["\t.att_syntax" if arch == "x86_64" else "", ".Ltrace:"]
    for text in instructions:
        text = text.split("//")[0].split(";")[0].strip()
        if arch == "x86_64":
            text = re.sub(r"^(j\w+|call\w*)\s+\$?0x[0-9a-f]+$", r"\1 .Ltrace", text)
        else:
            text = re.sub(r"^((?:b|bl|b\.\w+|cbz|cbnz|tbz|tbnz|adrp|adr)\s+(?:[^,]+,\s*)*)#?(?:0x)?[0-9a-f]+$",
                          r"\1.Ltrace", text)
        out.append(text)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--entry", required=True, help="regex of the entry function's demangled name")
    ap.add_argument("--member", action="append", default=[], help="regex of a function it calls (repeatable)")
    ap.add_argument("--arch", choices=["x86_64", "aarch64"], required=True)
    ap.add_argument("--cpus", required=True, help="llvm-mca -mcpu values, comma-separated")
    ap.add_argument("--every", type=int, default=10, help="keep every N-th call (default 10)")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--mca", default="llvm-mca-19")
    args = ap.parse_args()
    entry_start, ranges = function_ranges(args.binary, args.nm, args.entry, args.member)
    calls = calls_from_log(sys.stdin, entry_start, ranges)
    if not calls:
        sys.exit("mca_trace: the entry function never ran (is the kernel set the one named?)")
    kept = [c for i, c in enumerate(calls) if i % args.every == 0]
    instructions = [t for c in kept for t in c]
    print(f"# {len(calls)} calls, {sum(len(c) for c in calls)} instructions; kept {len(kept)} calls, "
          f"{len(instructions)} instructions", file=sys.stderr)
    triple = "x86_64-unknown-linux-gnu" if args.arch == "x86_64" else "aarch64-unknown-linux-gnu"
    with tempfile.NamedTemporaryFile("w", suffix=".s") as f:
        f.write(mca_input(instructions, args.arch))
        f.flush()
        for cpu in args.cpus.split(","):
            out = subprocess.run([args.mca, f"-mtriple={triple}", f"-mcpu={cpu}", "-iterations=1", f.name],
                                 capture_output=True, text=True)
            m = re.search(r"Total Cycles:\s+(\d+)", out.stdout)
            if not m:
                sys.exit(f"mca_trace: llvm-mca failed for {cpu}:\n{out.stderr[:2000]}")
            print(cpu, len(instructions), m.group(1))


if __name__ == "__main__":
    main()
