"""Row-wise softmax and log-softmax over the last axis, numerically stable.

softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m) with m = max_k x_k, so exp never overflows.
NumPy needs five passes and three temporaries (max, subtract, exp, sum, divide); the kernels
make three passes over each row and allocate nothing but the output. That wins for small and
medium inputs; above ``EXP_KERNEL_MAX_SIZE`` elements NumPy's vectorised ``exp`` wins instead
(Numba without SVML calls the scalar ``exp``), so the wrappers send large inputs to NumPy.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

EXP_KERNEL_MAX_SIZE = 2048


def _shift(x: np.ndarray) -> np.ndarray:
    m = x.max(axis=-1, keepdims=True)
    return x - np.where(np.isfinite(m), m, 0)  # rows of -inf stay -inf instead of nan


def softmax_rows_ref(x: np.ndarray) -> np.ndarray:
    e = np.exp(_shift(x))
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax_rows_ref(x: np.ndarray) -> np.ndarray:
    z = _shift(x)
    with np.errstate(divide="ignore"):
        return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _warm(k):
    def warm(dtype):
        x = np.zeros((2, 3), dtype=dtype)
        k(x, np.empty_like(x))
    return warm


@kernel
def softmax_rows_kernel(x, out):
    rows, cols = x.shape
    for r in range(rows):
        m = -np.inf
        for j in range(cols):
            if x[r, j] > m:
                m = x[r, j]
        if not math.isfinite(m):
            m = 0.0
        total = 0.0
        for j in range(cols):
            e = math.exp(x[r, j] - m)
            out[r, j] = e
            total += e
        inv = 1.0 / total if total > 0 else np.nan  # an all -inf row is nan, as in PyTorch
        for j in range(cols):
            out[r, j] *= inv


softmax_rows_kernel.warmup_fn = _warm(softmax_rows_kernel)


@kernel
def log_softmax_rows_kernel(x, out):
    rows, cols = x.shape
    for r in range(rows):
        m = -np.inf
        for j in range(cols):
            if x[r, j] > m:
                m = x[r, j]
        if not math.isfinite(m):
            m = 0.0
        total = 0.0
        for j in range(cols):
            total += math.exp(x[r, j] - m)
        lse = m + math.log(total) if total > 0 else -np.inf
        for j in range(cols):
            out[r, j] = x[r, j] - lse


log_softmax_rows_kernel.warmup_fn = _warm(log_softmax_rows_kernel)


def _rows(x: np.ndarray, k, ref) -> np.ndarray:
    if x.size > EXP_KERNEL_MAX_SIZE or x.ndim == 0 or x.dtype.kind != "f" or jit_disabled():
        return ref(x)
    x2 = np.ascontiguousarray(x).reshape(-1, x.shape[-1])
    out = np.empty_like(x2)
    k(x2, out)
    return out.reshape(x.shape)


def softmax_rows(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of ``x`` (any shape)."""
    return _rows(x, softmax_rows_kernel, softmax_rows_ref)


def log_softmax_rows(x: np.ndarray) -> np.ndarray:
    """Log-softmax over the last axis of ``x`` (any shape)."""
    return _rows(x, log_softmax_rows_kernel, log_softmax_rows_ref)
