"""Which threads run a matrix product: ``matmul2d`` (as minigrad's layers call it) against NumPy's BLAS.

For each shape ``(m, k, n)`` and layout of ``B`` (``W.T``, as ``Linear`` passes its weight, or a
matrix in rows), the microseconds per call of:

- ``blas``: NumPy's product (OpenBLAS, with its own threads from 256 Ki multiply-adds);
- ``matmul2d``: minigrad's routing once Numba's pool is awake, as in any process that has run a
  parallel kernel (``kernels/products.py``: ``pool_awake``);
- ``one thread`` / ``all threads``: ``parallel_matmul`` with ``threads=1`` / all of Numba's;
- ``bands``: ``blas_in_bands``, BLAS on the calling thread in bands under ``SMALL_PRODUCT``;
- ``swapped``: ``(b.T @ a.T).T`` in BLAS, copied back into C order (``kernels/blas.py``).

Each product alone, back to back: inside a model the pool sleeps between products, and the
threaded columns then cost more (``docs/performance.md``, "One pool of threads").

``--scan bands`` times ``bands`` against ``one thread`` (the mid-sized route once Numba's pool is
awake) over a grid of mid-sized shapes in three layouts; ``--scan swap`` times ``swapped`` against
``blas`` for ``x @ W.T`` over a grid of few-row shapes. Both print the median and worst ratios by
size and by whether minigrad's rule takes that route for the shape (below 1: the route is quicker).
``--scan stack`` times a weight's gradient over several steps, ``sum_t x_t^T g_t``, stacked into one
product (``autograd/stacked_products.py: ProductSum``) against one product per step added up, as
the engine would otherwise do, by rows per step (the batch).

    .venv/bin/python benchmarks/products.py
    .venv/bin/python benchmarks/products.py --shapes 1x650x2600 97x51x204
    .venv/bin/python benchmarks/products.py --scan bands
    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/products.py --scan swap
    .venv/bin/python benchmarks/products.py --scan stack
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import timeit
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's minigrad
from minigrad.autograd import stacked_products as S  # noqa: E402
from minigrad.kernels import _jit  # noqa: E402
from minigrad.kernels import products as P  # noqa: E402
from minigrad.kernels.blas import blas_core, swap_pays, swapped_matmul  # noqa: E402

# A matrix-vector product (a batch of one through LSTM(650)), a few rows, sine_cells' LSTMCell(51)
# at batch 97, mid-sized and big step products.
SHAPES = ("1x650x2600", "1x256x1024", "2x512x2048", "4x650x2600", "97x51x204", "32x256x384",
          "64x128x512", "32x512x2048")


def time_call(fn, number: int) -> float:
    """Microseconds per call: the best of 5 repeats of ``number`` calls (after one call to warm up)."""
    fn()
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def operands(shape: str, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """``a`` and ``b`` of a ``"MxKxN"`` product: ``b`` as ``W.T`` or in ``rows``, or ``a`` transposed (``a.T``)."""
    m, k, n = (int(part) for part in shape.split("x"))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((k, m) if layout == "a.T" else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if layout == "W.T" else (k, n)).astype(np.float32)
    return (a.T if layout == "a.T" else a), (b.T if layout == "W.T" else b)


def measure(shape: str, layout: str, number: int) -> dict[str, float]:
    """The timings of one shape (``"MxKxN"``) and layout (``"W.T"``, ``"rows"`` or ``"a.T"``)."""
    a, b = operands(shape, layout)
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    calls = {"blas": lambda: np.matmul(a, b, out=out),
             "matmul2d": lambda: P.matmul2d(a, b, out=out),
             "one thread": lambda: P.parallel_matmul(a, b, out, 1),
             "all threads": lambda: P.parallel_matmul(a, b, out),
             "bands": lambda: P.blas_in_bands(a, b, out),
             "swapped": lambda: swapped_matmul(a, b, out)}
    return {name: time_call(call, number) for name, call in calls.items()}


BAND_SCAN = (
    (5, 8, 16, 20, 32, 50, 64, 100, 128, 256, 512, 1024),  # rows
    (16, 28, 50, 100, 128, 200, 256, 512, 650),            # inner
    (32, 50, 64, 100, 128, 200, 256, 300, 400, 512, 800, 1024),  # columns
)
SWAP_SCAN = ((2, 4, 8, 12, 16, 24, 32, 48, 64, 96, 128), (16, 32, 64, 100, 200, 256, 650),
             (32, 64, 100, 128, 200, 256, 300, 512, 1024, 2600))


def scan(kind: str) -> list[tuple[str, str, float]]:
    """``(shape, layout, ratio)`` over the grid of ``kind``: bands / one thread, or swapped / blas."""
    grid, layouts = (BAND_SCAN, ("rows", "W.T", "a.T")) if kind == "bands" else (SWAP_SCAN, ("W.T",))
    found = []
    for m, k, n in itertools.product(*grid):
        work = m * k * n
        if kind == "bands" and not (P.SMALL_PRODUCT <= work < P.PARALLEL_MIN_PRODUCT
                                    and not P.narrow_output(k, n, np.float32)):
            continue
        number = max(5, int(2e5 / (work / 1000 + 10)) // 50)
        for layout in layouts:
            found.append((f"{m}x{k}x{n}", layout, route_ratio(kind, *operands(f"{m}x{k}x{n}", layout), number)))
    return found


def route_ratio(kind: str, a: np.ndarray, b: np.ndarray, number: int) -> float:
    """The time of ``kind``'s BLAS route over the route it would replace, for one product."""
    out = np.empty((a.shape[0], b.shape[1]), np.float32)
    if kind == "bands":
        return time_call(lambda: P.blas_in_bands(a, b, out), number) / time_call(
            lambda: P.parallel_matmul(a, b, out, 1), number)
    return time_call(lambda: swapped_matmul(a, b, out), number) / time_call(lambda: np.matmul(a, b, out=out), number)


def rule_takes(kind: str, shape: str, layout: str) -> bool:
    """Whether minigrad's rule sends this product to ``kind``'s route (``bands_pay``, ``swap_pays``) on this host."""
    m, k, n = (int(part) for part in shape.split("x"))
    if kind == "bands":
        return P.bands_pay(m, k, n, np.float32, layout == "W.T")
    return swap_pays(np.float32, m, k, n, layout == "W.T")


def scan_report(kind: str, found: list[tuple[str, str, float]]) -> str:
    """Median and worst ratio, and the share below 1, by layout, size, and whether the rule takes the route."""
    def size(shape: str) -> str:
        m, k, n = (int(part) for part in shape.split("x"))
        return next(f"< {limit // 2**10} Ki" if limit < 2**30 else "4096 Ki or more"
                    for limit in (2**19, 2**20, 2**21, 2**22, 2**40) if m * k * n < limit)
    groups: dict[tuple[str, str, str], list[float]] = {}
    for shape, layout, ratio in found:
        taken = "yes" if rule_takes(kind, shape, layout) else "no"
        groups.setdefault((layout, size(shape), taken), []).append(ratio)
    lines = ["| layout | multiply-adds | rule takes it | shapes | median | worst | share below 1 |",
             "|---|---|---|---:|---:|---:|---:|"]
    for (layout, bucket, taken), ratios in sorted(groups.items(), key=lambda kv: (kv[0][0], len(kv[0][1]), kv[0])):
        lines.append(f"| {layout} | {bucket} | {taken} | {len(ratios)} | {statistics.median(ratios):.2f} "
                     f"| {max(ratios):.2f} | {sum(r < 1 for r in ratios) / len(ratios):.2f} |")
    return "\n".join(lines)


STACK_SCAN = ((1, 4, 8, 16, 32, 64, 96, 128, 256), ((64, 64), (128, 205), (256, 256), (28, 256), (28, 512), (512, 28),
                                                       (200, 800), (650, 2600)), (6, 35))


def stack_ratio(rows: int, k: int, n: int, steps: int, number: int) -> float:
    """The time of ``steps`` terms ``x_t^T g_t`` summed by ``ProductSum`` over one product per step added up."""
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((rows, k)).astype(np.float32) for _ in range(steps)]
    gs = [rng.standard_normal((rows, n)).astype(np.float32) for _ in range(steps)]

    def one_by_one() -> np.ndarray:
        total = S.transposed_product(xs[0], gs[0])
        for x, g in zip(xs[1:], gs[1:]):
            total += S.transposed_product(x, g)
        return total

    def stacked() -> np.ndarray:
        total = S.ProductSum(S.TransposedProduct(xs[0], gs[0]))
        for x, g in zip(xs[1:], gs[1:]):
            total.add(S.TransposedProduct(x, g))
        return total.result()

    # Rounds alternating which one goes first, the median of their ratios: the host's speed drifts.
    ratios = []
    for turn in range(5):
        first, second = (stacked, one_by_one) if turn % 2 else (one_by_one, stacked)
        times = {first: time_call(first, number), second: time_call(second, number)}
        ratios.append(times[stacked] / times[one_by_one])
    return statistics.median(ratios)


def stack_report() -> str:
    """Median and worst ratio (stacked / one by one) by rows per step, and whether ``stacking_pays`` says stack."""
    groups: dict[tuple[int, str], list[float]] = {}
    for rows, (k, n), steps in itertools.product(*STACK_SCAN):
        number = max(3, int(4e3 / (rows * k * n * steps / 1e5 + 10)))
        taken = "yes" if S.stacking_pays(rows, k, n) else "no"
        groups.setdefault((rows, taken), []).append(stack_ratio(rows, k, n, steps, number))
    lines = ["| rows per step | stacked by the rule | shapes | median | worst | share below 1 |",
             "|---:|---|---:|---:|---:|---:|"]
    for (rows, taken), ratios in sorted(groups.items()):
        lines.append(f"| {rows} | {taken} | {len(ratios)} | {statistics.median(ratios):.2f} | {max(ratios):.2f} "
                     f"| {sum(r < 1 for r in ratios) / len(ratios):.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), help="MxKxN, e.g. 1x650x2600")
    parser.add_argument("--number", type=int, default=200, help="calls per repeat (a scan sets its own by size)")
    parser.add_argument("--scan", choices=("bands", "swap", "stack"), help="a grid of shapes instead (see above)")
    args = parser.parse_args(argv)
    P.matmul2d(np.ones((64, 256), np.float32), np.ones((256, 256), np.float32))  # wakes Numba's pool
    assert _jit.pool_awake() or P.num_threads() == 1
    print(f"Command: `python benchmarks/products.py {' '.join(argv if argv is not None else sys.argv[1:])}`".rstrip()
          + f"  \nThreads: {P.num_threads()} (Numba); NumPy's BLAS kernels: {blas_core() or 'unknown'}. "
          "Microseconds per call, best of 5.\n")
    if args.scan == "stack":
        print(stack_report())
        return
    if args.scan:
        print(scan_report(args.scan, scan(args.scan)))
        return
    columns = ("blas", "matmul2d", "one thread", "all threads", "bands", "swapped")
    print("| m x k x n | layout | " + " | ".join(columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for shape in args.shapes:
        for layout in ("W.T", "rows", "a.T"):
            t = measure(shape, layout, args.number)
            print(f"| {shape} | {layout} | " + " | ".join(f"{t[c]:.1f}" for c in columns) + " |", flush=True)


if __name__ == "__main__":
    main()
