"""Clamp, elementwise maximum/minimum and where: ops that pick between values.

Their gradients are choices, not products: the gradient goes to the input that was picked, and is
0 elsewhere (``where`` rather than multiplying by a mask, so an inf gradient never becomes nan).
They are part of ``elementwise``'s API (it re-exports them); they live here for that file's size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.dtypes import result_type
from minigrad.errors import ShapeError
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import _SCALARS, as_tensor, binary, cast, promote, refuse_out
from minigrad.tensor import Tensor


class Clamp(Function):
    def forward(self, x):
        self.save_for_backward(x)
        # np.clip's rule as two ufuncs (np.clip's Python outweighs a small array's work): NaN stays NaN, and a
        # min above max gives max everywhere.
        y = x if self.lo is None else np.maximum(x, self.lo)
        return y if self.hi is None else np.minimum(y, self.hi)

    def backward(self, grad):
        x = G.values(self.saved_tensors[0])  # only the mask is needed: a constant
        inside = np.ones(x.shape, dtype=bool)
        if self.lo is not None:
            inside &= x >= self.lo
        if self.hi is not None:
            inside &= x <= self.hi
        return G.where(inside, grad, 0.0)  # (not grad * inside: inf * 0 would be nan; PyTorch gives 0)


def clamp(x: Tensor, min: Any = None, max: Any = None, *, out: None = None) -> Tensor:  # noqa: A002
    """Limit values to [min, max]; gradient 1 inside, 0 outside. Bounds may be numbers or tensors.

    The result has PyTorch's dtype: an integer tensor clamped with float bounds gives the default float dtype.

    Example::

        >>> import minigrad as mg
        >>> mg.clamp(mg.tensor([-2.0, 0.5, 3.0]), -1, 1)
        tensor([-1. ,  0.5,  1. ])
    """
    refuse_out("clamp", out)
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, (*_SCALARS, Tensor)):
            raise TypeError(f"clamp: {name} must be a number, a tensor or None, got {type(bound).__name__}")
    x = as_tensor(x, op="clamp")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # Tensor bounds broadcast like any operand: clamp is then where() twice (ties keep x, as in PyTorch).
        if min is not None:
            x = where(as_tensor(x < min), min, x)
        if max is not None:
            x = where(as_tensor(x > max), max, x)
        return x
    # min > max is allowed and gives max everywhere, as documented by PyTorch.
    if x._array.dtype.kind == "f" and type(min) in (int, float, type(None)) and type(max) in (int, float, type(None)):
        return Clamp.apply(x, lo=min, hi=max)  # Python numbers keep a float tensor's dtype
    dt = result_type(x, *(b for b in (min, max) if b is not None))
    return Clamp.apply(cast(x, dt), lo=min, hi=max)


def clamp_min(x: Tensor, min: Any) -> Tensor:  # noqa: A002
    """``clamp(x, min=min)``.

    Example::

        >>> import minigrad as mg
        >>> mg.clamp_min(mg.tensor([-1.0, 2.0]), 0.0)
        tensor([0., 2.])
    """
    return clamp(x, min=min)


def clamp_max(x: Tensor, max: Any) -> Tensor:  # noqa: A002
    """``clamp(x, max=max)``.

    Example::

        >>> import minigrad as mg
        >>> mg.clamp_max(mg.tensor([-1.0, 2.0]), 0.0)
        tensor([-1.,  0.])
    """
    return clamp(x, max=max)


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.maximum(a, b)

    def backward(self, grad):
        a, b = (G.values(v) for v in self.saved_tensors)  # only masks are needed: constants
        share = np.where(a == b, 0.5, 1.0)  # ties split the gradient, as in PyTorch
        return grad * (share * (a >= b)), grad * (share * (b >= a))


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return np.minimum(a, b)

    def backward(self, grad):
        a, b = (G.values(v) for v in self.saved_tensors)
        share = np.where(a == b, 0.5, 1.0)
        return grad * (share * (a <= b)), grad * (share * (b <= a))


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max of two tensors. Example: ``mg.maximum(mg.ones(2), mg.zeros(2))`` -> [1., 1.]."""
    return binary(Maximum, "maximum", a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min of two tensors. Example: ``mg.minimum(mg.ones(2), mg.zeros(2))`` -> [0., 0.]."""
    return binary(Minimum, "minimum", a, b)


class Where(Function):
    def forward(self, x, y):
        return G.where(self.condition, x, y)

    def backward(self, grad):
        c = self.condition
        return G.where(c, grad, 0) if self.needs_input_grad[0] else None, \
            G.where(c, 0, grad) if self.needs_input_grad[1] else None


def where(condition: Any, x: Any, y: Any) -> Tensor:
    """Pick ``x`` where ``condition`` is true, else ``y`` (all three broadcast).

    Example: ``mg.where(mg.tensor([True, False]), 1.0, mg.zeros(2))`` -> tensor([1., 0.]).
    """
    cond = condition._array if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(f"where: condition must be a bool tensor, got dtype {cond.dtype}")
    x, y = promote("where", x, y)
    try:
        np.broadcast_shapes(cond.shape, x.shape, y.shape)
    except ValueError:
        raise ShapeError(f"where: condition {cond.shape}, x {x.shape} and y {y.shape} cannot be broadcast "
                         "together") from None
    return Where.apply(x, y, condition=cond)


def _triangle(op: str, x: Any, diagonal: int, lower: bool) -> Tensor:
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    if x.ndim < 2:
        raise ShapeError(f"{op}: input must have at least 2 dimensions (a matrix, or a batch of them), got shape "
                         f"{x.shape}")
    if isinstance(diagonal, bool) or not isinstance(diagonal, (int, np.integer)):
        raise TypeError(f"{op}: diagonal must be an int, got {type(diagonal).__name__}")
    rows, cols = x.shape[-2:]
    keep = (np.tril if lower else np.triu)(np.ones((rows, cols), dtype=bool), k=int(diagonal))
    return where(keep, x, x.dtype.type(0))  # zeros exactly (x * mask would turn inf into nan)


def tril(input: Any, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (on and below ``diagonal``), zeros above; gradient likewise.

    Example: ``mg.tril(mg.ones(2, 2))`` -> tensor([[1., 0.], [1., 1.]]).
    """
    return _triangle("tril", input, diagonal, lower=True)


def triu(input: Any, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (on and above ``diagonal``), zeros below; gradient likewise.

    Example: ``mg.triu(mg.ones(2, 2))`` -> tensor([[1., 1.], [0., 1.]]).
    """
    return _triangle("triu", input, diagonal, lower=False)
