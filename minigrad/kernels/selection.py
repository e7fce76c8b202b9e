"""The ``k`` largest (or smallest) entries of each row, in one pass: ``topk`` for small ``k``.

Sorting a row to keep ``k`` of its ``n`` entries does ``n log n`` comparisons. One pass does about
``n``: each row keeps its best ``k`` so far in order, and an entry that does not beat the worst of
them (the common case, once the row has been read a little) costs one comparison.

Order, the one ``sort``, ``argsort`` and ``topk`` share (``stable_order``): NaN counts as the
largest value, and of equal entries the earlier one comes first (an entry must beat the ``k``-th
strictly to get in, and goes in behind the entries it does not beat). The NumPy reference is
exactly that definition: a stable sort, then the first ``k``.

Example::

    >>> values, indices = np.empty((1, 2), np.float32), np.empty((1, 2), np.int64)
    >>> top_k_rows_kernel(np.array([[1.0, 5.0, 3.0, 5.0]], np.float32), 2, True, values, indices)
    >>> values.tolist(), indices.tolist()
    ([[5.0, 5.0]], [[1, 3]])
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.kernels._jit import Inline, jit_disabled, kernel

_OPTIONS = {"error_model": "numpy", "nogil": True}
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32), np.dtype(np.int64))
# The pass keeps each row's best k in order, moving up to k of them for an entry that gets in: for
# a bigger k (or a k close to n) sorting the row is the cheaper way.
ONE_PASS_MAX_K = 64


def stable_order(a: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """Indices that sort ``a`` along ``axis``; ties keep their order, NaN is the largest value.

    Example::

        >>> stable_order(np.array([2.0, np.nan, 1.0, 2.0]), 0, descending=True).tolist()
        [1, 0, 3, 2]
    """
    if a.dtype == np.bool_:
        a = a.view(np.uint8)
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")  # NumPy already puts NaN last
    # Descending: sort the reversed array ascending and read the result backwards. Ties then come
    # out in their original order and NaN first, without negating (which overflows int64's minimum).
    n = a.shape[axis]
    reversed_order = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(reversed_order, axis)


def top_k_rows_kernel_ref(x: np.ndarray, k: int, largest: bool, values: np.ndarray, indices: np.ndarray) -> None:
    """``values``/``indices`` ``(rows, k)``: the first ``k`` of each row of ``x`` in ``stable_order``."""
    chosen = stable_order(x, 1, descending=largest)[:, :k]
    indices[...] = chosen
    values[...] = np.take_along_axis(x, chosen, axis=1)


@Inline.with_options(_OPTIONS)
def _ahead(a, b, largest):
    """Whether ``a`` comes strictly before ``b``: larger (smaller) first, NaN the largest value."""
    if largest:
        if a != a:  # NaN: ahead of any number, not of another NaN
            return b == b
        return a > b  # (False when b is NaN)
    if a != a:
        return False
    if b != b:
        return True
    return a < b


@kernel(**_OPTIONS)
def top_k_rows_kernel(x, k, largest, values, indices):
    rows, n = x.shape
    if k == 0:  # (nothing to keep: values[r, k - 1] below would be outside the row)
        return
    for r in range(rows):
        kept = 0  # how many of values[r, :k] hold entries so far, best first
        for j in range(n):
            v = x[r, j]
            if kept == k and not _ahead(v, values[r, k - 1], largest):
                continue  # not better than the k-th: the usual case
            p = kept if kept < k else k - 1  # the slot it enters at, before moving up
            while p > 0 and _ahead(v, values[r, p - 1], largest):  # behind entries it does not beat
                values[r, p] = values[r, p - 1]
                indices[r, p] = indices[r, p - 1]
                p -= 1
            values[r, p] = v
            indices[r, p] = j
            if kept < k:
                kept += 1


def top_k_indices(x: np.ndarray, k: int, axis: int, largest: bool) -> np.ndarray:
    """Where the ``k`` first entries of ``x`` along ``axis`` in ``stable_order`` are (int64, C order).

    One pass per row (``top_k_rows_kernel``) for ``k`` up to ``ONE_PASS_MAX_K`` and at most an
    eighth of the row; a stable sort otherwise. ``0 <= k <= x.shape[axis]`` (the caller checks).

    Example::

        >>> top_k_indices(np.array([[1.0, 5.0, 3.0, 5.0]], np.float32), 2, axis=1, largest=True).tolist()
        [[1, 3]]
    """
    n = x.shape[axis]
    if not 0 < k <= ONE_PASS_MAX_K or 8 * k > n or x.dtype not in KERNEL_DTYPES or jit_disabled():
        chosen = np.take(stable_order(x, axis, descending=largest), np.arange(k), axis=axis)
        return np.ascontiguousarray(chosen, dtype=np.int64)
    last = axis == x.ndim - 1
    moved = x if last else np.moveaxis(x, axis, -1)
    rows = np.ascontiguousarray(moved).reshape(math.prod(moved.shape[:-1]), n)
    values = np.empty((rows.shape[0], k), x.dtype)
    indices = np.empty((rows.shape[0], k), np.int64)
    top_k_rows_kernel(rows, k, largest, values, indices)
    indices = indices.reshape(moved.shape[:-1] + (k,))
    return indices if last else np.ascontiguousarray(np.moveaxis(indices, -1, axis))


def _warm_top_k(dtype: np.dtype) -> None:
    x = np.arange(16, dtype=dtype).reshape(2, 8)
    for largest in (True, False):
        top_k_rows_kernel(x, 2, largest, np.empty((2, 2), dtype), np.empty((2, 2), np.int64))


top_k_rows_kernel.warmup_fn = _warm_top_k
