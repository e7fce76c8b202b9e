"""Command line: ``python -m minigrad warmup`` compiles and caches every Numba kernel."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigrad", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    w = sub.add_parser("warmup", help="compile and cache every Numba kernel (float32 and float64)")
    w.add_argument("-v", "--verbose", action="store_true", help="list each kernel")
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
        n = warmup(verbose=args.verbose)
        print(f"minigrad: {n} kernels ready in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
