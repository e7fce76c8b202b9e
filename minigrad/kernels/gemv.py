"""Products of a few rows by a big matrix (``out = a @ B``, ``a`` with at most ``FEW_ROWS`` rows), on Numba's threads.

A batch of one or two rows through a big layer (``Linear(650, 10000)`` on one sentence, the step
product ``h @ W_hh^T`` of ``LSTM(650)`` with batch 1) is a matrix-vector product: each number of
``B`` is used once per row of ``a``, so the time is the time to read ``B`` once. The register
tile of ``kernels/gemm.py`` is the wrong tool there: it first copies ``B`` into packed panels (a
second pass over it) and multiplies ``TILE_ROWS`` rows where there are one or two.

Why not NumPy's BLAS, which has a fast gemv: it runs products this big on threads of its own, and
a float32 train step already runs its big products on Numba's (``kernels/products.py``). Two pools
that each spin-wait after their work on the same cores slow each other down (``docs/performance.md``,
"One pool of threads"). So the columns of ``out`` are shared among Numba's threads here,
and each thread reads its own share of ``B`` once:

- ``B`` in rows (``b`` is ``(K, N)``): for each ``k``, ``out[i, cols] += a[i, k] * b[k, cols]``,
  contiguous along the columns, so LLVM vectorises it (a thread's columns of a row of ``out``
  stay in the L1 cache over all of ``k``);
- ``B`` transposed (``b`` is a weight ``W`` of ``(N, K)`` and ``B = W^T``, as ``Linear`` passes it):
  ``out[i, j] = dot(a[i], W[j])``, both contiguous; ``reassoc`` lets LLVM split each sum into
  SIMD lanes (``dot``), which changes only rounding: NaN and Inf propagate.

``matmul_few_rows_ref`` is the NumPy reference.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.kernels._jit import Inline, kernel, prange

# Products with at most this many rows in `a` take `matmul_few_rows`; from here on the register
# tile, which reuses each loaded number of B for TILE_ROWS rows, is faster (docs/performance.md).
FEW_ROWS = 4

_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract", "reassoc"}}


@Inline.with_options(_OPTIONS)
def dot(x, y):
    """``sum(x * y)`` of two 1-D arrays of one length, in SIMD lanes (``reassoc``: only the rounding
    changes; NaN and Inf propagate)."""
    total = x.dtype.type(0)
    for k in range(x.shape[0]):
        total += x[k] * y[k]
    return total


def _warmup(dtype: Any) -> None:
    a = np.ones((2, 3), dtype)
    for b, transposed in ((np.ones((3, 5), dtype), False), (np.ones((5, 3), dtype), True)):
        matmul_few_rows(a, b, transposed, np.empty((2, 5), dtype), 2)


@kernel(parallel=True, warmup=_warmup, **_OPTIONS)
def matmul_few_rows(a, b, b_transposed, out, parts):
    """``out = a @ B`` with ``B = b.T if b_transposed else b``, the columns of ``out`` in ``parts`` shares.

    ``a``, ``b`` and ``out`` are C-contiguous; share ``q`` is columns ``N*q//parts`` to
    ``N*(q+1)//parts``, one share per thread.

    Example::

        >>> a, w = np.ones((1, 3), np.float32), np.ones((70, 3), np.float32)
        >>> out = np.empty((1, 70), np.float32)
        >>> matmul_few_rows(a, w, True, out, 2); float(out[0, 69])
        3.0
    """
    rows, n = out.shape
    n_inner = a.shape[1]
    for q in prange(parts):
        j0, j1 = n * q // parts, n * (q + 1) // parts
        if b_transposed:
            j4 = j0 + (j1 - j0) // 4 * 4
            for j in range(j0, j4, 4):  # four rows of W at a time: four sums in flight, each a[i, k] loaded once
                w0, w1, w2, w3 = b[j], b[j + 1], b[j + 2], b[j + 3]
                for i in range(rows):
                    ai = a[i]
                    t0 = t1 = t2 = t3 = out.dtype.type(0)
                    for k in range(n_inner):
                        x = ai[k]
                        t0 += x * w0[k]
                        t1 += x * w1[k]
                        t2 += x * w2[k]
                        t3 += x * w3[k]
                    out[i, j], out[i, j + 1], out[i, j + 2], out[i, j + 3] = t0, t1, t2, t3
            for j in range(j4, j1):
                for i in range(rows):
                    out[i, j] = dot(a[i], b[j])
        else:
            width = j1 - j0
            for i in range(rows):
                oi = out[i, j0:j1]
                oi[:] = 0
                k4 = n_inner // 4 * 4
                for k in range(0, k4, 4):  # four rows of B per pass over the row of out
                    x0, x1, x2, x3 = a[i, k], a[i, k + 1], a[i, k + 2], a[i, k + 3]
                    b0, b1, b2, b3 = b[k, j0:j1], b[k + 1, j0:j1], b[k + 2, j0:j1], b[k + 3, j0:j1]
                    for j in range(width):
                        oi[j] += x0 * b0[j] + x1 * b1[j] + x2 * b2[j] + x3 * b3[j]
                for k in range(k4, n_inner):
                    x0, b0 = a[i, k], b[k, j0:j1]
                    for j in range(width):
                        oi[j] += x0 * b0[j]


def matmul_few_rows_ref(a: np.ndarray, b: np.ndarray, b_transposed: bool, out: np.ndarray, parts: int) -> None:
    np.matmul(a, b.T if b_transposed else b, out=out)
