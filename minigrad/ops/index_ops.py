"""Whole slices along a dim: ``index_add``, ``index_copy``, ``index_fill`` and ``repeat_interleave``.

Each is composed from an op that already has its gradient: slice ``i`` of ``source`` goes to slice
``index[i]`` of ``x``, which is ``scatter_add`` (or ``scatter``) with ``index`` spread over every
element of that slice, and ``index_fill`` is ``masked_fill`` with the slices' mask. The in-place
forms (``x.index_add_(...)``) are these through ``inplace.apply_inplace``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.errors import ShapeError
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.gather import _check_bounds, _dim, _index_array, index_select, masked_fill, scatter, scatter_add
from minigrad.tensor import Tensor


def _slices(op: str, x: Tensor, dim: int, index: Any) -> tuple[int, np.ndarray]:
    """``dim`` normalised and ``index`` as a checked 1-D int64 array of slice numbers of ``x``."""
    d = _dim(op, dim, x.shape)
    idx = _index_array(op, index)
    if idx.ndim > 1:
        raise ShapeError(f"{op}: index must be 1-D (one slice number per slice of source), got shape {idx.shape}")
    idx = idx.reshape(-1)
    _check_bounds(op, idx, x.shape[d] if x.ndim else 1, d)
    return d, idx


def _spread(op: str, x: Tensor, d: int, idx: np.ndarray, source: Tensor) -> Tensor:
    """``idx`` spread over ``source``'s shape along ``d``: the index tensor scatter takes."""
    expected = x.shape[:d] + (len(idx),) + x.shape[d + 1:]
    if source.shape != expected:
        raise ShapeError(f"{op}: source of shape {source.shape} does not fit: for an input of shape {x.shape} "
                         f"and {len(idx)} indices along dim {d} it must have shape {expected}")
    along = [1] * x.ndim
    along[d] = -1
    return Tensor(np.ascontiguousarray(np.broadcast_to(idx.reshape(along), source.shape)))


def index_add(x: Tensor, dim: int, index: Any, source: Tensor, *, alpha: Any = 1) -> Tensor:
    """A copy of ``x`` with ``alpha * source[..., i, ...]`` added to slice ``index[i]`` along ``dim``
    (repeated indices add up).

    Example::

        >>> import minigrad as mg
        >>> mg.index_add(mg.zeros(3, 2), 0, mg.tensor([2, 0, 2]), mg.ones(3, 2))
        tensor([[1., 1.],
                [0., 0.],
                [2., 2.]])
    """
    x, source = as_tensor(x, op="index_add"), as_tensor(source, op="index_add")
    d, idx = _slices("index_add", x, dim, index)
    spread = _spread("index_add", x, d, idx, source)
    return scatter_add(x, d, spread, source if alpha == 1 else source * alpha)


def index_copy(x: Tensor, dim: int, index: Any, source: Tensor) -> Tensor:
    """A copy of ``x`` whose slice ``index[i]`` along ``dim`` is ``source``'s slice ``i``.

    Example::

        >>> import minigrad as mg
        >>> mg.index_copy(mg.zeros(3), 0, mg.tensor([2]), mg.tensor([5.0]))
        tensor([0., 0., 5.])
    """
    x, source = as_tensor(x, op="index_copy"), as_tensor(source, op="index_copy")
    d, idx = _slices("index_copy", x, dim, index)
    return scatter(x, d, _spread("index_copy", x, d, idx, source), source)


def index_fill(x: Tensor, dim: int, index: Any, value: Any) -> Tensor:
    """A copy of ``x`` whose slices ``index`` along ``dim`` are filled with ``value``.

    Example::

        >>> import minigrad as mg
        >>> mg.index_fill(mg.ones(2, 3), 1, mg.tensor([0, 2]), -1.0)
        tensor([[-1.,  1., -1.],
                [-1.,  1., -1.]])
    """
    x = as_tensor(x, op="index_fill")
    d, idx = _slices("index_fill", x, dim, index)
    mask = np.zeros(x.shape, dtype=bool)
    mask[(slice(None),) * d + (idx,)] = True
    return masked_fill(x, Tensor(mask), value)


def repeat_interleave(x: Tensor, repeats: Any, dim: int | None = None) -> Tensor:
    """Each slice along ``dim`` repeated ``repeats`` times in place (an int, or one count per slice);
    with ``dim=None`` the flattened tensor. ``index_select`` of the repeated slice numbers, so the
    gradient of each copy adds up in its slice.

    Example::

        >>> import minigrad as mg
        >>> mg.repeat_interleave(mg.tensor([1, 2]), 2)
        tensor([1, 1, 2, 2])
        >>> mg.tensor([[1, 2], [3, 4]]).repeat_interleave(mg.tensor([1, 2]), dim=0)
        tensor([[1, 2],
                [3, 4],
                [3, 4]])
    """
    x = as_tensor(x, op="repeat_interleave")
    if dim is None:
        x, dim = x.reshape(-1), 0
    d = _dim("repeat_interleave", dim, x.shape)
    counts = repeats._array if isinstance(repeats, Tensor) else np.asarray(repeats)
    n = x.shape[d] if x.ndim else 1
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or (counts.ndim == 1 and counts.size not in (1, n)):
        raise ShapeError(f"repeat_interleave: repeats must be an int or a 1-D integer tensor of {n} counts "
                         f"(one per slice along dim {d}), got {repeats!r}")
    if (counts < 0).any():
        raise ValueError(f"repeat_interleave: repeats must not be negative, got {counts.tolist()}")
    return index_select(x, d, Tensor(np.repeat(np.arange(n), counts.reshape(-1) if counts.ndim else int(counts))))
