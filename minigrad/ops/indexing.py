"""Indexing ``x[...]``: ints, slices, None, Ellipsis, integer arrays/tensors and boolean masks.

The backward of a gather is a *scatter-add*: if ``x[[2, 2, 0]]`` used row 2 twice, row 2's
gradient is the sum of both incoming rows. Assigning (``g[idx] = grad``) would keep only one of
them — the classic bug this module is careful to avoid.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
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
            item = np.asarray(item)
        if isinstance(item, np.ndarray) and item.dtype.kind not in "iub":
            raise IndexError(f"getitem: tensors used as indices must be integer or bool, got dtype {item.dtype} "
                             f"(indexing a tensor of shape {shape})")
        if isinstance(item, float):
            raise IndexError(f"getitem: index {item} is a float; use an int (indexing a tensor of shape {shape})")
        out.append(item)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _has_integer_array(index: Any) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" for i in items)


class GetItem(Function):
    name = "index"
    is_view = True  # basic indexing (ints, slices) gives a view; integer arrays and masks copy

    def forward(self, x):
        self.shape = x.shape
        self.dtype = x.dtype
        return x[self.index]

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
    elif isinstance(index, np.ndarray) and index.ndim == 1 and g.ndim >= 1:
        # The Embedding-style case: rows gathered by a 1-D index -> scatter-add kernel.
        rows = g.reshape(shape[0], -1)
        idx = np.where(index < 0, index + shape[0], index)
        scatter_add_rows(rows, idx.astype(np.int64, copy=False),
                         np.ascontiguousarray(grad).reshape(len(index), -1))
    else:
        np.add.at(g, index, grad)  # general fancy indexing, duplicates accumulate
    return g


def getitem(x: Tensor, index: Any) -> Tensor:
    """``x[index]`` with autograd. Example: ``mg.arange(5)[[0, 0, 3]]`` -> tensor([0, 0, 3])."""
    index = normalize_index(index, x.shape)
    try:
        return GetItem.apply(x, index=index)
    except IndexError as e:
        raise IndexError(f"getitem on a tensor of shape {x.shape}: {e}") from None
