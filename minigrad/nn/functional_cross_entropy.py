"""Cross-entropy of logits for ``mg.nn.functional``: log-softmax and negative log-likelihood in one node.

``cross_entropy(x, t) = -w_t log softmax(x)_t``, with PyTorch's shapes, class weights,
``ignore_index`` and label smoothing; its gradient is ``softmax(x) - onehot(t)`` (scaled and
weighted). The rows are computed by the fused kernels of ``minigrad/kernels/loss.py``; a float
target of the input's shape (class probabilities) is computed from Tensor ops instead.

Example::

    >>> import minigrad as mg
    >>> loss = mg.nn.functional.cross_entropy(mg.tensor([[2.0, 0.5, -1.0]]), mg.tensor([0]))
    >>> round(loss.item(), 4)
    0.2413
"""

from __future__ import annotations

import numpy as np

from minigrad._allocator import empty
from minigrad.autograd import Function
from minigrad.errors import ShapeError
from minigrad.kernels.loss import cross_entropy_bwd, cross_entropy_fwd
from minigrad.nn._checks import (
    _as_tensor,
    _check_floating,
    _check_reduction,
    _expected_target_shape,
    _legacy_reduction,
    class_targets,
    loss_total,
    ones_constant,
)
from minigrad.tensor import Tensor

__all__ = ["cross_entropy"]


# ================================================================================================
# Cross-entropy: log-softmax + negative log-likelihood, fused (minigrad/kernels/loss.py)
# ================================================================================================


class CrossEntropy(Function):
    """One node for ``-w_t log softmax(x)_t`` over rows of logits; gradient ``softmax - onehot``.

    ``x`` arrives as (N, C, d1, ...) and is viewed as rows (M, C) with the class dimension last;
    ``self.target`` holds the M int64 targets, ``self.weight`` the (C,) class weights.
    """

    name = "cross_entropy"

    def _rows(self, x: np.ndarray) -> np.ndarray:
        if x.ndim == 2 and x.flags.c_contiguous:  # (N, C): the rows already (then saved once, as x)
            return x
        if x.ndim > 2:  # (N, C, d1, ...) -> (N, d1, ..., C) -> (M, C)
            x = np.moveaxis(x, 1, -1)
        return np.ascontiguousarray(x.reshape(-1, x.shape[-1]))

    def forward(self, x: np.ndarray) -> np.ndarray:
        rows = self._rows(x)
        weight = self.weight.astype(rows.dtype) if self.weight is not None else ones_constant(rows.shape[1], rows.dtype)
        lse = np.empty(rows.shape[0], dtype=rows.dtype)
        loss = np.empty(rows.shape[0], dtype=rows.dtype)
        denom = cross_entropy_fwd(rows, self.target, weight, self.ignore_index, self.label_smoothing, lse, loss)
        self.denom = denom
        self.x_shape = x.shape
        # Saved (and versioned): x, and its rows when they are another array (a view or a copy of x).
        # The class weights in use and the row sums are the op's own: kept as they are.
        self.weight_used, self.lse = weight, lse
        if rows is x:
            self.save_for_backward(x)
        else:
            self.save_for_backward(x, rows)
        if self.reduction == "none":
            return loss.reshape(self.target_shape)
        total = loss_total(loss)
        if self.reduction == "mean":
            # PyTorch's weighted mean divides by sum of w[target] over kept rows; 0/0 gives nan.
            total = total / denom if denom != 0 else np.nan
        return np.asarray(total, dtype=rows.dtype)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, *rest = self.saved_tensors
        weight, lse = self.weight_used, self.lse
        if self.create_graph:
            return self._backward_tensors(grad, x, weight)
        rows = rest[0] if rest else x
        m = rows.shape[0]
        if self.reduction == "none":
            scale = np.ascontiguousarray(grad.reshape(-1), dtype=rows.dtype)
        else:
            g = float(grad)
            if self.reduction == "mean":
                g = g / self.denom if self.denom != 0 else 0.0
            scale = np.empty(m, dtype=rows.dtype)
            scale.fill(g)
        drows = empty(rows.shape, rows.dtype)
        cross_entropy_bwd(rows, self.target, weight, self.ignore_index, self.label_smoothing, lse, scale, drows)
        if len(self.x_shape) > 2:  # back from (M, C) to (N, C, d1, ...)
            moved = self.x_shape[:1] + self.x_shape[2:] + self.x_shape[1:2]
            return np.moveaxis(drows.reshape(moved), -1, 1)
        return drows.reshape(self.x_shape)

    def _backward_tensors(self, grad: Tensor, x: Tensor, weight: np.ndarray) -> Tensor:
        """The kernel's gradient in Tensor ops (create_graph=True): ``scale * (sum(q) softmax(x) - q)``.

        ``q`` is the target distribution of each row, weighted: ``(1 - eps) w_t`` at the target
        plus ``eps / C * w_c`` everywhere, and zero for ignored rows. It is a constant.
        """
        to_rows = (0, *range(2, x.ndim), 1) if x.ndim > 2 else tuple(range(x.ndim))  # class dim last
        moved = x.permute(*to_rows) if x.ndim > 2 else x
        rows = moved.reshape(-1, x.shape[-1] if x.ndim <= 2 else x.shape[1])
        m, n_cls = rows.shape
        kept = self.target != self.ignore_index
        q = np.zeros((m, n_cls), dtype=rows.dtype)
        q[np.arange(m)[kept], self.target[kept]] = (1.0 - self.label_smoothing) * weight[self.target[kept]]
        q[kept] += (self.label_smoothing / n_cls) * weight
        if self.reduction == "none":
            scale = grad.reshape(m, 1)
        elif self.reduction == "mean":
            scale = grad / self.denom if self.denom != 0 else grad * 0.0
        else:
            scale = grad
        drows = scale * (rows.softmax(1) * q.sum(axis=1, keepdims=True) - q)
        return drows.reshape(moved.shape).permute(*np.argsort(to_rows)) if x.ndim > 2 else drows.reshape(x.shape)


def _cross_entropy_probs(input: Tensor, target: Tensor, weight: Tensor | None, reduction: str,
                         label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities (target shaped like input), from Tensor ops."""
    class_dim = 0 if input.ndim == 1 else 1
    n_cls = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    if label_smoothing > 0:
        target = target * (1.0 - label_smoothing) + label_smoothing / n_cls
    if weight is not None:
        shape = [1] * input.ndim
        shape[class_dim] = n_cls
        logp = logp * weight.reshape(*shape)
    loss = -(logp * target).sum(class_dim)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average: bool | None = None,
                  ignore_index: int = -100, reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits ``input`` against integer class ``target``: ``-log softmax(input)[target]``.

    Shapes as in PyTorch: input (N, C) with target (N,); input (N, C, d1, ...) with target
    (N, d1, ...) (e.g. (batch, vocab, time) for a language model); or unbatched input (C,)
    with a 0-d target. Targets equal to ``ignore_index`` contribute nothing (padding).
    ``weight`` (C,) weights classes; 'mean' then divides by the summed weights of the kept
    targets, as PyTorch does. A float ``target`` with the input's shape is read as class
    probabilities.

    Example::

        >>> import minigrad as mg
        >>> logits = mg.tensor([[0.0, 0.0], [0.0, 0.0]], requires_grad=True)
        >>> loss = mg.nn.functional.cross_entropy(logits, mg.tensor([0, 1]))
        >>> round(loss.item(), 4)
        0.6931
        >>> loss.backward(); logits.grad.tolist()
        [[-0.25, 0.25], [0.25, -0.25]]
    """
    op = "cross_entropy"
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, op)
    input = _as_tensor(input, op)
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    _check_floating(input, op)
    shape, targets = input._array.shape, target._array  # (the arrays themselves: a loss per step is common)
    if not shape:
        raise ShapeError(f"{op}: input must have a class dimension: (C,), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    n_cls = shape[0 if len(shape) == 1 else 1]
    if n_cls == 0:
        raise ShapeError(f"{op}: input of shape {input.shape} has no classes")
    w = None
    if weight is not None:
        weight = _as_tensor(weight, op, "weight")
        if weight.shape != (n_cls,):
            raise ShapeError(f"{op}: weight of shape {weight.shape} does not match the number of classes: "
                             f"expected ({n_cls},) for input of shape {input.shape}")
        w = np.asarray(weight._array, dtype=input.dtype)

    if targets.dtype.kind == "f":
        if targets.shape == shape:
            return _cross_entropy_probs(input, target, weight, reduction, label_smoothing)
        raise TypeError(f"{op}: target must hold integer class indices (int64) of shape "
                        f"{_expected_target_shape(input.shape)}, got {target.dtype} of shape {target.shape}; "
                        f"use target.long() for class indices, or a float target of the input's shape "
                        f"{input.shape} for class probabilities")
    t, _ = class_targets(input, target, n_cls, ignore_index, op)
    return CrossEntropy.apply(input, target=t, target_shape=targets.shape, weight=w, ignore_index=int(ignore_index),
                              reduction=reduction, label_smoothing=float(label_smoothing))
