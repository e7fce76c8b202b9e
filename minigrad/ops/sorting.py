"""Sorting and selection: sort, argsort, topk, unique.

``sort`` and ``topk`` return the chosen values *and* their indices; the values' backward sends each
gradient back to the position its value came from (``TakeAlong``), so sorting is differentiable.
Order rules, as in PyTorch: ties keep their original order, and NaN counts as the largest value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.kernels.selection import stable_order, top_k_indices
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.reduce import _max, normalize_dims, values_indices
from minigrad.tensor import Tensor


class TakeAlong(Function):
    """``values = take_along_axis(x, indices, dim)``; the gradient goes back to where each value was taken."""

    computes = False  # moves values only
    name = "gather"

    def forward(self, x):
        self.shape = x.shape
        if x.ndim == 1:  # (the same as take_along_axis, without its checks and index building)
            return x[self.indices]
        return np.take_along_axis(x, self.indices, axis=self.dim)

    def backward(self, grad):
        g = np.zeros(self.shape, dtype=grad.dtype)
        np.put_along_axis(g, self.indices, grad, axis=self.dim)  # sort/topk indices never repeat
        return g


def _one_dim(op: str, x: Tensor, dim: Any) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} ({type(dim).__name__})")
    (d,) = normalize_dims(op, dim, x.shape) or (0,)
    return d


def _sorted(x: Tensor, indices: np.ndarray, d: int) -> tuple[Tensor, Tensor]:
    idx = Tensor(np.ascontiguousarray(indices, dtype=np.int64))
    if x.dtype.kind != "f":
        return Tensor(np.take_along_axis(x._array, indices, axis=d)), idx
    return TakeAlong.apply(x, indices=indices, dim=d), idx


def sort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> values_indices:
    """Sorted values and the indices they came from, along ``dim`` (always stable here).

    Example::

        >>> import minigrad as mg
        >>> v, i = mg.sort(mg.tensor([3.0, 1.0, 2.0]), descending=True)
        >>> v, i
        (tensor([3., 2., 1.]), tensor([0, 2, 1]))
    """
    x = as_tensor(x, op="sort")
    d = _one_dim("sort", x, dim)
    if x.ndim == 0:
        return values_indices(x.clone(), Tensor(np.zeros((), dtype=np.int64)))
    return values_indices(*_sorted(x, stable_order(x._array, d, descending), d))


def argsort(x: Tensor, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
    """The indices that sort ``x`` along ``dim``.

    Example::

        >>> import minigrad as mg
        >>> mg.argsort(mg.tensor([3.0, 1.0, 2.0]))
        tensor([1, 2, 0])
    """
    x = as_tensor(x, op="argsort")
    d = _one_dim("argsort", x, dim)
    if x.ndim == 0:
        return Tensor(np.zeros((), dtype=np.int64))
    return Tensor(np.ascontiguousarray(stable_order(x._array, d, descending), dtype=np.int64))


def topk(x: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> values_indices:  # noqa: A002
    """The ``k`` largest (or smallest) values along ``dim`` and their indices, largest first.

    Example::

        >>> import minigrad as mg
        >>> mg.topk(mg.tensor([1.0, 5.0, 3.0, 4.0]), 2)
        values_indices(values=tensor([5., 4.]), indices=tensor([1, 3]))
    """
    x = as_tensor(x, op="topk")
    d = _one_dim("topk", x, dim)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"topk: k must be an int, got {k!r} ({type(k).__name__})")
    size = x.shape[d] if x.ndim else 1
    if not 0 <= k <= size:
        raise IndexError(f"topk: k ({k}) is out of range for dimension {d} of size {size} "
                         f"(tensor of shape {x.shape}); expected 0 <= k <= {size}")
    if x.ndim == 0:
        if k == 0:
            raise IndexError("topk: k (0) would select nothing from a 0-d tensor; use a 1-d tensor")
        return values_indices(x.clone(), Tensor(np.zeros((), dtype=np.int64)))
    if k == 1 and largest:  # the prediction of a classifier, a greedy decoder's next token: no sort
        return _max("topk", x, d, keepdim=True, smallest=False)
    return values_indices(*_sorted(x, top_k_indices(x._array, int(k), d, largest), d))


def unique(x: Tensor, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False,  # noqa: A002
           dim: int | None = None) -> Tensor | tuple[Tensor, ...]:
    """The distinct values (sorted), optionally with each element's position in them and their counts.

    With ``dim``, the distinct slices along that dim. Not differentiable, as in PyTorch.

    Example::

        >>> import minigrad as mg
        >>> mg.unique(mg.tensor([3, 1, 3, 2]), return_inverse=True, return_counts=True)
        (tensor([1, 2, 3]), tensor([2, 0, 2, 1]), tensor([1, 1, 2]))
    """
    x = as_tensor(x, op="unique")
    a = x._array
    if dim is None:
        values, inverse, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True,
                                            equal_nan=False)
        inverse = inverse.reshape(a.shape)
    else:
        d = _one_dim("unique", x, dim)
        if a.ndim == 0:
            raise IndexError("unique: dim is given but the tensor is 0-d; leave dim=None")
        if a.shape[d] == 0 or a.size == 0:
            values, inverse, counts = a, np.zeros(a.shape[d], np.int64), np.zeros(0, np.int64)
        else:
            values, inverse, counts = np.unique(a, return_inverse=True, return_counts=True, axis=d,
                                                equal_nan=False)
            inverse = inverse.reshape(-1)
    out = [Tensor(np.ascontiguousarray(values))]
    if return_inverse:
        out.append(Tensor(inverse.astype(np.int64)))
    if return_counts:
        out.append(Tensor(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)
