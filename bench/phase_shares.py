#!/usr/bin/env python3
"""Each library's share of its forward calls spent in each phase, from a perf profile of
bench/compare.sh (COMPARE_PERF_DATA=FILE bench/compare.sh A B ...: both libraries alternated in
one process, sampled by CPU clock with call graphs).

    bench/phase_shares.py FILE                     # the attention call's two phases
    bench/phase_shares.py FILE --functions append_share,attend_share,attn_fold,rotate_half_pairs_dir

A sample counts for library A or B by the path of the rotor frames on its stack
(COMPARE_DIR/A/librotor-a.so, .../B/librotor-b.so), for the call when `--call` (run_forward by
default) is on its stack, and for a function when that function's name is: a function a phase
calls is counted in the phase too. Why: a phase that is a few percent of a call moves the
call's time by less than the spread of the timed pairs on a shared machine, while its share of
the same run's samples is known to a few tenths of a percent (an A/A run: each library within
0.2% of the other), so a change to a small phase is seen in its share where the pair timings
cannot show it. The shares are of each library's own samples: compare a phase between the
libraries, and read the time ratio from compare.sh's own table.
"""
import argparse
import collections
import subprocess
import sys


def samples(path):
    """Each sample's stack as a list of 'symbol (library path)' lines, innermost first."""
    out = subprocess.run(["perf", "script", "-i", path, "-F", "ip,sym,dso"], capture_output=True, text=True,
                         check=True).stdout
    for block in out.split("\n\n"):
        frames = [line.strip() for line in block.split("\n") if line.strip()]
        if frames:
            yield frames


def library_of(frames):
    """'A' or 'B': the first rotor frame's library, or None (a sample outside both)."""
    for frame in frames:
        for label in ("A", "B"):
            if f"/{label}/librotor-{label.lower()}.so" in frame:
                return label
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data", help="perf.data written by compare.sh under COMPARE_PERF_DATA")
    ap.add_argument("--call", default="run_forward", help="the function whose samples are 100%% (default run_forward)")
    ap.add_argument("--functions", default="append_share,attend_share",
                    help="functions to report, comma-separated (a sample counts for each one on its stack)")
    args = ap.parse_args()
    names = [n for n in args.functions.split(",") if n]
    counts = collections.Counter()
    total = 0
    for frames in samples(args.data):
        total += 1
        label = library_of(frames)
        if label is None:
            continue
        # A recursive or repeated frame counts once per sample.
        on_stack = {name for name in names + [args.call] for frame in frames if name in frame}
        for name in on_stack:
            counts[(label, name)] += 1
    if total == 0:
        sys.exit("phase_shares: no samples in " + args.data)
    print(f"| library | samples in {args.call} (of {total}) | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    for label in ("A", "B"):
        call = counts[(label, args.call)]
        shares = [f"{100.0 * counts[(label, n)] / call:.2f}%" if call else "-" for n in names]
        print(f"| {label} | {call} | " + " | ".join(shares) + " |")


if __name__ == "__main__":
    main()
