"""Fused loss kernels: cross-entropy (log-softmax and negative log-likelihood in one pass) and
mean squared error (one pass, no ``x - y`` temporary; at the end of this file).

Cross-entropy over ``C`` classes for one row of logits ``x`` with target class ``t``::

    lse    = log(sum_c exp(x_c))                  (log-sum-exp, the softmax normaliser)
    loss   = w_t * (lse - x_t)                    (= -w_t * log softmax(x)_t)

With label smoothing ``eps`` PyTorch mixes in the loss against the uniform distribution::

    loss   = (1 - eps) * w_t * (lse - x_t) + (eps / C) * sum_c w_c * (lse - x_c)

and the gradient of that with respect to the logits is the famous "softmax minus one-hot"::

    p_c    = exp(x_c - lse)
    dx_c   = (1 - eps) * w_t * (p_c - [c == t]) + (eps / C) * (W * p_c - w_c),   W = sum_c w_c

Rows whose target equals ``ignore_index`` get loss 0 and gradient 0.

Why fused: the composite ``log_softmax`` then ``gather`` then ``mean`` writes a full (N, C)
log-probability array and walks it three times; here each row is read twice (max, then
exp-sum) in the forward pass and twice in the backward pass, with nothing (N, C)-sized saved.

Numerical stability: ``lse = m + log(sum_c exp(x_c - m))`` with ``m = max_c x_c``, so no
``exp`` ever sees a positive argument (logits of +-1000 are fine in float32). ``exp`` runs in
the input's precision; sums are accumulated in float64 even for float32 inputs.

Kernels take C-contiguous arrays (callers use ``np.ascontiguousarray``); targets are int64 and
already range-checked by the caller (``minigrad.nn.functional.cross_entropy``): a kernel does
not bounds-check. ``*_ref`` functions are the NumPy references the tests compare against.
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.kernels._jit import kernel
from minigrad.kernels.rnn import _exp_neg

# The sums over classes (and MSE's over elements) may be reordered (fastmath "reassoc"), so that
# LLVM computes them with SIMD vectors: 16 classes at a time instead of one. This changes rounding
# only (the sums are in float64 anyway); NaN and Inf are handled exactly as before (no "nnan"/"ninf"
# flags).
_OPTIONS = {"error_model": "numpy", "fastmath": {"contract", "reassoc"}}


def _warmup_args(dtype: np.dtype) -> tuple:
    x = np.zeros((2, 3), dtype=dtype)
    t = np.array([0, 2], dtype=np.int64)
    w = np.ones(3, dtype=dtype)
    return x, t, w, np.zeros(2, dtype=dtype)


def _warmup_fwd(dtype: np.dtype) -> None:
    x, t, w, lse = _warmup_args(dtype)
    cross_entropy_fwd(x, t, w, -100, 0.0, lse, np.empty_like(lse))


def _warmup_bwd(dtype: np.dtype) -> None:
    x, t, w, lse = _warmup_args(dtype)
    cross_entropy_bwd(x, t, w, -100, 0.0, lse, np.ones_like(lse), np.empty_like(x))


@kernel(warmup=_warmup_fwd, **_OPTIONS)
def cross_entropy_fwd(x, target, weight, ignore_index, label_smoothing, lse_out, loss_out):
    """Per-row log-sum-exp and cross-entropy loss; returns sum of ``w[t]`` over kept rows.

    x: (N, C) logits; target: (N,) int64; weight: (C,) class weights (ones for none);
    ignore_index: int; label_smoothing: float in [0, 1]; lse_out, loss_out: (N,) outputs.
    The returned float is the denominator of ``reduction='mean'`` (PyTorch's weighted mean).
    """
    n_rows, n_cls = x.shape
    one = x.dtype.type(1)
    eps = label_smoothing
    w_sum = 0.0  # sum_c w_c, needed by the smoothing term
    for c in range(n_cls):
        w_sum += weight[c]
    denom = 0.0
    for n in range(n_rows):
        row = x[n]
        # Pass 1: the row maximum, so that every exp() below has a non-positive argument.
        m = row[0]
        for c in range(1, n_cls):
            m = max(m, row[c])
        # Pass 2: lse = m + log(sum_c exp(x_c - m)). exp() runs in the input's precision (our
        # vectorizable _exp_neg), the sum is accumulated in float64 (s is a Python float).
        s = 0.0
        for c in range(n_cls):
            s += _exp_neg(m - row[c], one)  # exp(x_c - m), x_c <= m
        lse = m + math.log(s)
        lse_out[n] = lse
        t = target[n]
        if t == ignore_index:
            loss_out[n] = 0.0
            continue
        w_t = float(weight[t])
        denom += w_t
        loss = (1.0 - eps) * w_t * (lse - row[t])  # -w_t * log p_t
        if eps > 0.0:
            # sum_c w_c * (lse - x_c) = W * lse - sum_c w_c * x_c
            wx = 0.0
            for c in range(n_cls):
                wx += weight[c] * row[c]
            loss += (eps / n_cls) * (w_sum * lse - wx)
        loss_out[n] = loss
    return denom


@kernel(warmup=_warmup_bwd, **_OPTIONS)
def cross_entropy_bwd(x, target, weight, ignore_index, label_smoothing, lse, row_scale, dx_out):
    """Gradient of the per-row losses: ``dx = row_scale[n] * dloss_n/dx`` (softmax - one-hot).

    ``row_scale`` is the upstream gradient of each row's loss: ``g`` for 'sum',
    ``g / denom`` for 'mean', ``g[n]`` for 'none'. ``lse`` comes from ``cross_entropy_fwd``.
    """
    n_rows, n_cls = x.shape
    one = x.dtype.type(1)
    eps = label_smoothing
    w_sum = 0.0
    for c in range(n_cls):
        w_sum += weight[c]
    for n in range(n_rows):
        t = target[n]
        out = dx_out[n]
        if t == ignore_index:
            for c in range(n_cls):
                out[c] = 0.0
            continue
        row = x[n]
        l = lse[n]
        a = row_scale[n] * (1.0 - eps) * weight[t]  # scale of (p - onehot)
        if eps > 0.0:
            b = row_scale[n] * eps / n_cls  # scale of (W p - w)
            for c in range(n_cls):
                p = _exp_neg(l - row[c], one)  # softmax exp(x_c - lse), from the saved log-sum-exp
                out[c] = a * p + b * (w_sum * p - weight[c])
        else:
            for c in range(n_cls):
                out[c] = a * _exp_neg(l - row[c], one)
        out[t] -= a


# ---------------------------------------------------------------------------------------------
# Mean squared error: the sum of (x - y)^2 and its gradient, element-wise in one pass.
# ---------------------------------------------------------------------------------------------
# Both take 1-D C-contiguous arrays of one dtype (callers flatten with ``reshape(-1)``, a view of a
# contiguous array): one machine-code version per dtype, whatever the loss's shape.


def _warmup_mse_sum(dtype: np.dtype) -> None:
    mse_sum(np.zeros(3, dtype), np.ones(3, dtype))


def _warmup_mse_grad(dtype: np.dtype) -> None:
    mse_grad(np.zeros(3, dtype), np.ones(3, dtype), 0.5, np.empty(3, dtype))


@kernel(warmup=_warmup_mse_sum, **_OPTIONS)
def mse_sum(x, y):
    """``sum((x - y)^2)`` as a float64, for 1-D C-contiguous ``x``, ``y`` of one dtype.

    Each ``(x_i - y_i)^2`` is computed in the input's dtype (as ``(x - y) ** 2`` in NumPy, so a
    float32 square overflows to inf as PyTorch's does), the sum is accumulated in float64.
    NaN and Inf propagate.

    Example::

        >>> mse_sum(np.array([1.0, 3.0]), np.array([0.0, 1.0]))
        5.0
    """
    s = 0.0
    for i in range(x.size):
        d = x[i] - y[i]
        s += float(d * d)  # float(): a float64 sum in plain Python too (NumPy 2 keeps float32 + float)
    return s


@kernel(warmup=_warmup_mse_grad, **_OPTIONS)
def mse_grad(x, y, scale, out):
    """``out = scale * (x - y)`` in the input's dtype, for 1-D C-contiguous arrays of one dtype.

    ``scale`` is ``2 g / n`` (reduction 'mean') or ``2 g`` ('sum') for the upstream gradient ``g``.

    Example::

        >>> out = np.empty(2)
        >>> mse_grad(np.array([1.0, 3.0]), np.array([0.0, 1.0]), 0.5, out)
        >>> out.tolist()
        [0.5, 1.0]
    """
    s = x.dtype.type(scale)
    for i in range(x.size):
        out[i] = s * (x[i] - y[i])


# ---------------------------------------------------------------------------------------------
# NumPy references (same signatures, any memory layout).
# ---------------------------------------------------------------------------------------------


def cross_entropy_fwd_ref(x, target, weight, ignore_index, label_smoothing, lse_out, loss_out):
    """NumPy reference of :func:`cross_entropy_fwd`."""
    x64 = np.asarray(x, dtype=np.float64)
    w64 = np.asarray(weight, dtype=np.float64)
    n_cls = x64.shape[1]
    m = x64.max(axis=1, keepdims=True)
    lse = (m + np.log(np.exp(x64 - m).sum(axis=1, keepdims=True)))[:, 0]
    keep = target != ignore_index
    t = np.where(keep, target, 0)
    w_t = np.where(keep, w64[t], 0.0)
    nll = lse - x64[np.arange(len(t)), t]
    smooth = (w64[None, :] * (lse[:, None] - x64)).sum(axis=1)
    loss = (1.0 - label_smoothing) * w_t * nll + (label_smoothing / n_cls) * smooth
    lse_out[:] = lse
    loss_out[:] = np.where(keep, loss, 0.0)
    return float(w_t.sum())


def cross_entropy_bwd_ref(x, target, weight, ignore_index, label_smoothing, lse, row_scale, dx_out):
    """NumPy reference of :func:`cross_entropy_bwd`."""
    x64 = np.asarray(x, dtype=np.float64)
    w64 = np.asarray(weight, dtype=np.float64)
    n_rows, n_cls = x64.shape
    keep = target != ignore_index
    t = np.where(keep, target, 0)
    p = np.exp(x64 - np.asarray(lse, dtype=np.float64)[:, None])
    onehot = np.zeros_like(p)
    onehot[np.arange(n_rows), t] = 1.0
    g = np.where(keep, np.asarray(row_scale, dtype=np.float64), 0.0)[:, None]
    d = (1.0 - label_smoothing) * w64[t][:, None] * (p - onehot)
    d += (label_smoothing / n_cls) * (w64.sum() * p - w64[None, :])
    dx_out[:] = g * d


def mse_sum_ref(x, y):
    """NumPy reference of :func:`mse_sum` (any shape and layout)."""
    d = x - y
    return float((d * d).sum(dtype=np.float64))


def mse_grad_ref(x, y, scale, out):
    """NumPy reference of :func:`mse_grad` (any shape and layout)."""
    np.multiply(np.subtract(x, y), np.asarray(scale, dtype=np.result_type(x, y)), out=out)
