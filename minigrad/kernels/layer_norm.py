"""Layer normalisation of the rows of a 2-D array, forward and backward, in two passes each.

For each row ``x`` of ``n`` values (an example's normalised dimensions, flattened)::

    mean = sum(x) / n,   var = sum((x - mean)^2) / n,   rstd = 1 / sqrt(var + eps)
    xhat = (x - mean) * rstd,   y = xhat * weight + bias

and, given ``g = dL/dy``, with ``gh = g * weight``::

    dx      = rstd * (gh - mean(gh) - xhat * mean(gh * xhat))
    dweight = sum over rows of g * xhat,   dbias = sum over rows of g

NumPy computes these as a dozen passes over the array (each sum, difference and product a pass);
the kernels make two each way: the statistics, then the outputs. Sums accumulate in float64 for
every dtype; ``reassoc`` lets LLVM split each sum into SIMD lanes (only the order of the roundings
changes; NaN and inf propagate as before).

Example::

    >>> x = np.array([[1.0, 2.0, 3.0]], np.float32)
    >>> y, xhat, rstd = layer_norm(x, np.ones(3, np.float32), np.zeros(3, np.float32), 1e-5)
    >>> [round(v, 4) for v in y[0].tolist()]
    [-1.2247, 0.0, 1.2247]
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract", "reassoc"}}
KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def layer_norm_forward_kernel_ref(x, weight, bias, eps, y, xhat, rstd) -> None:
    """NumPy: the formulas above, the statistics in float64."""
    x64 = x.astype(np.float64)
    centered = x64 - x64.mean(axis=1, keepdims=True)
    inv = 1.0 / np.sqrt(np.square(centered).mean(axis=1, keepdims=True) + eps)
    rstd[:] = inv[:, 0]
    xhat[...] = centered * inv
    y[...] = xhat * weight + bias


@kernel(**_OPTIONS)
def layer_norm_forward_kernel(x, weight, bias, eps, y, xhat, rstd):
    rows, n = x.shape
    for r in range(rows):
        total = np.float64(0.0)
        for j in range(n):
            total += x[r, j]
        mean = total / n
        squares = np.float64(0.0)
        for j in range(n):
            d = x[r, j] - mean
            squares += d * d
        inv = 1.0 / np.sqrt(squares / n + eps)
        rstd[r] = inv
        for j in range(n):
            h = (x[r, j] - mean) * inv
            xhat[r, j] = h
            y[r, j] = xhat[r, j] * weight[j] + bias[j]


def layer_norm_backward_kernel_ref(grad, xhat, rstd, weight, dx, dweight, dbias) -> None:
    g, h = grad.astype(np.float64), xhat.astype(np.float64)
    gh = g * weight
    dx[...] = rstd[:, None] * (gh - gh.mean(axis=1, keepdims=True) - h * (gh * h).mean(axis=1, keepdims=True))
    dweight[:] = (g * h).sum(axis=0)
    dbias[:] = g.sum(axis=0)


@kernel(**_OPTIONS)
def layer_norm_backward_kernel(grad, xhat, rstd, weight, dx, dweight, dbias):
    rows, n = grad.shape
    dw = np.zeros(n, np.float64)
    db = np.zeros(n, np.float64)
    for r in range(rows):
        sum_gh = np.float64(0.0)
        sum_ghx = np.float64(0.0)
        for j in range(n):
            g = np.float64(grad[r, j])
            gh = g * weight[j]
            sum_gh += gh
            sum_ghx += gh * xhat[r, j]
            dw[j] += g * xhat[r, j]
            db[j] += g
        mean_gh = sum_gh / n
        mean_ghx = sum_ghx / n
        for j in range(n):
            gh = np.float64(grad[r, j]) * weight[j]  # as in the sums: one row of n = 1 gives exactly 0
            dx[r, j] = rstd[r] * (gh - mean_gh - xhat[r, j] * mean_ghx)
    for j in range(n):
        dweight[j] = dw[j]
        dbias[j] = db[j]


def takes(x: np.ndarray, *params: np.ndarray | None) -> bool:
    """Whether the kernels can take ``x`` (C-contiguous float32/float64) and its weight and bias."""
    if x.dtype not in KERNEL_DTYPES or not x.flags.c_contiguous or x.size == 0 or jit_disabled():
        return False
    return all(p is None or (p.dtype == x.dtype and p.flags.c_contiguous) for p in params)


def layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, xhat, rstd)`` of the rows of a C-contiguous 2-D ``x`` (``takes`` says which arrays).

    Example: see the module docstring.
    """
    y, xhat, rstd = np.empty_like(x), np.empty_like(x), np.empty(x.shape[0], np.float64)
    layer_norm_forward_kernel(x, weight, bias, eps, y, xhat, rstd)
    return y, xhat, rstd


def layer_norm_backward(grad: np.ndarray, xhat: np.ndarray, rstd: np.ndarray, weight: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(dx, dweight, dbias)`` given ``dL/dy`` of ``layer_norm``'s rows (any layout) and what it saved.

    Example::

        >>> y, xhat, rstd = layer_norm(np.array([[1.0, 3.0]]), np.ones(2), np.zeros(2), 0.0)
        >>> layer_norm_backward(np.array([[1.0, 0.0]]), xhat, rstd, np.ones(2))[1].tolist()
        [-1.0, 0.0]
    """
    g = np.ascontiguousarray(grad)  # (a gradient broadcast from a sum: copied, one pass)
    n = xhat.shape[1]
    dx, dweight, dbias = np.empty_like(xhat), np.empty(n, xhat.dtype), np.empty(n, xhat.dtype)
    layer_norm_backward_kernel(g, xhat, rstd, weight, dx, dweight, dbias)
    return dx, dweight, dbias


def _warm(dtype: np.dtype) -> None:
    x = np.ones((2, 3), dtype)
    w = np.ones(3, dtype)
    y, xhat, rstd = layer_norm(x, w, w, 1e-5)
    layer_norm_backward(x, xhat, rstd, w)


layer_norm_forward_kernel.warmup_fn = layer_norm_backward_kernel.warmup_fn = _warm
