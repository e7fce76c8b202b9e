"""Fused activation kernels: one pass over memory instead of NumPy's three or four.

``sigmoid`` in NumPy needs ``exp``, ``+``, ``/`` and a ``where`` for stability, each a full pass
with a temporary array; the kernel does it in one loop. Each kernel has a NumPy reference
(``*_ref``) and the wrappers below choose, by measurement (benchmarks/bench_core.py):

- the backward kernels (a few multiplies per element) beat NumPy at every size: always used;
- the forward kernel calls ``exp`` once per element. Numba without Intel's SVML calls the scalar
  ``exp``, while NumPy's ``exp`` is vectorised, so above ``EXP_KERNEL_MAX_SIZE`` elements NumPy is
  used, and below it the kernel (one pass, no temporaries). The measurements behind the bound are
  in docs/performance.md ("Activation kernels and their size bound").
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel

# Above this many elements NumPy's vectorised exp beats the kernel's scalar exp.
EXP_KERNEL_MAX_SIZE = 2048


def _warm_unary(k):
    def warm(dtype):
        x = np.zeros(3, dtype=dtype)
        k(x, np.empty_like(x))
    return warm


def _warm_binary(k):
    def warm(dtype):
        x = np.zeros(3, dtype=dtype)
        k(x, x, np.empty_like(x))
    return warm


# ------------------------------------------------------------------ sigmoid
def sigmoid_forward_ref(x: np.ndarray) -> np.ndarray:
    """sigma(x) = 1 / (1 + exp(-x)), written so that exp never overflows."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


@kernel
def sigmoid_forward_kernel(x, out):
    for i in range(x.size):
        v = x[i]
        if v >= 0:
            out[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            out[i] = e / (1.0 + e)


sigmoid_forward_kernel.warmup_fn = _warm_unary(sigmoid_forward_kernel)


def sigmoid_backward_ref(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """d sigma / dx = sigma (1 - sigma), times the incoming gradient."""
    return grad * y * (1 - y)


@kernel
def sigmoid_backward_kernel(y, grad, out):
    for i in range(y.size):
        out[i] = grad[i] * y[i] * (1.0 - y[i])


sigmoid_backward_kernel.warmup_fn = _warm_binary(sigmoid_backward_kernel)


# ------------------------------------------------------------------ tanh
def tanh_backward_ref(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    """d tanh / dx = 1 - tanh^2, times the incoming gradient."""
    return grad * (1 - y * y)


@kernel
def tanh_backward_kernel(y, grad, out):
    for i in range(y.size):
        out[i] = grad[i] * (1.0 - y[i] * y[i])


tanh_backward_kernel.warmup_fn = _warm_binary(tanh_backward_kernel)


# ------------------------------------------------------------------ dispatch
def _contiguous(a: np.ndarray) -> np.ndarray:
    # (np.ascontiguousarray would turn a 0-d array into a 1-d one)
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _use_kernel(*arrays: np.ndarray) -> bool:
    a = arrays[0]
    return a.dtype.kind == "f" and not jit_disabled() and all(
        b.shape == a.shape and b.dtype == a.dtype for b in arrays)


def sigmoid(x: np.ndarray) -> np.ndarray:
    if x.size > EXP_KERNEL_MAX_SIZE or not _use_kernel(x):
        return sigmoid_forward_ref(x)
    x = _contiguous(x)
    out = np.empty_like(x)
    sigmoid_forward_kernel(x.reshape(-1), out.reshape(-1))
    return out


def sigmoid_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    if not _use_kernel(y, grad):
        return sigmoid_backward_ref(y, grad)
    y, grad = _contiguous(y), _contiguous(grad)
    out = np.empty_like(y)
    sigmoid_backward_kernel(y.reshape(-1), grad.reshape(-1), out.reshape(-1))
    return out


def tanh_backward(y: np.ndarray, grad: np.ndarray) -> np.ndarray:
    if not _use_kernel(y, grad):
        return tanh_backward_ref(y, grad)
    y, grad = _contiguous(y), _contiguous(grad)
    out = np.empty_like(y)
    tanh_backward_kernel(y.reshape(-1), grad.reshape(-1), out.reshape(-1))
    return out
