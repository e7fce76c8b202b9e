"""A bias added to every row of a matrix, and its gradient, the sum of the rows: one loop each.

The bias of a layer stepped in Python, at every time step::

    z = X @ W_x + H @ W_h + b       add: b (one number per column) added to each of the batch's rows
    y = x @ W.T + b                 add_in_place: nn.Linear adds b into its product
    dL/db = sum over rows of g      sum_rows: the bias was used by every row, so its gradient sums them

NumPy runs ``x + b`` through its broadcasting loops, which cost it more than the additions
themselves on the matrices of a recurrent step (a few thousand numbers); here it is one loop over
contiguous rows (docs/performance.md, "A bias in one loop"). Arrays of one shape keep NumPy's
``a + b``: its loop for them is as quick as ours.

Rules:

- The kernels do exactly the IEEE operations NumPy does, in NumPy's order, with no fast-math: the
  results are NumPy's bit for bit, NaN, inf and -0.0 included. ``sum_rows`` adds the rows in
  order, row 0 first, as NumPy's ``g.sum(axis=0)`` does for a C-ordered ``g``; of one row it is
  that row (NumPy's sum would turn a -0.0 into +0.0).
- The public functions take any arrays; the kernels only C-contiguous float32/float64 arrays of
  one dtype (``takes``) with at least ``KERNEL_MIN_SIZE`` numbers, everything else (small, views,
  mixed dtypes, other broadcasts, ``NUMBA_DISABLE_JIT``) goes to NumPy's own expression.

Example::

    >>> x, b = np.ones((2, 3), np.float32), np.arange(3, dtype=np.float32)
    >>> add(x, b).tolist()
    [[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]
    >>> sum_rows(add(x, b)).tolist()
    [2.0, 4.0, 6.0]
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# From this many numbers in the rows: below it NumPy's loops cost less than the checks and the call around ours.
KERNEL_MIN_SIZE = 4096
# No "contract": each sum is one rounding, as in NumPy.
_EXACT = {"error_model": "numpy", "nogil": True}


def takes(x: np.ndarray, b: np.ndarray) -> bool:
    """Whether the kernels can take ``x`` and ``b``: C-contiguous float32/float64 arrays of one dtype, JIT on."""
    return (x.dtype in KERNEL_DTYPES and b.dtype == x.dtype and x.flags.c_contiguous and b.flags.c_contiguous
            and not jit_disabled())


def _warm(dtype: np.dtype) -> None:
    x, b = np.ones((2, 3), dtype), np.ones(3, dtype)
    add_row_kernel(x, b, np.empty((2, 3), dtype))
    add_row_in_place_kernel(x, b)
    sum_rows_kernel(x, b)


# ---------------------------------------------------------------------- x + b, y += b
def add_row_kernel_ref(x: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """``out = x + b`` with NumPy: ``x`` 2-D, ``b`` 1-D with one number per column, added to every row."""
    np.add(x, b, out=out)


@kernel(warmup=_warm, **_EXACT)
def add_row_kernel(x, b, out):
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] + b[j]


def add_row_in_place_kernel_ref(y: np.ndarray, b: np.ndarray) -> None:
    """``y += b`` with NumPy: ``b`` added to every row of the 2-D ``y``."""
    y += b


@kernel(warmup=_warm, **_EXACT)
def add_row_in_place_kernel(y, b):
    for i in range(y.shape[0]):
        for j in range(y.shape[1]):
            y[i, j] += b[j]


def add(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` as a new array: rows plus a bias (``(..., n) + (n,)``, either way round) in one loop,
    everything else by NumPy's ``a + b``.

    Example: ``add(np.zeros((2, 2)), np.array([1.0, 2.0])).tolist()`` -> [[1.0, 2.0], [1.0, 2.0]].
    """
    if a.ndim != b.ndim:
        rows, row = (a, b) if a.ndim > b.ndim else (b, a)  # addition commutes, bit for bit
        if rows.size >= KERNEL_MIN_SIZE and row.ndim == 1 and row.shape[0] == rows.shape[-1] and takes(rows, row):
            out = np.empty_like(rows)
            if rows.ndim == 2:
                add_row_kernel(rows, row, out)
            else:
                n = row.shape[0]
                add_row_kernel(rows.reshape(-1, n), row, out.reshape(-1, n))
            return out
    return a + b


def add_in_place(y: np.ndarray, b: np.ndarray) -> None:
    """``y += b`` for a bias ``b`` of one number per column of ``y`` (``(..., n)`` and ``(n,)``).

    Example::

        >>> y = np.zeros((2, 2), np.float32)
        >>> add_in_place(y, np.array([1.0, 2.0], np.float32)); y.tolist()
        [[1.0, 2.0], [1.0, 2.0]]
    """
    if y.size >= KERNEL_MIN_SIZE and b.ndim == 1 and y.ndim >= 2 and y.shape[-1] == b.shape[0] and takes(y, b):
        add_row_in_place_kernel(y if y.ndim == 2 else y.reshape(-1, b.shape[0]), b)
    else:
        y += b


# ------------------------------------------------------------------- dL/db = sum of rows
def sum_rows_kernel_ref(g: np.ndarray, out: np.ndarray) -> None:
    """``out = g[0] + g[1] + ...`` with NumPy, row by row, for a 2-D ``g`` of at least one row."""
    np.copyto(out, g[0])
    for row in g[1:]:
        out += row


@kernel(warmup=_warm, **_EXACT)
def sum_rows_kernel(g, out):
    for j in range(g.shape[1]):
        out[j] = g[0, j]
    for i in range(1, g.shape[0]):  # row by row, in order: NumPy's sums of a C-ordered array
        for j in range(g.shape[1]):
            out[j] += g[i, j]


def sum_rows(g: np.ndarray) -> np.ndarray:
    """``g.sum(axis=0)`` of a 2-D array as a new array: a bias's gradient, summed over the rows that used it.

    Of one row (a batch of one) that row copied: the same numbers, a -0.0 kept, without NumPy's
    reduction around them.

    Example::

        >>> sum_rows(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist(), sum_rows(np.array([[-0.0, 5.0]])).tolist()
        ([4.0, 6.0], [-0.0, 5.0])
    """
    if g.shape[0] == 1:
        return g[0].copy()
    if g.size >= KERNEL_MIN_SIZE and g.shape[1] and takes(g, g):  # (one array: it is both of takes' arrays)
        out = np.empty(g.shape[1], g.dtype)
        sum_rows_kernel(g, out)
        return out
    return g.sum(axis=0)
