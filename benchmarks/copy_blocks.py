"""``gemm_cols`` reading ``b`` in place against reading each block of a panel from a copy, in one process.

``kernels/gemm.py: gemm_cols`` copies each ``K_BLOCK`` rows of a panel into a small contiguous block
where ``b``'s rows conflict in the L1 cache (``CONFLICT_STRIDE_BYTES``) and ``a`` has
``COPY_BLOCK_MIN_ROWS`` rows or more, for a tile of ``COPY_MIN_TILE_BYTES`` or more. This script
measures that rule: ``one_thread_product`` is ``gemm_cols``' loop over the wide panels with the
choice made by an argument instead, so both ways run in the same process, on the same arrays,
taking turns (the host's drift cancels out of each ratio). One thread; medians of the turns.

    .venv/bin/python benchmarks/copy_blocks.py                      # rows 16, 32, 64
    .venv/bin/python benchmarks/copy_blocks.py --rows 32 --shapes 512x512 200x800

Run it under ``--cpu avx2``'s variables (``benchmarks/cpu_profile.py``) to see AVX2's tile.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from minigrad.kernels._jit import kernel  # noqa: E402
from minigrad.kernels.gemm import _OPTIONS, K_BLOCK, _copy_panel_rows, _stack_tile, _tile_multiply_add, empty_panels  # noqa: E402,E501


@kernel(**_OPTIONS)
def one_thread_product(a, b, out, copy):
    """``out = a @ b`` for ``b`` whole panels wide, each block of a panel read in place or (``copy``) from a copy."""
    n_rows, n_inner = a.shape
    zero = out.dtype.type(0)
    tr, tc = _stack_tile(zero).shape
    block = empty_panels(np.int64(1), K_BLOCK if copy else 0, zero)[0]
    for j0 in range(0, b.shape[1] - tc + 1, tc):
        for k0 in range(0, n_inner, K_BLOCK):
            k1 = min(k0 + K_BLOCK, n_inner)
            if copy:
                _copy_panel_rows(b, k0, j0, block, 0, k1 - k0)
                a_k = a[:, k0:k1]
                for i0 in range(0, n_rows, tr):
                    _tile_multiply_add(out, i0, j0, a_k, block, i0, n_rows - 1, 0, 0, k1 - k0, k0 > 0)
            else:
                for i0 in range(0, n_rows, tr):
                    _tile_multiply_add(out, i0, j0, a, b, i0, n_rows - 1, j0, k0, k1, k0 > 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--shapes", nargs="+", default=["256x128", "128x256", "256x256", "256x384", "512x512",
                                                         "256x1024", "650x640", "300x320", "200x832"], help="K x N")
    parser.add_argument("--turns", type=int, default=300)
    args = parser.parse_args()
    tc = _stack_tile(np.float32(0)).shape[1]
    rng = np.random.default_rng(0)
    print(f"one thread, float32, tile {tc} columns; {args.turns} turns each\n")
    print("| m x k x n | row stride of b (bytes) | in place (us) | copied (us) | copied / in place |")
    print("|---|---|---|---|---|")
    for m in args.rows:
        for shape in args.shapes:
            k, n = map(int, shape.split("x"))
            n -= n % tc  # whole panels
            a = rng.standard_normal((m, k)).astype(np.float32)
            b = rng.standard_normal((k, n)).astype(np.float32)
            out = np.empty((m, n), np.float32)
            for copy in (False, True):
                one_thread_product(a, b, out, copy)
                np.testing.assert_allclose(out, a @ b, rtol=1e-3, atol=1e-3)
            times: dict[bool, list[int]] = {False: [], True: []}
            for turn in range(args.turns):
                for copy in ((False, True) if turn % 2 else (True, False)):
                    start = time.perf_counter_ns()
                    one_thread_product(a, b, out, copy)
                    times[copy].append(time.perf_counter_ns() - start)
            in_place, copied = (statistics.median(times[c][args.turns // 6:]) / 1e3 for c in (False, True))
            print(f"| {m}x{k}x{n} | {b.strides[0]} | {in_place:.1f} | {copied:.1f} | **{copied / in_place:.2f}** |")


if __name__ == "__main__":
    main()
