"""Which threads run a matrix product: ``matmul2d`` (as minigrad's layers call it) against NumPy's BLAS.

For each shape ``(m, k, n)`` and layout of ``B`` (``W.T``, as ``Linear`` passes its weight, or a
matrix in rows), the microseconds per call of:

- ``blas``: NumPy's product (OpenBLAS, with its own threads from 256 Ki multiply-adds);
- ``matmul2d``: minigrad's routing once Numba's pool is awake, as in any process that has run a
  parallel kernel (``kernels/products.py``: ``pool_awake``);
- ``one thread`` / ``all threads``: ``parallel_matmul`` with ``threads=1`` / all of Numba's.

Each product alone, back to back: inside a model the pool sleeps between products, and the
threaded columns then cost more (``docs/performance.md``, "One pool of threads").

    .venv/bin/python benchmarks/products.py
    .venv/bin/python benchmarks/products.py --shapes 1x650x2600 97x51x204
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's minigrad
from minigrad.kernels import _jit  # noqa: E402
from minigrad.kernels import products as P  # noqa: E402

# A matrix-vector product (a batch of one through LSTM(650)), a few rows, sine_cells' LSTMCell(51)
# at batch 97, mid-sized and big step products.
SHAPES = ("1x650x2600", "1x256x1024", "2x512x2048", "4x650x2600", "97x51x204", "32x256x384",
          "64x128x512", "32x512x2048")


def time_call(fn, number: int) -> float:
    """Microseconds per call: the best of 5 repeats of ``number`` calls (after one call to warm up)."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def measure(shape: str, layout: str, number: int) -> dict[str, float]:
    """The four timings of one shape (``"MxKxN"``) and layout (``"W.T"`` or ``"rows"``)."""
    m, k, n = (int(part) for part in shape.split("x"))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if layout == "W.T" else (k, n)).astype(np.float32)
    b = b.T if layout == "W.T" else b
    out = np.empty((m, n), np.float32)
    calls = {"blas": lambda: np.matmul(a, b, out=out),
             "matmul2d": lambda: P.matmul2d(a, b, out=out),
             "one thread": lambda: P.parallel_matmul(a, b, out, 1),
             "all threads": lambda: P.parallel_matmul(a, b, out)}
    return {name: time_call(call, number) for name, call in calls.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), help="MxKxN, e.g. 1x650x2600")
    parser.add_argument("--number", type=int, default=200, help="calls per repeat")
    args = parser.parse_args(argv)
    P.matmul2d(np.ones((64, 256), np.float32), np.ones((256, 256), np.float32))  # wakes Numba's pool
    assert _jit.pool_awake() or P.num_threads() == 1
    print(f"Command: `python benchmarks/products.py {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip()
          + f"  \nThreads: {P.num_threads()} (Numba). Microseconds per call, best of 5.\n")
    print("| m x k x n | B | blas | matmul2d | one thread | all threads |")
    print("|---|---|---|---|---|---|")
    for shape in args.shapes:
        for layout in ("W.T", "rows"):
            t = measure(shape, layout, args.number)
            print(f"| {shape} | {layout} | {t['blas']:.1f} | {t['matmul2d']:.1f} | {t['one thread']:.1f} "
                  f"| {t['all threads']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
