"""Indexing ``x[...]``: ints, slices, None, Ellipsis, integer arrays/tensors and boolean masks.

The backward of a gather is a *scatter-add*: if ``x[[2, 2, 0]]`` used row 2 twice, row 2's
gradient is the sum of both incoming rows. Assigning (``g[idx] = grad``) would keep only one of
them — the classic bug this module is careful to avoid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.autograd.modes import _mode
from minigrad.autograd.versions import share_version_counter
from minigrad.kernels.scatter import scatter_add_rows
from minigrad.tensor import Tensor


def normalize_index(index: Any, shape: tuple[int, ...]) -> Any:
    """Replace Tensors (and lists) inside an index by NumPy arrays; refuse float indices clearly."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for item in items:
        if isinstance(item, Tensor):
            item = item._array
        elif isinstance(item, list):
            item = np.asarray(item) if item else np.zeros(0, dtype=np.int64)  # [] selects nothing
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iub":
            raise IndexError(f"getitem: tensors used as indices must be integer or bool, got dtype {item.dtype} "
                             f"(indexing a tensor of shape {shape})")
        if isinstance(item, float):
            raise IndexError(f"getitem: index {item} is a float; use an int (indexing a tensor of shape {shape})")
        if isinstance(item, slice) and item.step is not None and _is_int(item.step) and item.step <= 0:
            raise ValueError(f"getitem: slice step must be positive, got {item.step} (indexing a tensor of shape "
                             f"{shape}); PyTorch has no negative steps: use .flip(dim) to reverse")
        if isinstance(item, np.ndarray) and item.ndim == 0 and item.dtype.kind in "iu":
            item = int(item)  # a 0-d integer tensor indexes like an int, as in PyTorch
        out.append(item)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _is_basic(index: Any) -> bool:
    """Ints and slices without a step only (``x[:, -1]``, ``x[1:3]``): NumPy's meaning is PyTorch's.

    Example::

        >>> _is_basic((slice(None), 0)), _is_basic((0, [1, 2])), _is_basic(slice(None, None, -1))
        (True, False, False)
    """
    for item in (index if type(index) is tuple else (index,)):
        kind = type(item)
        if kind is not int and (kind is not slice or item.step is not None):
            return False
    return True


def _is_int(item: Any) -> bool:
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def split_index(index: Any) -> tuple[Any, Any] | None:
    """PyTorch's order for an index mixing ints with index arrays: ints first, then the arrays.

    PyTorch applies integer indices as plain selections *before* the advanced (array) indexing,
    so they never count as advanced indices when placing the result's dims. NumPy counts them,
    which moves dims: for ``x`` of shape (2, 3, 4, 5), ``x[1, :, [0, 1]]`` is (3, 2, 5) in PyTorch
    but (2, 3, 5) in NumPy. Returns ``(basic, advanced)`` with ``x[index] == x[basic][advanced]``
    under PyTorch's rules, or None when NumPy's rules already agree (no int next to an array).
    """
    items = index if isinstance(index, tuple) else (index,)
    if not any(_is_int(i) for i in items) or not any(isinstance(i, np.ndarray) for i in items):
        return None
    basic: list[Any] = []
    advanced: list[Any] = []
    for item in items:
        if _is_int(item):
            basic.append(item)  # the dim is gone after the selection
        elif isinstance(item, np.ndarray):
            basic.extend([slice(None)] * (item.ndim if item.dtype == np.bool_ else 1))
            advanced.append(item)
        elif item is None or isinstance(item, slice):
            basic.append(item)
            advanced.append(slice(None))  # already applied (or already inserted, for None)
        elif item is Ellipsis:
            basic.append(item)
            advanced.append(item)
        else:  # a Python bool: NumPy indexes with it as with a 0-d mask, in the advanced step
            advanced.append(item)
    return tuple(basic), tuple(advanced)


def take(array: np.ndarray, index: Any) -> np.ndarray:
    """``array[index]`` with PyTorch's placement of advanced dims (see ``split_index``)."""
    parts = split_index(index)
    return array[index] if parts is None else array[parts[0]][parts[1]]


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class GetItem(Function):
    computes = False  # moves values only
    name = "index"
    is_view = True  # basic indexing (ints, slices) gives a view; integer arrays and masks copy

    def forward(self, x):
        self.shape = x.shape
        self.dtype = x.dtype
        return _pick(x, self.index)

    def backward(self, grad):
        if self.create_graph:  # the scatter-add as an op, so that it can be differentiated again
            return IndexAdd.apply(grad, index=self.index, shape=self.shape)
        return scatter_add(self.shape, self.index, grad)


class IndexAdd(Function):
    """``out = zeros(shape); out[index] += grad``: the gradient of ``x[index]``, as an op of its own.

    Under ``create_graph=True`` the backward of indexing builds this node; its own backward
    gathers again (``grad[index]``), so indexing can be differentiated any number of times.
    """

    name = "index_add"

    def forward(self, grad):
        return scatter_add(self.shape, self.index, grad)

    def backward(self, grad):
        if self.create_graph:
            return GetItem.apply(grad, index=self.index)
        return grad[self.index]


def scatter_add(shape: tuple[int, ...], index: Any, grad: np.ndarray) -> np.ndarray:
    """Zeros of ``shape`` with ``grad`` added at ``index``; repeated indices accumulate.

    Example: ``scatter_add((3,), np.array([2, 2, 0]), np.ones(3)).tolist()`` -> [1.0, 0.0, 2.0].
    """
    g = np.zeros(shape, dtype=grad.dtype)
    if not _has_integer_array(index):
        g[index] = grad  # slices and masks select each element at most once
    elif isinstance(index, np.ndarray) and index.size == 0:
        pass  # nothing was selected: the gradient is all zeros
    elif isinstance(index, np.ndarray) and index.ndim == 1 and g.ndim >= 1:
        # The Embedding-style case: rows gathered by a 1-D index -> scatter-add kernel.
        rows = g.reshape(shape[0], -1)
        idx = np.where(index < 0, index + shape[0], index)
        scatter_add_rows(rows, idx.astype(np.int64, copy=False),
                         np.ascontiguousarray(grad).reshape(len(index), -1))
    else:
        np.add.at(g, index, grad)  # general fancy indexing, duplicates accumulate
    return g


def _pick(x: np.ndarray, index: Any) -> np.ndarray:
    """``x[index]``, always an array: one element picked by ints is a 0-d view, as in PyTorch."""
    out = x[index]
    if type(out) is not np.ndarray:  # one element picked by ints: NumPy gives a copy, a scalar
        items = index if isinstance(index, tuple) else (index,)
        out = x[items + (Ellipsis,)]  # the same element as a 0-d view, so x[0].add_(1) changes x
    return out


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with autograd. Example: ``mg.arange(5)[[0, 0, 3]]`` -> tensor([0, 0, 3])."""
    basic = type(index) is int or _is_basic(index)  # the common cases (x[t], x[:, -1]): nothing to convert
    parts = None
    if not basic:
        index = normalize_index(index, x.shape)
        parts = split_index(index)
    try:
        if basic and not _mode.traced and not (x._requires_grad and _mode.grad_enabled):
            return _view(x, index)  # a step of the data, x[t]: no node to record
        if parts is not None:
            return GetItem.apply(GetItem.apply(x, index=parts[0]), index=parts[1])
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(f"getitem on a tensor of shape {x.shape}: {e}") from None


def _view(x: Tensor, index: Any) -> Tensor:
    """What ``GetItem.apply`` gives when no gradient flows (and no scope, recording or anomaly mode
    asks for nodes): the view, sharing ``x``'s version counter, without making a node first."""
    out = Tensor(_pick(x._array, index))
    share_version_counter((out,), x)
    return out


def nonzero(x: Tensor, *, as_tuple: bool = False) -> Tensor | tuple[Tensor, ...]:
    """The indices of the nonzero elements: an ``(n, ndim)`` int64 tensor, one row per element in
    row-major order, or with ``as_tuple=True`` one 1-D tensor per dim (what ``x[...]`` takes).

    Example::

        >>> import minigrad as mg
        >>> mg.nonzero(mg.tensor([[0, 3], [5, 0]]))
        tensor([[0, 1],
                [1, 0]])
    """
    a = x._array if isinstance(x, Tensor) else np.asarray(x)
    if as_tuple:
        return tuple(Tensor(i.astype(np.int64, copy=False)) for i in np.nonzero(np.atleast_1d(a)))
    return Tensor(np.argwhere(a).astype(np.int64, copy=False))
