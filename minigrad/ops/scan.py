"""Running and whole products and sums: cumsum, cumprod, prod.

Their backwards are sums over "everything that came after": d cumsum_j / d x_i is 1 for every
j >= i, so the gradient of x_i is the reversed running sum of the output gradient. Products need
care where x has zeros (dividing by x would give nan): the product of all the *other* elements is
built from running products from the left and from the right instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.dtypes import to_dtype
from minigrad.kernels.scan import running_sum
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import as_tensor, cast
from minigrad.ops.reduce import normalize_dims
from minigrad.tensor import Tensor


def _reverse_cumsum(a: Any, axis: int) -> Any:
    """``sum_{j >= i} a_j`` along ``axis``: the running sum from the end (cumsum's backward)."""
    if type(a) is not np.ndarray:  # a Tensor (create_graph=True): the same sums, in differentiable ops
        return a.flip(axis).cumsum(axis).flip(axis)
    return running_sum(a, axis, reverse=True)  # (kernels/scan.py)


def _flip(a: Any, axis: int) -> Any:
    """``a`` reversed along ``axis``: an array, or a Tensor (create_graph=True) by the differentiable op."""
    return np.flip(a, axis) if type(a) is np.ndarray else a.flip(axis)


def _cumprod(a: Any, axis: int) -> Any:
    """Running products along ``axis``: an array, or a Tensor (create_graph=True) by the differentiable op."""
    return np.cumprod(a, axis=axis) if type(a) is np.ndarray else a.cumprod(axis)


def _exclusive_cumprod(a: Any, axis: int) -> Any:
    """Running products that leave out the current element: [1, a0, a0*a1, ...] (arrays or Tensors)."""
    head, last = G.split(a, [a.shape[axis] - 1, 1], axis)
    return G.concatenate([G.zeros_like(last) + 1, _cumprod(head, axis)], axis)


def _prepare(op: str, x: Any, dim: Any, dtype: Any) -> tuple[Tensor, int | None]:
    x = as_tensor(x, op=op)
    if dtype is not None:
        x = cast(x, to_dtype(dtype))
    elif x.dtype.kind in "biu":  # PyTorch sums and multiplies integers (and bools) in int64
        x = cast(x, np.dtype(np.int64))
    if dim is None:
        return x, None
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} ({type(dim).__name__})")
    (d,) = normalize_dims(op, dim, x.shape) or (0,)
    return x, d


# ----------------------------------------------------------------------------------- cumsum, cumprod


class Cumsum(Function):
    def forward(self, x):
        return running_sum(x, self.dim, reverse=False)  # float32 accumulated in float64, as PyTorch

    def backward(self, grad):
        return _reverse_cumsum(grad, self.dim)


class Cumprod(Function):
    def forward(self, x):
        y = np.cumprod(x, axis=self.dim)
        self.save_for_backward(x, y)
        return y

    def backward(self, grad):
        x, y = self.saved_tensors
        d = self.dim
        if (G.values(x) != 0).all():
            return _reverse_cumsum(grad * y, d) / x
        # With zeros: d y_j / d x_i is the running product up to j with x_i left out (x_i set to 1),
        # so dL/dx_i = sum over j >= i of g_j * that product. (Arrays, or Tensors under create_graph.)
        n = x.shape[d]
        parts = []
        for i in range(n):
            is_i = (np.arange(n) == i).reshape([n if k == d else 1 for k in range(len(x.shape))])
            running = _cumprod(G.where(is_i, 1.0, x), d)
            parts.append(G.sum(G.split(grad * running, [i, n - i], d)[1], d, keepdims=True))
        return G.concatenate(parts, d)


def cumsum(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running sums along ``dim``; integers and bools give int64, as in PyTorch.

    Example::

        >>> import minigrad as mg
        >>> mg.cumsum(mg.tensor([1, 2, 3]), dim=0)
        tensor([1, 3, 6])
    """
    x, d = _prepare("cumsum", x, dim, dtype)
    if x.ndim == 0:
        return x.clone()
    return Cumsum.apply(x, dim=d)


def cumprod(x: Tensor, dim: int, *, dtype: Any = None) -> Tensor:
    """Running products along ``dim``; exact gradients also where x has zeros.

    Example::

        >>> import minigrad as mg
        >>> mg.cumprod(mg.tensor([1.0, 2.0, 3.0]), dim=0)
        tensor([1., 2., 6.])
    """
    x, d = _prepare("cumprod", x, dim, dtype)
    if x.ndim == 0:
        return x.clone()
    return Cumprod.apply(x, dim=d)


# ----------------------------------------------------------------------------------- prod


class Prod(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.asarray(np.prod(x, axis=self.dim, keepdims=self.keepdim))

    def backward(self, grad):
        (x,) = self.saved_tensors
        if G.values(x).size == 0:
            return G.zeros(x.shape, grad.dtype, like=grad)
        if self.dim is None:
            flat = x.reshape(-1)
            others = _exclusive_cumprod(flat, 0) * _flip(_exclusive_cumprod(_flip(flat, 0), 0), 0)
            return grad * others.reshape(x.shape)
        d = self.dim
        others = _exclusive_cumprod(x, d) * _flip(_exclusive_cumprod(_flip(x, d), d), d)
        g = grad if self.keepdim else G.expand_dims(grad, (d,))
        return g * others  # the product of every other element along dim, zeros included


def prod(x: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """The product of all elements, or along one ``dim``; integers and bools give int64.

    Example::

        >>> import minigrad as mg
        >>> mg.prod(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=1)
        tensor([ 2., 12.])
    """
    x, d = _prepare("prod", x, dim, dtype)
    if x.ndim == 0:
        return x.clone()
    return Prod.apply(x, dim=d, keepdim=keepdim)
