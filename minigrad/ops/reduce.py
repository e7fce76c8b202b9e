"""Reductions (sum, mean, var, max, min) and the softmax family.

A reduction's backward spreads the gradient back over the elements that were reduced: ``sum``
copies it to every element, ``mean`` divides it by their number, ``max`` sends it to the winner.
"""

from __future__ import annotations

import builtins
import math
import warnings
from collections import namedtuple
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.kernels import softmax as K
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import _floating
from minigrad.tensor import Tensor

values_indices = namedtuple("values_indices", ["values", "indices"])


def normalize_dims(op: str, dim: Any, ndim: int | tuple[int, ...]) -> tuple[int, ...] | None:
    """``dim`` (int, tuple or None) as a sorted tuple of non-negative axes; None means all.

    ``ndim`` may be the tensor's shape instead, which the out-of-range error then names.
    """
    if type(dim) is int and type(ndim) is int and -ndim <= dim < ndim:  # the common case: one valid int
        return (dim % ndim,)
    shape = ndim if isinstance(ndim, tuple) else None
    ndim = len(shape) if shape is not None else ndim
    if dim is None:
        return None
    if isinstance(dim, (int, np.integer)):
        dims = (dim,)
    elif isinstance(dim, (tuple, list)):
        dims = tuple(dim)
    else:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r} ({type(dim).__name__})")
    out = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {dim!r}")
        span = builtins.max(ndim, 1)  # a 0-d tensor accepts dim 0 and -1, like PyTorch
        if not -span <= d < span:
            raise IndexError(
                f"{op}: dim {d} is out of range for a tensor with {ndim} dimensions"
                f"{'' if shape is None else f', shape {shape}'} (expected a value in [{-span}, {span - 1}])"
            )
        out.append(int(d) % span)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: dim {dim!r} repeats a dimension")
    return tuple(sorted(out)) if ndim else None


def _expand_back(grad: Any, dims: tuple[int, ...] | None, keepdim: bool, shape: tuple) -> Any:
    """Undo a reduction's shape change: put the reduced axes back (size 1), then broadcast."""
    return G.broadcast_to(_keep_dims(grad, dims, keepdim, len(shape)), shape)


def _keep_dims(y: Any, dims: tuple[int, ...] | None, keepdim: bool, ndim: int) -> Any:
    """A reduction's result with its reduced axes back as size 1 (as if keepdim=True)."""
    if keepdim or dims is None:  # a reduction over everything is 0-d: it broadcasts as it is
        return y
    return G.expand_dims(y, dims)


# ----------------------------------------------------------------------------------- sum, mean


class Sum(Function):
    def forward(self, x):
        self.shape = x.shape
        return np.asarray(x.sum(axis=self.dims, keepdims=self.keepdim))

    def backward(self, grad):
        return _expand_back(grad, self.dims, self.keepdim, self.shape)


class Mean(Function):
    def forward(self, x):
        self.shape = x.shape
        if x.size == 0:  # the mean of nothing is nan (as in PyTorch), without NumPy's "empty slice" warning
            count = np.prod([x.shape[d] for d in self.dims]) if self.dims is not None else 0
            return np.asarray(x.sum(axis=self.dims, keepdims=self.keepdim) / x.dtype.type(count))
        return np.asarray(x.mean(axis=self.dims, keepdims=self.keepdim))

    def backward(self, grad):
        # A Python int: NumPy's int64 would make a float32 gradient float64. A mean over nothing: nan.
        count = math.prod(self.shape[d] for d in self.dims) if self.dims is not None else math.prod(self.shape)
        return _expand_back(grad / count, self.dims, self.keepdim, self.shape)


class Var(Function):
    """Variance with Bessel's correction: sum((x - mean)^2) / (N - correction)."""

    def forward(self, x):
        self.save_for_backward(x)
        n = x.size if self.dims is None else int(np.prod([x.shape[d] for d in self.dims]))
        self.denominator = builtins.max(n - self.correction, 0)
        self.backward_denominator = n - self.correction  # PyTorch's backward does not clamp it
        if self.denominator == 0:
            # PyTorch warns and returns nan (or inf); NumPy would warn without saying which op or why.
            warnings.warn(f"var: degrees of freedom <= 0 ({n} element(s) reduced, correction={self.correction}): "
                          "the result is nan or inf; reduce over more elements or pass correction=0 "
                          "(unbiased=False)", UserWarning, stacklevel=4)
            centered = x - (x.sum(axis=self.dims, keepdims=True) / x.dtype.type(builtins.max(n, 1)))
            return np.asarray((centered * centered).sum(axis=self.dims, keepdims=self.keepdim)
                              / x.dtype.type(self.denominator))
        return np.asarray(x.var(axis=self.dims, ddof=self.correction, keepdims=self.keepdim))

    def backward(self, grad):
        (x,) = self.saved_tensors
        if x.size == 0:
            return G.zeros(x.shape, grad.dtype, like=grad)
        centered = x - G.mean(x, self.dims, keepdims=True)
        g = _expand_back(grad, self.dims, self.keepdim, x.shape)
        return g * 2 * centered / self.backward_denominator


def sum(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or all). Example: ``mg.ones(2, 3).sum(1)`` -> tensor([3., 3.])."""
    dims = normalize_dims("sum", dim, x.ndim)
    if x.dtype == np.bool_:
        return Tensor(np.asarray(x._array.sum(axis=dims, keepdims=keepdim)))
    return Sum.apply(x, dims=dims, keepdim=keepdim)


def mean(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim``. Example: ``mg.tensor([1.0, 3.0]).mean()`` -> tensor(2.)."""
    if x.dtype.kind != "f":
        raise TypeError(f"mean: expected a floating point tensor, got dtype {x.dtype}; use .float() first")
    return Mean.apply(x, dims=normalize_dims("mean", dim, x.ndim), keepdim=keepdim)


def var(x: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
        correction: int | None = None) -> Tensor:
    """Variance (unbiased by default, like PyTorch). Example: ``mg.tensor([1.0, 3.0]).var()`` -> tensor(2.)."""
    if correction is None:
        correction = 1 if unbiased else 0
    _floating_only("var", x)
    return Var.apply(x, dims=normalize_dims("var", dim, x.ndim), keepdim=keepdim,
                     correction=correction)


def _floating_only(op: str, x: Tensor) -> None:
    if x._array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {x.dtype}; use .float() first")


def std(x: Tensor, dim: Any = None, unbiased: bool = True, keepdim: bool = False, *,
        correction: int | None = None) -> Tensor:
    """Standard deviation, the square root of ``var`` (same arguments; unbiased by default).

    Example::

        >>> import minigrad as mg
        >>> mg.std(mg.tensor([1.0, 3.0])), mg.std(mg.tensor([1.0, 3.0]), correction=0)
        (tensor(1.4142), tensor(1.))
    """
    return StdFromVar.apply(var(x, dim, unbiased, keepdim, correction=correction))


class StdFromVar(Function):
    """sqrt(var); where the deviation is 0 its gradient is 0 (PyTorch's rule), not 0/0."""

    name = "std"

    def forward(self, v):
        y = np.sqrt(v)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return G.where(G.values(y) == 0, 0.0, grad / (2 * y))


# ----------------------------------------------------------------------------------- max, min


class Amax(Function):
    """max (or min, ``smallest``) over ``dims``; tied maxima share the gradient evenly (PyTorch's rule
    for ``max()`` of a whole tensor and for ``amax``)."""

    name = "amax"

    def forward(self, x):
        y = x.min(axis=self.dims, keepdims=True) if self.smallest else x.max(axis=self.dims, keepdims=True)
        self.save_for_backward(x, y)
        return y if self.keepdim else y.squeeze(self.dims)

    def backward(self, grad):
        x, y = self.saved_tensors
        winners = G.values(x) == G.values(y)  # a constant mask
        share = (winners / winners.sum(axis=self.dims, keepdims=True)).astype(G.values(x).dtype, copy=False)
        if not self.keepdim:
            grad = G.expand_dims(grad, self.dims)
        return grad * share


class MaxDim(Function):
    """max along one dim; the gradient goes to the index returned (``indices``, from ``argmax``
    with ``keepdims``: the caller picks the winners once, for both the node and the result)."""

    name = "max"

    def forward(self, x):
        self.shape = x.shape
        # The reduction is the value at `indices` (argmax picks the first largest; both take NaN
        # as the largest, as PyTorch does), except the sign of a zero: of 0.0 and -0.0, NumPy's max
        # keeps the last, PyTorch the one at the index. So where a result is zero, read the index.
        values = x.min(axis=self.dim, keepdims=True) if self.smallest else x.max(axis=self.dim, keepdims=True)
        if np.count_nonzero(values) < values.size:
            values = np.take_along_axis(x, self.indices, axis=self.dim)
        return values if self.keepdim else values.squeeze(self.dim)

    def backward(self, grad):
        if not self.keepdim:
            grad = G.expand_dims(grad, (self.dim,))
        if self.create_graph:  # each slice has one winner: the spread gradient times a one-hot mask
            winner = np.zeros(self.shape, dtype=bool)
            np.put_along_axis(winner, self.indices, True, axis=self.dim)
            return G.broadcast_to(grad, self.shape) * winner
        g = np.zeros(self.shape, dtype=grad.dtype)
        np.put_along_axis(g, self.indices, grad, axis=self.dim)
        return g


def _check_nonempty(op: str, x: Tensor, dim: Any) -> None:
    """max/min/argmax/argmin of nothing is undefined: say so instead of NumPy's "zero-size array" error."""
    if x._array.size == 0:
        d = normalize_dims(op, dim, x.ndim) if dim is not None else None
        if d is None or x.shape[d[0]] == 0:
            where = "" if dim is None else f" along dim {dim}"
            raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape}{where} "
                             f"(there is no {op} of nothing)")


def _max(op: str, x: Tensor, dim: Any, keepdim: bool, smallest: bool):
    if isinstance(dim, Tensor):  # torch.max(a, b): elementwise
        from minigrad.ops.elementwise import maximum, minimum

        return minimum(x, dim) if smallest else maximum(x, dim)
    _check_nonempty(op, x, dim)
    if dim is None:
        if x.dtype.kind != "f":
            return Tensor(np.asarray(x._array.min() if smallest else x._array.max()))
        return Amax.apply(x, dims=tuple(range(x.ndim)), keepdim=False, smallest=smallest, name=op,
                          kind=op.capitalize())  # shown as PyTorch shows it: <MaxBackward>, <MinBackward>
    if x.ndim == 0:
        normalize_dims(op, dim, 0)  # checks the range
        return values_indices(x, Tensor(np.asarray(0)))
    (d,) = normalize_dims(op, dim, x.ndim)
    a = x._array  # the array methods, not np.argmax & co.: their dispatch outweighs a small array's work
    idx = a.argmin(axis=d, keepdims=True) if smallest else a.argmax(axis=d, keepdims=True)
    indices = Tensor(idx if keepdim else idx.squeeze(d))
    if x.dtype.kind != "f":  # integer tensors never require grad: no node needed
        values = a.min(axis=d, keepdims=keepdim) if smallest else a.max(axis=d, keepdims=keepdim)
        return values_indices(Tensor(np.asarray(values)), indices)
    return values_indices(MaxDim.apply(x, dim=d, keepdim=keepdim, smallest=smallest, indices=idx), indices)


def amax(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The largest values over ``dim`` (an int or a tuple; all dims when empty). Unlike ``max``, no
    indices, and tied maxima share the gradient evenly.

    Example::

        >>> import minigrad as mg
        >>> mg.amax(mg.tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1)
        tensor([5., 7.])
    """
    return _amax("amax", x, dim, keepdim, smallest=False)


def amin(x: Tensor, dim: Any = (), keepdim: bool = False) -> Tensor:
    """The smallest values over ``dim``, as ``amax``. Example: ``mg.amin(mg.tensor([3.0, 1.0]))`` -> tensor(1.)."""
    return _amax("amin", x, dim, keepdim, smallest=True)


def _amax(op: str, x: Tensor, dim: Any, keepdim: bool, smallest: bool) -> Tensor:
    dims = normalize_dims(op, None if dim == () or dim == [] else dim, x.ndim)
    dims = tuple(range(x.ndim)) if dims is None else dims
    _check_nonempty(op, x, None if len(dims) != 1 else dims[0])
    if x.dtype.kind != "f":
        a = x._array
        values = a.min(axis=dims, keepdims=keepdim) if smallest else a.max(axis=dims, keepdims=keepdim)
        return Tensor(np.asarray(values))
    return Amax.apply(x, dims=dims, keepdim=keepdim, smallest=smallest)


def all(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element (over ``dim``, or all) is nonzero; a bool tensor.

    Example: ``mg.all(mg.tensor([[1, 0], [1, 1]]), dim=1)`` -> tensor([False,  True]).
    """
    dims = normalize_dims("all", dim, x.ndim)
    return Tensor(np.asarray(x._array.all(axis=dims, keepdims=keepdim)))


def any(x: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element (over ``dim``, or all) is nonzero; a bool tensor.

    Example: ``mg.any(mg.tensor([[1, 0], [0, 0]]), dim=1)`` -> tensor([ True, False]).
    """
    dims = normalize_dims("any", dim, x.ndim)
    return Tensor(np.asarray(x._array.any(axis=dims, keepdims=keepdim)))


def max(x: Tensor, dim: Any = None, keepdim: bool = False):  # noqa: A001
    """Largest element; with ``dim`` a (values, indices) pair like PyTorch; with a tensor, elementwise.

    Example: ``mg.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1).values`` -> tensor([5., 7.]).
    """
    return _max("max", x, dim, keepdim, smallest=False)


def min(x: Tensor, dim: Any = None, keepdim: bool = False):  # noqa: A001
    """Smallest element; with ``dim`` a (values, indices) pair. Example: ``mg.tensor([3., 1.]).min()`` -> 1."""
    return _max("min", x, dim, keepdim, smallest=True)


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (flattened when ``dim`` is None)."""
    _check_nonempty("argmax", x, dim)
    if dim is None:
        return Tensor(np.asarray(np.argmax(x._array)))
    if x.ndim == 0:
        normalize_dims("argmax", dim, 0)  # checks the range
        return Tensor(np.zeros((), dtype=np.int64))
    (d,) = normalize_dims("argmax", dim, x.ndim)
    return Tensor(x._array.argmax(axis=d, keepdims=keepdim))


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (flattened when ``dim`` is None)."""
    _check_nonempty("argmin", x, dim)
    if dim is None:
        return Tensor(np.asarray(np.argmin(x._array)))
    if x.ndim == 0:
        normalize_dims("argmin", dim, 0)  # checks the range
        return Tensor(np.zeros((), dtype=np.int64))
    (d,) = normalize_dims("argmin", dim, x.ndim)
    return Tensor(x._array.argmin(axis=d, keepdims=keepdim))


def norm(x: Tensor, p: float = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
    """The p-norm (composed from differentiable ops). Example: ``mg.tensor([3.0, 4.0]).norm()`` -> 5."""
    _floating_only("norm", x)
    if p == float("inf"):
        return x.abs().max() if dim is None else x.abs().max(dim, keepdim).values
    if p == 2:
        return (x * x).sum(dim, keepdim).sqrt()
    return (x.abs() ** p).sum(dim, keepdim) ** (1.0 / p)


# ----------------------------------------------------------------------------------- softmax family


def _rows_along(rows_kernel: Any, x: np.ndarray, dim: int) -> np.ndarray:
    """Apply a kernel that works on the last axis along ``dim`` instead (moving that axis there and back)."""
    if dim == x.ndim - 1:
        return rows_kernel(x)
    return np.moveaxis(rows_kernel(np.moveaxis(x, dim, -1)), -1, dim)


class Softmax(Function):
    def forward(self, x):
        if x.size == 0:  # nothing to normalise (e.g. zero classes): an empty result, as in PyTorch
            y = x.copy()
            self.save_for_backward(y)
            return y
        y = _rows_along(K.softmax_rows, x, self.dim)  # a row with NaN or +inf is NaN (kernels/softmax.py)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        if type(grad) is np.ndarray and self.dim == y.ndim - 1:  # the common case, in two passes
            return K.softmax_rows_backward(y, grad)
        # dL/dx = y * (g - sum(g * y)): the Jacobian of softmax applied without forming it.
        return y * (grad - G.sum(grad * y, self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x):
        if x.size == 0:  # nothing to normalise (e.g. zero classes): an empty result, as in PyTorch
            y = x.copy()
            self.save_for_backward(y)
            return y
        y = _rows_along(K.log_softmax_rows, x, self.dim)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        if type(grad) is np.ndarray and self.dim == y.ndim - 1:  # the common case, with one new array
            return K.log_softmax_rows_backward(y, grad)
        return grad - G.exp(y) * G.sum(grad, self.dim, keepdims=True)


class LogSumExp(Function):
    def forward(self, x):
        m = x.max(axis=self.dims, keepdims=True, initial=-np.inf)  # (initial: an empty dim gives -inf)
        m = np.where(np.isfinite(m), m, 0)  # all -inf stays -inf, not nan
        lse = m + np.log(np.exp(x - m).sum(axis=self.dims, keepdims=True))
        y = lse if self.keepdim else np.squeeze(lse, self.dims)
        self.save_for_backward(x, y)
        return y

    def backward(self, grad):
        x, y = self.saved_tensors
        g = _expand_back(grad, self.dims, self.keepdim, x.shape)
        return g * G.exp(x - _keep_dims(y, self.dims, self.keepdim, x.ndim))  # softmax(x)


def _along_rows(op: str, fn: type[Function], x: Tensor, dim: Any) -> Tensor:
    """``fn`` (``Softmax`` or ``LogSoftmax``) along ``dim``, with the checks both share.

    A plain int dim of a non-empty float tensor, in range, goes straight to the node; everything
    else is checked: a missing or bad dim, no elements (an empty result of the same dtype, as in
    PyTorch), an integer tensor, a 0-d tensor (one row of one).
    """
    a = x._array
    if type(dim) is int and a.dtype.kind == "f" and a.size and -a.ndim <= dim < a.ndim:  # the common case at once
        return fn.apply(x, dim=dim % a.ndim)
    if dim is None:
        raise TypeError(f"{op}: dim is required (e.g. {op}(x, dim=-1))")
    (d,) = normalize_dims(op, dim, a.ndim) or (0,)
    if a.size == 0:  # nothing to normalise
        return x.clone()
    _floating_only(op, x)
    if a.ndim == 0:
        return fn.apply(x.reshape(1), dim=0).reshape(())
    return fn.apply(x, dim=d)


def softmax(x: Tensor, dim: int) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``, stable for large inputs.

    Example: ``mg.tensor([0.0, 0.0]).softmax(0)`` -> tensor([0.5, 0.5]).
    """
    return _along_rows("softmax", Softmax, x, dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """log(softmax(x)) computed as x - logsumexp(x): no log of tiny numbers.

    Example: ``mg.tensor([0.0, 0.0]).log_softmax(0)`` -> tensor([-0.6931, -0.6931]).
    """
    return _along_rows("log_softmax", LogSoftmax, x, dim)


def logsumexp(x: Tensor, dim: Any, keepdim: bool = False) -> Tensor:
    """log(sum(exp(x))) along ``dim`` without overflow. Example: ``mg.zeros(2).logsumexp(0)`` -> 0.6931."""
    x = _floating(x)
    dims = normalize_dims("logsumexp", dim, x.ndim)
    return LogSumExp.apply(x, dims=dims, keepdim=keepdim)
