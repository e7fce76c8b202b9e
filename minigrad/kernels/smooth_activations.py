"""ELU and softplus, the smooth ReLUs, and their gradients in one pass each.

    elu(x)             = x if x > 0 else alpha (e^x - 1)
    elu'(x) grad       = grad if x > 0 else grad * alpha e^x
    softplus(x)        = x if beta x > threshold else log(1 + e^(beta x)) / beta
    softplus'(x) grad  = grad if beta x > threshold else grad * sigmoid(beta x)

with ``log(1 + e^b) = max(b, 0) + log(1 + e^-|b|)``, whose ``exp`` never overflows.

NumPy makes five passes or more over the array for each (a product, ``exp``, ``log1p``, a
comparison, a ``where``), each reading and writing all of it. The kernels read ``x`` once and
write the output once. ``exp`` is ``rnn_common``'s arithmetic one, so LLVM vectorises the loops;
``log(1 + e)`` for ``0 <= e <= 1`` is the series of ``2 atanh(w)``, ``w = e / (2 + e) <= 1/3``:

    log(1 + e) = 2 (w + w^3/3 + w^5/5 + ...)      (8 terms for float32, 17 for float64)

and ``e^x - 1`` for ``x <= 0`` is ``(1 + q - P) / P`` from ``_exp_split``'s ``e^x = (1 + q) / P``:
``P = 1`` for ``|x| < ln2 / 2``, where ``q`` is ``expm1`` itself, with all its digits.

Below ``e^-85`` (about 1e-37) that ``exp`` is 0, as in the sigmoid: softplus of ``x < -85`` and ELU's
gradient there are 0 where float64 could hold numbers down to 1e-308.

Rules: NaN in, NaN out (PyTorch's ELU gradient gives NaN at a NaN input in its vectorised loop, and
``grad`` in the scalar loop after it); ``elu(-inf) = -alpha``, ``softplus(-inf) = 0``, ``softplus(inf) = inf``.
C-contiguous float32/float64 arrays (a gradient of ``x``'s shape and dtype, in any layout) go
through a kernel at every size; the rest (views, half precision, the JIT off) through the NumPy
formulas, the ``_ref`` functions.

Example::

    >>> elu(np.array([-1.0, 2.0]), 1.0).round(4).tolist()
    [-0.6321, 2.0]
    >>> softplus(np.array([0.0, 30.0]), 1.0, 20.0).round(4).tolist()
    [0.6931, 30.0]
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import Inline, kernel
from minigrad.kernels.activations import _takes
from minigrad.kernels.rnn_common import _OPTIONS, _exp_neg, _exp_split, _sigmoid


def _grad_takes(grad: np.ndarray, x: np.ndarray) -> bool:
    return type(grad) is np.ndarray and grad.shape == x.shape and grad.dtype == x.dtype and _takes(x)


# ---------------------------------------------------------------------------------- ELU
def elu_kernel_ref(x: np.ndarray, alpha, out: np.ndarray) -> None:
    """``out = x if x > 0 else alpha expm1(x)`` (``expm1`` of x <= 0 only: no overflow; -0.0 kept)."""
    np.copyto(out, np.where(x > 0, x, alpha * np.expm1(np.where(x > 0, 0, x))))


@kernel(**_OPTIONS)
def elu_kernel(x, alpha, out):
    one = x.dtype.type(1)
    zero = one - one
    for i in range(x.size):
        v = x[i]
        P, q = _exp_split(-v if v < zero else zero, one)  # for v <= 0: e^v = (1 + q) / P
        negative = alpha * (((one - P) + q) / P) if v != zero else alpha * v  # (alpha * +-0, as expm1(+-0))
        out[i] = v if v > zero or v != v else negative


def elu_backward_kernel_ref(grad: np.ndarray, x: np.ndarray, alpha, out: np.ndarray) -> None:
    np.copyto(out, np.where(x > 0, grad, grad * (alpha * np.exp(np.minimum(x, 0)))))


@kernel(**_OPTIONS)
def elu_backward_kernel(grad, x, alpha, out):
    one = x.dtype.type(1)
    zero = one - one
    for i in range(x.size):
        v = x[i]
        slope = alpha * _exp_neg(-v if v < zero else zero, one)  # alpha e^v for v <= 0
        slope = slope if v == v else v  # (the select above maps NaN to 0)
        out[i] = grad[i] if v > zero else grad[i] * slope


def elu(x: np.ndarray, alpha: float) -> np.ndarray:
    """``x if x > 0 else alpha (exp(x) - 1)`` of a float array, as a new array.

    Example: ``elu(np.array([-np.inf, 0.5]), 2.0).tolist()`` -> [-2.0, 0.5].
    """
    alpha = x.dtype.type(alpha)
    out = np.empty(x.shape, x.dtype)
    if _takes(x):
        elu_kernel(x.reshape(-1), alpha, out.reshape(-1))
    else:
        elu_kernel_ref(x, alpha, out)
    return out


def elu_backward(grad: np.ndarray, x: np.ndarray, alpha: float) -> np.ndarray:
    """``grad if x > 0 else grad * alpha exp(x)``: the gradient of ELU at its input ``x``.

    Example: ``elu_backward(np.full(2, 3.0), np.array([0.0, 1.0]), 0.5).tolist()`` -> [1.5, 3.0].
    """
    alpha = grad.dtype.type(alpha)
    out = np.empty(np.broadcast_shapes(grad.shape, x.shape), grad.dtype)
    if _grad_takes(grad, x):
        elu_backward_kernel(np.ascontiguousarray(grad).reshape(-1), x.reshape(-1), alpha, out.reshape(-1))
    else:
        elu_backward_kernel_ref(grad, x, alpha, out)
    return out


# ----------------------------------------------------------------------------- softplus
@Inline.with_options(_OPTIONS)
def _log1p_small(e, one):
    """``log(1 + e)`` for ``0 <= e <= 1``: ``2 atanh(w)``, ``w = e / (2 + e)``, its odd series by Horner.

    ``w^2 <= 1/9``: each term is a ninth of the one before, so 8 terms reach float32's precision
    and 17 float64's. ``single`` is a constant per dtype: LLVM keeps one branch.
    """
    T = type(one)
    w = e / (T(2) + e)
    w2 = w * w
    single = one + T(1e-10) == one
    terms = 8 if single else 17
    series = one / T(2 * terms - 1)
    for k in range(terms - 2, -1, -1):  # 1/(2k+1) + w^2 (...), from the deepest term up
        series = one / T(2 * k + 1) + w2 * series
    return T(2) * w * series


def softplus_kernel_ref(x: np.ndarray, beta, threshold, out: np.ndarray) -> None:
    """``out = x if beta x > threshold else (max(beta x, 0) + log1p(exp(-|beta x|))) / beta``."""
    bx = beta * x
    soft = (np.log1p(np.exp(-np.abs(bx))) + np.maximum(bx, 0)) / beta
    np.copyto(out, np.where(bx > threshold, x, soft))


@kernel(**_OPTIONS)
def softplus_kernel(x, beta, threshold, out):
    one = x.dtype.type(1)
    zero = one - one
    for i in range(x.size):
        v = x[i]
        b = beta * v
        e = _exp_neg(abs(b), one)  # e^-|beta x| <= 1
        soft = ((b if b > zero else zero) + _log1p_small(e, one)) / beta
        out[i] = v if b > threshold or v != v else soft


def softplus_backward_kernel_ref(grad: np.ndarray, x: np.ndarray, beta, threshold, out: np.ndarray) -> None:
    bx = beta * x
    with np.errstate(over="ignore"):  # exp(-bx) = inf: the sigmoid is 0, its value there
        np.copyto(out, np.where(bx > threshold, grad, grad * (1 / (1 + np.exp(-bx)))))


@kernel(**_OPTIONS)
def softplus_backward_kernel(grad, x, beta, threshold, out):
    one = x.dtype.type(1)
    for i in range(x.size):
        b = beta * x[i]
        out[i] = grad[i] if b > threshold else grad[i] * _sigmoid(b, one)


def softplus(x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """``log(1 + exp(beta x)) / beta`` of a float array, ``x`` itself where ``beta x > threshold``.

    Example: ``softplus(np.array([-np.inf, 0.0]), 2.0, 20.0).round(4).tolist()`` -> [0.0, 0.3466].
    """
    beta, threshold = x.dtype.type(beta), x.dtype.type(threshold)
    out = np.empty(x.shape, x.dtype)
    if _takes(x):
        softplus_kernel(x.reshape(-1), beta, threshold, out.reshape(-1))
    else:
        softplus_kernel_ref(x, beta, threshold, out)
    return out


def softplus_backward(grad: np.ndarray, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
    """``grad * sigmoid(beta x)``, ``grad`` where ``beta x > threshold``: the gradient of softplus.

    Example: ``softplus_backward(np.full(2, 2.0), np.array([0.0, 30.0]), 1.0, 20.0).tolist()`` -> [1.0, 2.0].
    """
    beta, threshold = grad.dtype.type(beta), grad.dtype.type(threshold)
    out = np.empty(np.broadcast_shapes(grad.shape, x.shape), grad.dtype)
    if _grad_takes(grad, x):
        softplus_backward_kernel(np.ascontiguousarray(grad).reshape(-1), x.reshape(-1), beta, threshold,
                                 out.reshape(-1))
    else:
        softplus_backward_kernel_ref(grad, x, beta, threshold, out)
    return out


# The warmups (``python -m minigrad warmup --all``): one call on tiny arrays of a dtype.
def _warm_elu(dtype: np.dtype) -> None:
    x = np.zeros(3, dtype)
    elu_kernel(x, dtype.type(1), np.empty_like(x))
    elu_backward_kernel(x, x, dtype.type(1), np.empty_like(x))


def _warm_softplus(dtype: np.dtype) -> None:
    x = np.zeros(3, dtype)
    softplus_kernel(x, dtype.type(1), dtype.type(20), np.empty_like(x))
    softplus_backward_kernel(x, x, dtype.type(1), dtype.type(20), np.empty_like(x))


elu_kernel.warmup_fn = elu_backward_kernel.warmup_fn = _warm_elu
softplus_kernel.warmup_fn = softplus_backward_kernel.warmup_fn = _warm_softplus
