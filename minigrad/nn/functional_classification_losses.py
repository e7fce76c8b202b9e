"""Classification losses for ``mg.nn.functional``: NLL, binary cross-entropy (on probabilities and
on logits), KL divergence.

Each is one ``Function`` node (forward next to backward) with PyTorch's arguments, reductions,
shapes and edge cases: ``log`` clamped to >= -100 in ``binary_cross_entropy``, the weighted
mean of ``nll_loss``, ``'batchmean'`` in ``kl_div``. They are importable from
``minigrad.nn.functional`` like every other functional form. The regression losses (MSE, L1,
smooth L1, Huber) are in functional_regression_losses.py: the two families share only the checks
of ``nn/_checks.py``, so each file reads on its own.

Example::

    >>> import minigrad as mg
    >>> import minigrad.nn.functional as F
    >>> log_probs = mg.tensor([[-0.5, -1.0], [-2.0, -0.25]])
    >>> F.nll_loss(log_probs, mg.tensor([0, 1])).item()   # mean of 0.5 and 0.25
    0.375
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from minigrad._allocator import zeros
from minigrad.autograd import Function
from minigrad.dtypes import result_type
from minigrad.errors import ShapeError
from minigrad.nn._checks import (
    _as_tensor,
    _check_floating,
    _check_reduction,
    _legacy_reduction,
    _reduce,
    _unreduce,
    class_targets,
    loss_total,
    picked_total,
)
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import Softplus
from minigrad.tensor import Tensor

__all__ = ["nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]


# ================================================================================================
# Negative log-likelihood: -w[t] * input[t], input holding log-probabilities
# ================================================================================================


def _class_rows(x: np.ndarray) -> np.ndarray:
    """(C,) -> (1, C); (N, C) as is; (N, C, d1, ...) -> (N * d1 * ..., C): one row per target."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim > 2:
        x = np.moveaxis(x, 1, -1)
    return x.reshape(math.prod(x.shape[:-1]), x.shape[-1])  # not -1: C may be 0


def _from_class_rows(rows: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Inverse of ``_class_rows``: rows (M, C) back to ``shape``."""
    if len(shape) > 2:
        moved = shape[:1] + shape[2:] + shape[1:2]
        return np.moveaxis(rows.reshape(moved), -1, 1)
    return rows.reshape(shape)


class NLLLoss(Function):
    """``loss_n = -w[t_n] * x[n, t_n]``; 'mean' divides by the summed weights of the kept targets.

    ``self.target`` holds the M int64 targets (one per row of ``_class_rows(x)``), ``self.weight``
    the (C,) class weights. Targets equal to ``ignore_index`` get loss 0 and weight 0.
    ``self.all_kept`` says that no target is ``ignore_index`` (``nll_loss`` knows it from its
    bounds check): without class weights every row then weighs 1, the case of most scripts.
    """

    name = "nll_loss"

    def forward(self, x: np.ndarray) -> np.ndarray:
        rows = _class_rows(x)
        m, n_cls = rows.shape
        if self.all_kept and self.weight is None and n_cls:  # every row weighs 1: -x[n, t_n], summed
            self.picked_class, self.x_shape = self.target, x.shape
            self.num_rows, self.row_weight = m, None  # (None: every row weighs 1)
            self.denom = np.float64(m)
            if self.reduction == "none":
                return (-rows[np.arange(m), self.target]).reshape(self.target_shape)
            total = -picked_total(rows, self.target)
            if self.reduction == "mean":
                total = total / m if m else np.nan  # no rows: 0/0, as PyTorch
            return np.asarray(total, dtype=x.dtype)
        keep = self.target != self.ignore_index
        picked_class = np.where(keep, self.target, 0)  # any valid column for ignored rows
        if n_cls:
            w = np.ones(n_cls, dtype=x.dtype) if self.weight is None else self.weight
            row_weight = np.where(keep, w[picked_class], 0).astype(x.dtype)
            picked = rows[np.arange(m), picked_class]
        else:  # no classes: every target is ignore_index (checked before), nothing is picked
            row_weight = picked = np.zeros(m, dtype=x.dtype)
        self.picked_class, self.row_weight, self.x_shape = picked_class, row_weight, x.shape
        self.num_rows = m
        self.denom = row_weight.sum(dtype=np.float64)
        loss = -row_weight * picked
        if self.reduction == "none":
            return loss.reshape(self.target_shape)
        total = loss_total(loss)
        if self.reduction == "mean":
            total = total / self.denom if self.denom != 0 else np.nan  # all ignored: 0/0, as PyTorch
        return np.asarray(total, dtype=x.dtype)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        m = self.num_rows
        minus_weight = -1.0 if self.row_weight is None else -self.row_weight
        if self.reduction == "none":
            scale = grad.reshape(-1)
        elif self.reduction == "mean":
            scale = grad / self.denom if self.denom != 0 else np.zeros_like(grad)
        else:
            scale = grad
        rows = zeros((m, self.x_shape[1] if len(self.x_shape) > 1 else self.x_shape[0]), grad.dtype)
        if self.create_graph:  # the same rows as (constant one-hot weights) * scale, in Tensor ops
            if rows.shape[1]:
                rows[np.arange(m), self.picked_class] = minus_weight
            drows = (scale.reshape(m, 1) if self.reduction == "none" else scale) * rows
            if len(self.x_shape) > 2:  # (M, C) -> (N, d1, ..., C) -> (N, C, d1, ...)
                moved = self.x_shape[:1] + self.x_shape[2:] + self.x_shape[1:2]
                return drows.reshape(moved).permute(0, len(moved) - 1, *range(1, len(moved) - 1))
            return drows.reshape(self.x_shape)
        one_target = m == 1 and self.row_weight is None and self.reduction != "none"  # a step of a sequence
        if rows.shape[1] and one_target:
            rows[0, self.picked_class[0]] = -scale  # (no index arrays for one element)
        elif rows.shape[1]:
            rows[np.arange(m), self.picked_class] = minus_weight * scale
        return _from_class_rows(rows, self.x_shape)


def _class_weight(weight: Any, n_cls: int, input: Tensor, op: str) -> np.ndarray | None:
    if weight is None:
        return None
    weight = _as_tensor(weight, op, "weight")
    if weight.shape != (n_cls,):
        raise ShapeError(f"{op}: weight of shape {weight.shape} does not match the number of classes: "
                         f"expected ({n_cls},) for input of shape {input.shape}")
    return np.asarray(weight._array, dtype=input.dtype)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
             ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at integer class ``target``.

    ``input`` holds log-probabilities (e.g. from ``log_softmax``): (N, C) with target (N,),
    (N, C, d1, ...) with target (N, d1, ...), or unbatched (C,) with a 0-d target.
    ``weight`` (C,) weights classes; targets equal to ``ignore_index`` contribute nothing;
    'mean' divides by the summed weights of the kept targets, as PyTorch does.

    Example::

        >>> import minigrad as mg
        >>> logp = mg.tensor([[-1.0, -2.0, -3.0]], requires_grad=True)
        >>> loss = mg.nn.functional.nll_loss(logp, mg.tensor([2]))
        >>> loss.item()
        3.0
        >>> loss.backward(); logp.grad.tolist()
        [[0.0, 0.0, -1.0]]
    """
    op = "nll_loss"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    input = _as_tensor(input, op)
    target = _as_tensor(target, op, "target")
    _check_floating(input, op)
    shape = input._array.shape
    if not shape:
        raise ShapeError(f"{op}: input must have a class dimension: (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    n_cls = shape[0 if len(shape) == 1 else 1]
    t, every_target_a_class = class_targets(input, target, n_cls, ignore_index, op)
    w = _class_weight(weight, n_cls, input, op)
    all_kept = every_target_a_class and not 0 <= ignore_index < n_cls
    return NLLLoss.apply(input, target=t, target_shape=target._array.shape, weight=w, ignore_index=int(ignore_index),
                         reduction=reduction, all_kept=all_kept)


# ================================================================================================
# Binary cross-entropy on probabilities
# ================================================================================================


# The floor of x (1 - x) in the gradient: PyTorch's 1e-12, rounded to float32 as PyTorch stores it.
_BCE_EPSILON = float(np.float32(1e-12))


class BinaryCrossEntropy(Function):
    """``-w [y log x + (1 - y) log(1 - x)]`` with each log clamped to >= -100 (PyTorch's rule).

    The clamp keeps the loss finite at x = 0 or 1; the gradient ``w (x - y) / (x (1 - x))``
    uses ``max(x (1 - x), 1e-12)`` for the same reason. ``self.weight`` is a constant array.
    """

    name = "binary_cross_entropy"

    def forward(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        log_x = np.maximum(np.log(x), -100.0)
        log_1mx = np.maximum(np.log1p(-x), -100.0)
        loss = -(y * log_x + (1.0 - y) * log_1mx)
        if self.weight is not None:
            loss = loss * self.weight
        self.save_for_backward(x, y)
        return _reduce(loss.astype(self.dtype, copy=False), self.reduction)

    def backward(self, grad: np.ndarray):
        x, y = self.saved_tensors
        g = _unreduce(grad, np.broadcast_shapes(x.shape, y.shape), self.reduction)
        if self.weight is not None:
            g = g * self.weight
        gx = gy = None
        if self.create_graph:  # the same formulas in Tensor ops
            gx = g * (x - y) / (x * (1.0 - x)).clamp(min=_BCE_EPSILON) if self.needs_input_grad[0] else None
            gy = g * ((1.0 - x).log() - x.log()) if self.needs_input_grad[1] else None
            return gx, gy
        if self.needs_input_grad[0]:
            gx = g * (x - y) / np.maximum(x * (1.0 - x), _BCE_EPSILON)
        if self.needs_input_grad[1]:
            gy = g * (np.log1p(-x) - np.log(x))  # -logit(x), unclamped as in PyTorch
        return gx, gy


def _binary_pair(op: str, input: Any, target: Any, reduction: str, mismatch: str) -> tuple[Tensor, Tensor, str]:
    """The checks both binary cross-entropies start with: the reduction, two tensors, a floating
    input, and one shape for both. ``mismatch`` words the shape error as PyTorch does for ``op``."""
    _check_reduction(reduction, op)
    input, target = _as_tensor(input, op), _as_tensor(target, op, "target")
    _check_floating(input, op)
    if target.shape != input.shape:
        raise ShapeError(f"{op}: " + mismatch.format(target=target.shape, input=input.shape))
    return input, target, reduction


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities ``input`` in [0, 1] against ``target`` (same shape).

    ``weight`` (broadcast to the input's shape) rescales each element's loss. Each log is
    clamped to >= -100, so an input of exactly 0 or 1 gives a finite loss. For logits, prefer
    ``binary_cross_entropy_with_logits``: it is stabler.

    Example::

        >>> import minigrad as mg
        >>> p = mg.tensor([0.5, 0.9])
        >>> round(mg.nn.functional.binary_cross_entropy(p, mg.tensor([1.0, 1.0])).item(), 4)
        0.3993
    """
    op = "binary_cross_entropy"
    input, target, reduction = _binary_pair(
        op, input, target, _legacy_reduction(size_average, reduce, reduction),
        "target of shape {target} must have the input's shape {input} (PyTorch no longer broadcasts here)")
    x = input._array
    if x.size and not ((x >= 0) & (x <= 1)).all():
        bad = x[~((x >= 0) & (x <= 1))].flat[0]
        raise RuntimeError(f"{op}: all elements of input should be between 0 and 1 (probabilities), found {bad}; "
                           "for logits use binary_cross_entropy_with_logits")
    w = None
    if weight is not None:
        weight = _as_tensor(weight, op, "weight")
        try:
            np.broadcast_to(weight._array, input.shape)
        except ValueError:
            raise ShapeError(f"{op}: weight of shape {weight.shape} cannot be broadcast to the input's shape "
                             f"{input.shape}") from None
        w = np.asarray(weight._array, dtype=input.dtype)
    return BinaryCrossEntropy.apply(input, target, weight=w, reduction=reduction, dtype=result_type(input, target))


# ================================================================================================
# Kullback-Leibler divergence
# ================================================================================================


class KLDiv(Function):
    """``target * (log(target) - input)`` pointwise, ``input`` being log-probabilities.

    ``0 * log(0)`` counts as 0. With ``log_target`` the target holds log-probabilities too:
    ``exp(target) * (target - input)``. 'batchmean' is the sum divided by the batch size.
    """

    name = "kl_div"

    def forward(self, x: np.ndarray, t: np.ndarray) -> np.ndarray:
        if self.log_target:
            loss = np.exp(t) * (t - x)
        else:
            loss = np.where(t != 0, t * np.log(np.where(t != 0, t, 1)), 0.0) - t * x
        self.save_for_backward(x, t)
        loss = loss.astype(self.dtype, copy=False)
        if self.reduction == "batchmean":
            total = _reduce(loss, "sum")
            return total / x.shape[0] if x.ndim else total
        return _reduce(loss, self.reduction)

    def backward(self, grad: np.ndarray):
        x, t = self.saved_tensors
        shape = np.broadcast_shapes(x.shape, t.shape)
        if self.reduction == "batchmean":
            g = _unreduce(grad / x.shape[0] if x.ndim else grad, shape, "sum")
        else:
            g = _unreduce(grad, shape, self.reduction)
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = -g * (G.exp(t) if self.log_target else t)
        if self.needs_input_grad[1]:
            if self.log_target:
                gt = g * G.exp(t) * (t - x + 1.0)
            else:  # d/dt [t log t] = log t + t/t: nan at t = 0, as PyTorch's
                nonzero = G.values(t) != 0
                gt = g * (G.where(nonzero, G.log(G.where(nonzero, t, 1.0)), 0.0) + t / t - x)
        return gx, gt


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None, reduce: bool | None = None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence ``sum target * (log target - input)`` of log-probabilities ``input``.

    ``reduction='batchmean'`` divides the sum by the batch size (the mathematical KL divergence
    per example); 'mean' divides by the number of elements and warns, as PyTorch does.
    ``log_target=True`` takes the target as log-probabilities.

    Example::

        >>> import minigrad as mg
        >>> logq = mg.tensor([[0.5, 0.5]]).log()
        >>> p = mg.tensor([[0.5, 0.5]])
        >>> mg.nn.functional.kl_div(logq, p, reduction="batchmean").item()
        0.0
    """
    op = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce, reduction)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (expected 'mean', 'batchmean', "
                         "'sum' or 'none')")
    input, target = _as_tensor(input, op), _as_tensor(target, op, "target")
    _check_floating(input, op)
    _check_floating(target, op, "target")
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ShapeError(f"{op}: input of shape {input.shape} and target of shape {target.shape} cannot be "
                         "broadcast together; they should have the same shape") from None
    return KLDiv.apply(input, target, log_target=bool(log_target), reduction=reduction,
                       dtype=result_type(input, target))


# ================================================================================================
# Binary cross-entropy on logits
# ================================================================================================


class BCEWithLogits(Function):
    """``-w [p y log s(x) + (1 - y) log(1 - s(x))]`` with ``s`` the sigmoid and ``p`` pos_weight.

    Written with ``softplus(-x) = -log s(x) = log1p(exp(-|x|)) + max(-x, 0)``, which never
    overflows::

        loss = (1 - y) x + (1 + (p - 1) y) softplus(-x)
    """

    name = "binary_cross_entropy_with_logits"

    def forward(self, x, y, weight, pos_weight):
        # Written in place where the dtypes allow, here and in backward: few big temporaries, each
        # memory that glibc may hand back to the OS and fault in again in the next step (_allocator.py).
        sp = G.softplus(-x)  # softplus(-x) = -log(sigmoid(x))
        loss = (1.0 - y) * x  # loss = (1 - y) x + (1 + (p - 1) y) sp
        if pos_weight is None:
            loss += sp  # (loss's dtype is x's or wider: sp fits)
        else:
            loss = loss + (1.0 + (pos_weight - 1.0) * y) * sp
        unweighted = loss
        if weight is not None:
            loss = loss * weight
        loss = loss.astype(self.dtype, copy=False)
        self.save_for_backward(x, y, weight, pos_weight, sp, unweighted)
        return _reduce(loss, self.reduction)

    def backward(self, grad):
        x, y, weight, pos_weight, sp, unweighted = self.saved_tensors
        if self.create_graph:
            return self._backward_tensors(grad, x, y, weight, pos_weight)
        g = _unreduce(grad, np.broadcast_shapes(*(a.shape for a in (x, y, weight, pos_weight) if a is not None)),
                      self.reduction)
        gw = g if weight is None else g * weight
        need_x, need_y, need_w, need_pw = self.needs_input_grad
        lw = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * y
        gx = gy = g_weight = g_pw = None
        if need_x:  # gw ((1 - y) - lw s(-x))
            s_neg = G.sigmoid(-x)
            gx = np.subtract(1.0, y, dtype=self.dtype)  # (the loss's dtype: every term below fits)
            gx -= s_neg if pos_weight is None else lw * s_neg
            gx *= gw
        if need_y:
            gy = gw * (-x + (0.0 if pos_weight is None else (pos_weight - 1.0) * sp))
        if need_w:
            g_weight = g * unweighted
        if need_pw:
            g_pw = gw * y * sp
        return gx, gy, g_weight, g_pw

    def _backward_tensors(self, grad, x, y, weight, pos_weight):
        """The same four formulas in Tensor ops (create_graph=True), recomputing what forward saved."""
        shape = np.broadcast_shapes(*(a.shape for a in (x, y, weight, pos_weight) if a is not None))
        g = _unreduce(grad, shape, self.reduction)
        gw = g if weight is None else g * weight
        sp = Softplus.apply(-x, beta=1.0, threshold=np.inf)  # softplus(-x) = -log s(x), never linearised
        lw = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * y
        need_x, need_y, need_w, need_pw = self.needs_input_grad
        gx = gw * ((1.0 - y) - lw * (-x).sigmoid()) if need_x else None
        gy = gw * (-x + (0.0 if pos_weight is None else (pos_weight - 1.0) * sp)) if need_y else None
        g_weight = g * ((1.0 - y) * x + lw * sp) if need_w else None
        g_pw = gw * y * sp if need_pw else None
        return gx, gy, g_weight, g_pw


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean", pos_weight: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)`` against ``target`` in [0, 1], computed stably.

    ``weight`` rescales each element's loss; ``pos_weight`` (broadcast along the last, class
    dimension) weights the positive term. ``reduction`` 'mean' | 'sum' | 'none'.

    Example::

        >>> import minigrad as mg
        >>> F = mg.nn.functional
        >>> round(F.binary_cross_entropy_with_logits(mg.tensor([0.0]), mg.tensor([1.0])).item(), 4)
        0.6931
    """
    op = "binary_cross_entropy_with_logits"
    input, target, reduction = _binary_pair(
        op, input, target, _legacy_reduction(size_average, reduce, reduction),
        "target size {target} must be the same as input size {input}")
    extras = []
    for what, t in (("weight", weight), ("pos_weight", pos_weight)):
        if t is not None:
            t = _as_tensor(t, op, what)
            try:
                np.broadcast_shapes(t.shape, input.shape)
            except ValueError:
                raise ShapeError(f"{op}: {what} of shape {t.shape} cannot be broadcast to the input's shape "
                                 f"{input.shape}") from None
        extras.append(t)
    dtype = result_type(input, target)
    return BCEWithLogits.apply(input, target, *extras, reduction=reduction, dtype=dtype)
