"""What one matrix product costs after a pause: why a product inside a train step is slower than alone.

Timed alone in a loop, a product follows itself: the threads that ran it are still spinning and
the core's vector units are warm. In a step it follows a stretch of Python (other ops), and
``benchmarks/step_ops.py`` finds it slower there. This times ``(32 x 256) @ (256 x 256)``
(d2l_lstm_scratch's ``H @ W_h``) right after a busy pause of ``gap`` microseconds that runs only
Python, for each way the product can run:

- ``all``: our register tile on all of Numba's threads (``products.parallel_matmul``; the pool
  woken first, as a parallel kernel of the step would);
- ``one``: our tile on the calling thread alone;
- ``blas``: NumPy's BLAS (``np.dot``), on its own threads.

    .venv/bin/python benchmarks/product_gap.py
    .venv/bin/python benchmarks/product_gap.py --ways one --gaps 0 100 2000 --cpu avx2

Prints one line per way: the median microseconds of the product after each pause. Run it with
``--cpu avx2`` (``benchmarks/cpu_profile.py``) to see the same without AVX-512 vectors.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "benchmarks"), str(ROOT)]
from cpu_profile import add_cpu_arguments, profile_env  # noqa: E402

WAYS = ("all", "one", "blas")
GAPS_US = (0, 20, 50, 100, 200, 500, 2000)


def time_after_pauses(way: str, gaps_us: tuple[int, ...] = GAPS_US, repeats: int = 400,
                      shape: tuple[int, int, int] = (32, 256, 256)) -> dict[int, float]:
    """Median microseconds of one ``way`` product right after a Python-only pause of each length in ``gaps_us``.

    Example: ``time_after_pauses("one", (0, 100), repeats=20)`` -> ``{0: 31.0, 100: 33.0}``.
    """
    import numpy as np

    from minigrad.kernels import products

    m, k, n = shape
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((m, k), np.float32), rng.standard_normal((k, n), np.float32)
    out = products.empty_aligned((m, n), np.float32)
    big = np.ones((512, 512), np.float32)
    products.parallel_matmul(big, big, products.empty_aligned((512, 512), np.float32))  # compiles; wakes the pool
    ways = {"all": lambda: products.parallel_matmul(a, b, out), "one": lambda: products.parallel_matmul(a, b, out, 1),
            "blas": lambda: np.dot(a, b, out=out)}
    if way not in ways:
        raise ValueError(f"product_gap: unknown way {way!r}; expected one of {WAYS}")
    product = ways[way]
    clock = time.perf_counter_ns
    medians = {}
    for gap in gaps_us:
        times = []
        for _ in range(repeats):
            end = clock() + gap * 1000
            while clock() < end:  # Python only: no vector instructions, no parallel region
                pass
            start = clock()
            product()
            times.append(clock() - start)
        medians[gap] = round(statistics.median(times[repeats // 10:]) / 1000, 1)
    return medians


def main(argv: list[str] | None = None) -> None:
    """Run each way in a fresh process of the chosen CPU profile and print its medians."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ways", nargs="*", choices=WAYS, default=list(WAYS))
    parser.add_argument("--gaps", nargs="*", type=int, default=list(GAPS_US), help="pauses in microseconds")
    parser.add_argument("--repeats", type=int, default=400)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    add_cpu_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(time_after_pauses(args.worker, tuple(args.gaps), args.repeats)))
        return
    env = profile_env(args.cpu, "minigrad", blas_defaults=args.blas_defaults)
    env.setdefault("MINIGRAD_COMPILE", "wait")  # compile before timing, never during
    print(f"(32 x 256) @ (256 x 256) after a pause, median us; CPU profile {args.cpu}")
    for way in args.ways:
        command = [sys.executable, __file__, "--worker", way, "--repeats", str(args.repeats), "--gaps",
                   *map(str, args.gaps)]
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
        medians = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{way:>5}: " + "  ".join(f"{gap} us -> {us}" for gap, us in medians.items()))


if __name__ == "__main__":
    main()
