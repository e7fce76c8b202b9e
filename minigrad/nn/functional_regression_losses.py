"""Regression losses for ``mg.nn.functional``: MSE, L1, smooth L1 and Huber.

Each compares ``input`` with a ``target`` of the same (or a broadcastable) shape element by
element, as one ``Function`` node (forward next to backward) with PyTorch's arguments and
reductions. They are importable from ``minigrad.nn.functional`` like every other functional
form. The classification losses (NLL, binary cross-entropy, KL divergence) are in
functional_classification_losses.py: the two families share only the checks of ``nn/_checks.py``,
so each file reads on its own.

Example::

    >>> import minigrad as mg
    >>> import minigrad.nn.functional as F
    >>> F.mse_loss(mg.tensor([1.0, 3.0]), mg.tensor([0.0, 1.0])).item()   # mean of 1 and 4
    2.5
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigrad._allocator import contiguous_aligned, empty_aligned
from minigrad.autograd import Function
from minigrad.dtypes import result_type
from minigrad.errors import ShapeError
from minigrad.kernels.loss import mse_grad, mse_sum
from minigrad.nn._checks import (
    _as_tensor,
    _broadcast_target,
    _check_floating,
    _check_reduction,
    _legacy_reduction,
    _reduce,
    _unreduce,
)
from minigrad.tensor import Tensor

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]


# ================================================================================================
# Regression losses: MSE and L1
# ================================================================================================


class MSELoss(Function):
    """Mean squared error as one node. With ``d = x - y`` element-wise and ``n`` elements::

        loss     = sum_i d_i^2 / n          ('mean'; 'sum' without the / n; 'none': each d_i^2)
        dloss/dx = 2 d / n                  (dloss/dy = -dloss/dx)

    The fast path (same shape, same float32/float64 dtype, 'mean' or 'sum') runs the fused
    kernels of ``kernels/loss.py``: one pass over ``x`` and ``y``, no ``d``-sized temporary, and
    backward writes its one output array. Everything else takes the NumPy path below it.
    """

    name = "mse_loss"

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self.fused = self.reduction != "none" and _same_kernel_arrays(x, y)
        if self.fused:
            self.save_for_backward(x, y)  # the inputs themselves, so in-place changes are caught
            total = mse_sum(_flat(x), _flat(y))  # a float64
            if self.reduction == "mean":
                total = total / x.size if x.size else math.nan
            return np.asarray(total, dtype=x.dtype)
        diff = (x - y).astype(self.dtype, copy=False)
        self.save_for_backward(diff, x, y)
        return _reduce(diff * diff, self.reduction)

    def backward(self, grad: np.ndarray):
        need_x, need_y = self.needs_input_grad
        if self.fused and not self.create_graph:
            x, y = self.saved_tensors
            g = 2.0 * float(grad)
            scale = g / x.size if self.reduction == "mean" and x.size else g
            out = empty_aligned(x.shape, x.dtype)  # dloss/dx, or dloss/dy when only y needs a gradient
            mse_grad(_flat(x), _flat(y), scale if need_x else -scale, out.reshape(-1))
            return (out if need_x else None), ((-out if need_x else out) if need_y else None)
        saved = self.saved_tensors  # (diff, x, y); (x, y) after the fused forward
        x, y = saved[-2:]
        if self.create_graph:  # diff depends on the inputs: recomputed from them, to be differentiable
            diff = (x - y).to(self.dtype)
        else:
            diff = saved[0]
        g = 2.0 * diff * _unreduce(grad, diff.shape, self.reduction)
        return (g if need_x else None), (-g if need_y else None)


# The dtypes the fused MSE kernels are compiled for.
_KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _same_kernel_arrays(x: np.ndarray, y: np.ndarray) -> bool:
    """Whether the fused kernels take ``x`` and ``y``: the same shape, the same float32/float64 dtype."""
    return x.shape == y.shape and x.dtype == y.dtype and x.dtype in _KERNEL_DTYPES


def _flat(a: np.ndarray) -> np.ndarray:
    """``a`` as a 1-D C-contiguous array, as the kernels take it (a copy only if ``a`` is not contiguous)."""
    return contiguous_aligned(a).reshape(-1)


class L1Loss(Function):
    """``mean(|x - y|)`` as one node; ``d/dx = sign(x - y) / n`` (0 where x == y, as in PyTorch)."""

    name = "l1_loss"

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        diff = (x - y).astype(self.dtype, copy=False)
        self.save_for_backward(np.sign(diff))
        return _reduce(np.abs(diff), self.reduction)

    def backward(self, grad: np.ndarray):
        (sign,) = self.saved_tensors  # a constant: |d| has no curvature away from 0
        g = _unreduce(grad, sign.shape, self.reduction) * sign
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


def _regression(fn: type[Function], op: str, input: Any, target: Any, reduction: str) -> Tensor:
    input, target = _as_tensor(input, op), _as_tensor(target, op, "target")
    _check_reduction(reduction, op)
    _check_floating(input, op)
    _broadcast_target(op, input, target)
    return fn.apply(input, target, reduction=reduction, dtype=result_type(input, target))


def mse_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
             reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``; ``reduction`` 'mean' | 'sum' | 'none'.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.mse_loss(mg.tensor([1.0, 3.0]), mg.tensor([0.0, 0.0])).item()
        5.0
    """
    return _regression(MSELoss, "mse_loss", input, target, _legacy_reduction(size_average, reduce, reduction))


def l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
            reduction: str = "mean") -> Tensor:
    """Mean absolute error ``mean(|input - target|)``; ``reduction`` 'mean' | 'sum' | 'none'.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.l1_loss(mg.tensor([1.0, -3.0]), mg.tensor([0.0, 0.0])).item()
        2.0
    """
    return _regression(L1Loss, "l1_loss", input, target, _legacy_reduction(size_average, reduce, reduction))


# ================================================================================================
# Smooth L1 and Huber: quadratic near zero, linear far away
# ================================================================================================


class SmoothL1(Function):
    """Huber's loss with knee ``beta``, divided by ``beta`` (smooth L1) or not (Huber).

    With ``d = x - y`` and ``z = |d|``::

        huber(d)     = 0.5 d^2                 if z < beta,  beta (z - 0.5 beta)   otherwise
        smooth_l1(d) = huber(d) / beta

    The gradient is ``d`` inside the knee and ``beta sign(d)`` outside (divided by ``beta``
    for smooth L1), so it never exceeds ``beta`` in size: outliers pull with bounded force.
    """

    name = "smooth_l1_loss"

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        d = (x - y).astype(self.dtype, copy=False)
        z = np.abs(d)
        beta = self.beta
        loss = np.where(z < beta, 0.5 * d * d, beta * (z - 0.5 * beta))
        if self.divide_by_beta:
            loss = loss / beta
        self.save_for_backward(d, x, y)
        return _reduce(loss, self.reduction)

    def backward(self, grad: np.ndarray):
        d, x, y = self.saved_tensors
        if self.create_graph:  # d depends on the inputs: recomputed from them, to be differentiable
            d = (x - y).to(self.dtype)
            slope = d.clamp(-self.beta, self.beta)
        else:
            slope = np.clip(d, -self.beta, self.beta)
        if self.divide_by_beta:
            slope = slope / self.beta
        g = slope * _unreduce(grad, d.shape, self.reduction)
        return (g if self.needs_input_grad[0] else None), (-g if self.needs_input_grad[1] else None)


def _pair(op: str, input: Any, target: Any, reduction: str) -> tuple[Tensor, Tensor]:
    _check_reduction(reduction, op)
    input, target = _as_tensor(input, op), _as_tensor(target, op, "target")
    _check_floating(input, op)
    _broadcast_target(op, input, target)
    return input, target


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = input - target``).

    ``beta=0`` is the plain L1 loss. ``reduction`` 'mean' | 'sum' | 'none'.

    Example::

        >>> import minigrad as mg
        >>> F = mg.nn.functional
        >>> F.smooth_l1_loss(mg.tensor([0.5, 3.0]), mg.zeros(2), reduction="none").tolist()
        [0.125, 2.5]
    """
    op = "smooth_l1_loss"
    input, target = _pair(op, input, target, _legacy_reduction(size_average, reduce, reduction))
    if beta < 0:
        raise RuntimeError(f"{op}: beta must be >= 0 (the width of the quadratic zone), got {beta}")
    if beta == 0:  # no quadratic zone: PyTorch's l1_loss, without a division by zero
        return l1_loss(input, target, reduction=_legacy_reduction(size_average, reduce, reduction))
    return SmoothL1.apply(input, target, beta=float(beta), divide_by_beta=True,
                          reduction=_legacy_reduction(size_average, reduce, reduction),
                          dtype=result_type(input, target))


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber loss: ``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    Equal to ``delta * smooth_l1_loss(..., beta=delta)``. ``weight`` (the input's shape) rescales
    each element's loss before the reduction ('mean' is then the plain mean of the products).

    Example::

        >>> import minigrad as mg
        >>> F = mg.nn.functional
        >>> F.huber_loss(mg.tensor([0.5, 3.0]), mg.zeros(2), reduction="none", delta=2.0).tolist()
        [0.125, 4.0]
    """
    op = "huber_loss"
    input, target = _pair(op, input, target, reduction)
    if delta <= 0:
        raise RuntimeError(f"{op}: delta must be > 0 (the width of the quadratic zone), got {delta}")
    dtype = result_type(input, target)
    if weight is None:
        return SmoothL1.apply(input, target, beta=float(delta), divide_by_beta=False, reduction=reduction,
                              dtype=dtype)
    weight = _as_tensor(weight, op, "weight")
    if weight.shape != input.shape:
        raise ShapeError(f"{op}: weight of shape {weight.shape} must have the input's shape {input.shape}")
    loss = SmoothL1.apply(input, target, beta=float(delta), divide_by_beta=False, reduction="none",
                          dtype=dtype) * weight
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()
