"""Differential fuzzing of minigrad against live PyTorch, from the command line.

    python tests/fuzz/run.py --cases 100000 --seed 0            # all cases, a summary at the end
    python tests/fuzz/run.py --cases 1 --seed 0 --start 4711     # one case again, with its repro

Each case is ``make_program(seed, index)``: reproducible on any machine. Every failure prints its
(seed, index), the verdict and a self-contained repro script. Exit status 1 if anything failed.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # the repository root, for minigrad

from programs import make_program  # noqa: E402
from runner import FAILURES, WARNS, check  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=1000, help="number of programs to run")
    parser.add_argument("--seed", type=int, default=0, help="the program stream")
    parser.add_argument("--start", type=int, default=0, help="index of the first program")
    parser.add_argument("--show", type=int, default=5, help="print the repro of at most this many failures")
    parser.add_argument("--json", type=Path, help="write the counts and failing indices here")
    parser.add_argument("--families", nargs="+", help="only these program families (e.g. inplace, chain)")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(1)
    counts: collections.Counter = collections.Counter()
    by_family: collections.Counter = collections.Counter()
    failures: list[dict] = []
    warned: list[dict] = []
    start = time.perf_counter()
    for index in range(args.start, args.start + args.cases):
        program = make_program(args.seed, index, args.families)
        outcome = check(torch, program)
        counts[outcome.kind] += 1
        if outcome.kind == WARNS:
            warned.append({"index": index, "expr": program.expr, "detail": outcome.detail[:200]})
        if outcome.kind in FAILURES:
            by_family[(program.family, outcome.kind)] += 1
            failures.append({"index": index, "family": program.family, "kind": outcome.kind,
                             "expr": program.expr, "detail": outcome.detail[:400]})
            if len(failures) <= args.show:
                print(f"--- seed {args.seed} index {index} [{program.family}] {outcome.kind}\n"
                      f"{outcome.detail}\n{program.repro()}\n", flush=True)
    elapsed = time.perf_counter() - start
    print(f"{args.cases} cases (seed {args.seed}, indices {args.start}..{args.start + args.cases - 1}) "
          f"in {elapsed:.1f} s: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    for (family, kind), n in sorted(by_family.items()):
        print(f"  {family:8s} {kind}: {n}")
    if args.json:
        args.json.write_text(json.dumps({"seed": args.seed, "start": args.start, "cases": args.cases,
                                         "counts": dict(counts), "failures": failures, "warned": warned},
                                        indent=1))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
