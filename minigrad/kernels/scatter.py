"""Scatter-add: the backward of gathering rows by index (``x[idx]``, ``Embedding``).

If row 7 was gathered three times, its gradient is the sum of the three incoming rows. The
NumPy reference uses ``np.add.at`` (correct with repeated indices, but slow); the kernel is one
loop over the indices.
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel


def scatter_add_rows_ref(out: np.ndarray, indices: np.ndarray, src: np.ndarray) -> None:
    """out[indices[m]] += src[m] for every m, accumulating duplicates. In place."""
    np.add.at(out, indices, src)


def _warm(dtype):
    out = np.zeros((2, 2), dtype=dtype)
    scatter_add_rows_kernel(out, np.array([0, 0], dtype=np.int64), np.ones((2, 2), dtype=dtype))


@kernel(warmup=_warm)
def scatter_add_rows_kernel(out, indices, src):
    d = out.shape[1]
    for m in range(indices.shape[0]):
        row = indices[m]
        for j in range(d):
            out[row, j] += src[m, j]


def scatter_add_rows(out: np.ndarray, indices: np.ndarray, src: np.ndarray) -> None:
    """out (N, D) += rows of src (M, D) at indices (M,), in place; duplicates accumulate.

    Indices must already be valid (0 <= i < N): callers check them and raise a clear error.

    Example::

        >>> out = np.zeros((3, 2)); scatter_add_rows(out, np.array([2, 2]), np.ones((2, 2)))
        >>> out[2].tolist()
        [2.0, 2.0]
    """
    if jit_disabled() or src.dtype != out.dtype or not out.flags.c_contiguous:
        scatter_add_rows_ref(out, indices, src)
        return
    scatter_add_rows_kernel(out, np.ascontiguousarray(indices, dtype=np.int64), np.ascontiguousarray(src))
