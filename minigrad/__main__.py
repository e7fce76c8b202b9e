"""Command line: ``python -m minigrad warmup`` compiles and caches the Numba kernels."""

from __future__ import annotations

import argparse
import os
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("warmup", help="compile and cache every Numba kernel (float32 unless --dtypes says more)")
    w.add_argument("-v", "--verbose", action="store_true", help="list each kernel")
    w.add_argument("--dtypes", nargs="+", default=["float32"], choices=["float32", "float64"],
                   help="the dtypes to compile for (default: float32, minigrad's default dtype; float64 kernels "
                        "then compile in the background on first use)")
    w.add_argument("--all", action="store_true", dest="everything",
                   help="also the kernels no layer calls (minigrad.kernels.NOT_CALLED_BY_LAYERS; tests use them)")
    w.add_argument("--processes", type=int, default=min(2, os.cpu_count() or 1),
                   help="compile in this many processes at once (default: 2 when there are 2 cores)")
    w.add_argument("--claims", default=None, help=argparse.SUPPRESS)  # a helper of `warmup --processes n`
    w.add_argument("--requests", metavar="FILE",
                   help="compile only the kernels listed in FILE ('-': stdin), one request per line, "
                        "as the background compiler sends them (see minigrad/kernels/_background.py)")
    args = parser.parse_args(argv)
    if args.command == "warmup":
        if args.requests is not None:
            from minigrad.kernels._background import serve_requests

            if args.requests == "-":
                return 1 if serve_requests(sys.stdin) else 0
            with open(args.requests) as lines:
                return 1 if serve_requests(lines) else 0
        from minigrad.kernels import warmup

        t0 = time.perf_counter()
        if args.claims is not None:
            warmup(verbose=args.verbose, dtypes=args.dtypes, everything=args.everything, claims=args.claims)
            return 0
        n = warmup(verbose=args.verbose, dtypes=args.dtypes, processes=max(1, args.processes),
                   everything=args.everything)
        print(f"minigrad: {n} kernels ready ({', '.join(args.dtypes)}) in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
