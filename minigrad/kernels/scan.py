"""Running sums along one axis, forwards (``cumsum``) or backwards (its gradient), in one pass.

    forward:   out[k] = x[0] + x[1] + ... + x[k]
    reverse:   out[k] = x[k] + x[k+1] + ... + x[n-1]      (d cumsum_j / d x_k = 1 for every j >= k)

The array is seen as ``(outer, n, inner)`` with the summed axis in the middle. Where ``inner > 1``
(any axis but the last) one running sum per ``inner`` element advances a row at a time: the inner
loop is contiguous and vectorised. Along the last axis (``inner == 1``) each row is one chain of
additions, each waiting for the one before.

float32 sums accumulate in float64 and each running sum is rounded once, as PyTorch's CPU cumsum
does (its ``acc_type``): a float32 running sum that passes float32's range on the way comes back.
``running_sum_kernel_ref`` computes the same with NumPy's ``cumsum(..., dtype=float64)`` (through
a casting buffer) and, for the gradient, two flipped views around it.

Example::

    >>> running_sum(np.array([[1.0, 2.0, 3.0]], np.float32), 1, reverse=False).tolist()
    [[1.0, 3.0, 6.0]]
    >>> running_sum(np.array([1.0, 2.0, 3.0]), 0, reverse=True).tolist()
    [6.0, 5.0, 3.0]
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# The accumulator of each dtype (PyTorch's acc_type on the CPU); other dtypes accumulate in their own.
ACCUMULATE_IN = {np.dtype(np.float16): np.float32, np.dtype(np.float32): np.float64}


def running_sum_kernel_ref(x: np.ndarray, reverse: bool, out: np.ndarray) -> None:
    """``out`` = running sums of the ``(outer, n, inner)`` array ``x`` along its middle axis."""
    a = np.flip(x, 1) if reverse else x
    sums = np.cumsum(a, axis=1, dtype=ACCUMULATE_IN.get(x.dtype, x.dtype))
    out[...] = np.flip(sums, 1) if reverse else sums


@kernel(error_model="numpy", nogil=True)
def running_sum_kernel(x, reverse, out):
    outer, n, inner = x.shape
    if inner == 1:  # along the last axis: one chain of additions per row, four rows side by side
        o = 0
        while o + 4 <= outer:  # four independent chains: each addition need not wait for the one before
            t0 = t1 = t2 = t3 = np.float64(0.0)  # whatever the dtype (np.float64: also in plain Python)
            for step in range(n):
                k = n - 1 - step if reverse else step
                t0 += x[o, k, 0]
                t1 += x[o + 1, k, 0]
                t2 += x[o + 2, k, 0]
                t3 += x[o + 3, k, 0]
                out[o, k, 0] = t0
                out[o + 1, k, 0] = t1
                out[o + 2, k, 0] = t2
                out[o + 3, k, 0] = t3
            o += 4
        for r in range(o, outer):
            total = np.float64(0.0)
            for step in range(n):
                k = n - 1 - step if reverse else step
                total += x[r, k, 0]
                out[r, k, 0] = total
        return
    totals = np.empty(inner, np.float64)
    for o in range(outer):
        totals[:] = 0.0
        for step in range(n):
            k = n - 1 - step if reverse else step
            for j in range(inner):
                totals[j] += x[o, k, j]
                out[o, k, j] = totals[j]


def running_sum(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    """Running sums of ``x`` along ``axis`` (from the end if ``reverse``), in ``x``'s dtype.

    float32 and float16 accumulate in a wider type, as PyTorch's cumsum. Example: see the module.
    """
    out = np.empty(x.shape, x.dtype)
    if x.size == 0:
        return out
    n = x.shape[axis]
    shape3 = (math.prod(x.shape[:axis]), n, math.prod(x.shape[axis + 1:]))
    x3 = np.ascontiguousarray(x).reshape(shape3)  # (a gradient broadcast from a sum: copied, one pass)
    if x.dtype in KERNEL_DTYPES and not jit_disabled():
        running_sum_kernel(x3, reverse, out.reshape(shape3))
    else:
        running_sum_kernel_ref(x3, reverse, out.reshape(shape3))
    return out


def _warm_running_sum(dtype: np.dtype) -> None:
    x = np.ones((2, 3, 1), dtype)
    running_sum_kernel(x, False, np.empty_like(x))


running_sum_kernel.warmup_fn = _warm_running_sum
