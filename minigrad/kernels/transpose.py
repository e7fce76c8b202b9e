"""A matrix's transpose in C order, copied in blocks: ``contiguous_transpose(a)`` is ``np.ascontiguousarray(a.T)``.

The recurrent layers read ``W_hh^T`` row by row in every step, so they copy it once per call.
NumPy makes that copy one element at a time down ``a``'s columns; when ``a``'s rows lie a power of
two bytes apart (hidden sizes 128, 256, 512: the common ones) those reads all fall into the same
few cache sets and evict each other. The kernel moves ``TRANSPOSE_BLOCK`` x ``TRANSPOSE_BLOCK``
blocks instead: a block's reads touch that many rows, and each of its output rows is written in
one contiguous run. The measurements are in docs/performance.md.
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

# The side of the square blocks the kernel moves (a compile-time constant of the kernel).
TRANSPOSE_BLOCK = 8
# The kernel from this many elements (W_hh of an LSTM(64)); below, NumPy's copy costs no more than the
# call around a kernel.
TRANSPOSE_MIN_SIZE = 16384


def _warmup_transpose(dtype: np.dtype) -> None:
    transpose_kernel(np.zeros((9, 10), dtype), np.empty((10, 9), dtype))


@kernel(warmup=_warmup_transpose, error_model="numpy", nogil=True)
def transpose_kernel(a, out):
    """``out[j, i] = a[i, j]`` for ``a`` ``(n, m)`` and ``out`` ``(m, n)``: whole blocks, then the edges."""
    n, m = a.shape
    block = TRANSPOSE_BLOCK
    n_blocks, m_blocks = n - n % block, m - m % block
    for i0 in range(0, n_blocks, block):
        for j0 in range(0, m_blocks, block):
            for j in range(block):
                row = out[j0 + j, i0:i0 + block]  # one contiguous run of the output per column of the block
                for i in range(block):
                    row[i] = a[i0 + i, j0 + j]
    for i in range(n_blocks, n):  # the last rows of a (fewer than a block)
        for j in range(m):
            out[j, i] = a[i, j]
    for i in range(n_blocks):  # the last columns of a, beside the blocks
        for j in range(m_blocks, m):
            out[j, i] = a[i, j]


def transpose_kernel_ref(a: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, a.T)


def contiguous_transpose(a: np.ndarray) -> np.ndarray:
    """``a.T`` as a C-contiguous array, as ``np.ascontiguousarray(a.T)``: ``a.T`` itself when it is one.

    The copy is the kernel's for C-contiguous float32/float64 matrices of ``TRANSPOSE_MIN_SIZE``
    elements or more, NumPy's for everything else.

    Example::

        >>> contiguous_transpose(np.arange(6.0).reshape(2, 3)).tolist()
        [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    """
    if a.T.flags.c_contiguous:
        return a.T
    out = np.empty((a.shape[1], a.shape[0]), a.dtype)
    if a.size >= TRANSPOSE_MIN_SIZE and a.dtype.char in "fd" and a.flags.c_contiguous and not jit_disabled():
        transpose_kernel(a, out)
    else:
        np.copyto(out, a.T)
    return out
