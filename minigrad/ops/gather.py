"""Picking and placing along a dim: gather, scatter, scatter_add, index_select, index_put, masked_fill;
and rearranging: narrow, unbind, flip, repeat, roll.

The pairs mirror each other. ``gather`` reads ``out[i][j] = x[i][index[i][j]]`` (for dim=1); its
backward *adds* each gradient back to the place it was read from (a position read twice gets both
gradients). ``scatter`` writes ``out[i][index[i][j]] = src[i][j]``; its backward reads the gradient
back from those places for ``src``, and gives ``x`` the gradient everywhere it was not overwritten.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.errors import ShapeError
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.reduce import normalize_dims
from minigrad.ops.shape import _shape_arg
from minigrad.tensor import Tensor


def _dim(op: str, dim: Any, ndim: int | tuple[int, ...]) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r} ({type(dim).__name__})")
    (d,) = normalize_dims(op, dim, ndim) or (0,)
    return d


def _index_array(op: str, index: Any) -> np.ndarray:
    arr = index._array if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor (int64), got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def _check_bounds(op: str, idx: np.ndarray, size: int, d: int) -> None:
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = idx.min() if idx.min() < 0 else idx.max()
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {d} with size {size} "
                         f"(expected 0 <= index < {size})")


# ----------------------------------------------------------------------------------- gather, scatter


def _positions(index: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
    """The full index tuple that ``index`` along dim ``d`` means: ``x[_positions(index, d)]`` is gather."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[d] = index
    return tuple(grids)


def _check_index_shape(op: str, x_shape: tuple, index: np.ndarray, d: int, src_shape: tuple | None = None) -> None:
    ndim = max(len(x_shape), 1)
    if max(index.ndim, 1) != ndim:
        raise ShapeError(f"{op}: index must have as many dimensions as the input ({len(x_shape)}), "
                         f"got index of shape {index.shape} for input of shape {x_shape}")
    for k in range(index.ndim):
        if k != d and index.shape[k] > x_shape[k]:
            raise ShapeError(f"{op}: index of shape {index.shape} is larger than the input of shape {x_shape} "
                             f"in dimension {k} (only dimension {d} may differ)")
        if src_shape is not None and index.shape[k] > src_shape[k]:
            raise ShapeError(f"{op}: index of shape {index.shape} is larger than src of shape {src_shape} "
                             f"in dimension {k}")


def _leading(shape: tuple[int, ...]) -> tuple[slice, ...]:
    """The slices that take the leading block of a given shape (``src[_leading(index.shape)]``)."""
    return tuple(slice(0, n) for n in shape)


class Gather(Function):
    computes = False  # moves values only

    def forward(self, x):
        self.shape = x.shape
        return x[self.pos]

    def backward(self, grad):
        g = np.zeros(self.shape, dtype=grad.dtype)
        np.add.at(g, self.pos, grad)
        return g


def gather(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """``out[i][j] = x[i][index[i][j]]`` for dim=1 (likewise for other dims); out has index's shape.

    Example::

        >>> import minigrad as mg
        >>> mg.gather(mg.tensor([[1.0, 2.0], [3.0, 4.0]]), 1, mg.tensor([[1, 1], [0, 1]]))
        tensor([[2., 2.],
                [3., 4.]])
    """
    x = as_tensor(x, op="gather")
    d = _dim("gather", dim, x.shape)
    idx = _index_array("gather", index)
    _check_index_shape("gather", x.shape, idx, d)
    _check_bounds("gather", idx, x.shape[d] if x.ndim else 1, d)
    if x.ndim == 0:
        return x.reshape(idx.shape) if idx.size else Tensor(np.zeros(idx.shape, x.dtype))
    return Gather.apply(x, pos=_positions(idx, d))


class Scatter(Function):
    """``out = x`` with ``out[pos] = src`` (or ``+= src`` when ``add``)."""

    def forward(self, x, src):
        out = x.copy()
        values = self.value if src is None else src[_leading(self.pos_shape)]
        if self.add:
            np.add.at(out, self.pos, values)
        else:
            out[self.pos] = values
        self.src_shape = None if src is None else src.shape
        return out

    def backward(self, grad):
        gx = gsrc = None
        if self.needs_input_grad[0]:
            gx = grad
            if not self.add:
                gx = grad.copy()
                gx[self.pos] = 0  # overwritten places did not come from x
        if self.needs_input_grad[1]:
            gsrc = np.zeros(self.src_shape, dtype=grad.dtype)
            gsrc[_leading(self.pos_shape)] = grad[self.pos]
        return gx, gsrc


def _scatter(op: str, x: Any, dim: int, index: Any, src: Any, value: Any, add: bool) -> Tensor:
    x = as_tensor(x, op=op)
    d = _dim(op, dim, x.shape)
    idx = _index_array(op, index)
    if src is None and value is None:
        raise TypeError(f"{op}: give src (a tensor) or value (a number)")
    if src is not None and not isinstance(src, Tensor):
        if isinstance(src, (int, float, np.number)):
            src, value = None, src
        else:
            raise TypeError(f"{op}: src must be a Tensor, got {type(src).__name__}")
    if src is not None:
        if src.dtype != x.dtype:
            raise RuntimeError(f"{op}: expected src to have the dtype of the input ({x.dtype}), got {src.dtype}")
        if src.ndim != x.ndim:
            raise ShapeError(f"{op}: src of shape {src.shape} must have as many dimensions as the input "
                             f"of shape {x.shape}")
    _check_index_shape(op, x.shape, idx, d, None if src is None else src.shape)
    _check_bounds(op, idx, x.shape[d] if x.ndim else 1, d)
    if x.ndim == 0:
        x, idx = x.reshape(1), idx.reshape(1)
        if src is not None:
            src = src.reshape(1)
        return _scatter(op, x, 0, idx, src, value, add).reshape(())
    return Scatter.apply(x, src, pos=_positions(idx, d), pos_shape=idx.shape, value=value, add=add, name=op)


def scatter(x: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``x`` with ``out[i][index[i][j]] = src[i][j]`` for dim=1 (or ``= value``).

    Where ``index`` repeats a position, which write wins is unspecified (as in PyTorch).

    Example::

        >>> import minigrad as mg
        >>> mg.scatter(mg.zeros(2, 3), 1, mg.tensor([[2], [0]]), mg.ones(2, 1))
        tensor([[0., 0., 1.],
                [1., 0., 0.]])
    """
    if reduce == "add":
        return scatter_add(x, dim, index, src) if src is not None else _scatter("scatter", x, dim, index, None,
                                                                                 value, add=True)
    if reduce is not None:
        raise ValueError(f"scatter: reduce={reduce!r} is not supported by minigrad (only None and 'add')")
    return _scatter("scatter", x, dim, index, src, value, add=False)


def scatter_add(x: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``x`` with ``out[i][index[i][j]] += src[i][j]`` for dim=1; repeated positions add up.

    Example::

        >>> import minigrad as mg
        >>> mg.scatter_add(mg.zeros(3), 0, mg.tensor([0, 2, 0]), mg.ones(3))
        tensor([2., 0., 1.])
    """
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a Tensor, got {type(src).__name__}")
    return _scatter("scatter_add", x, dim, index, src, None, add=True)


# ----------------------------------------------------------------------------------- index_select, index_put


class IndexSelect(Function):
    computes = False  # moves values only
    name = "index_select"

    def forward(self, x):
        self.shape = x.shape
        return np.take(x, self.index, axis=self.dim)

    def backward(self, grad):
        g = np.zeros(self.shape, dtype=grad.dtype)
        np.add.at(g, (slice(None),) * self.dim + (self.index,), grad)  # repeated rows add up
        return g


def index_select(x: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``x`` along ``dim`` listed in the 1-D ``index`` (repeats allowed).

    Example::

        >>> import minigrad as mg
        >>> mg.index_select(mg.tensor([[1, 2], [3, 4]]), 0, mg.tensor([1, 1]))
        tensor([[3, 4],
                [3, 4]])
    """
    x = as_tensor(x, op="index_select")
    d = _dim("index_select", dim, x.shape)
    idx = _index_array("index_select", index)
    if idx.ndim > 1:
        raise ShapeError(f"index_select: index must be 1-D (a vector), got shape {idx.shape}")
    idx = idx.reshape(-1)
    if x.ndim == 0:
        if idx.size != 1:
            raise ShapeError(f"index_select: a 0-d input can only take an index with 1 value, got {idx.size}")
        _check_bounds("index_select", idx, 1, 0)
        return x.clone()
    _check_bounds("index_select", idx, x.shape[d], d)
    return IndexSelect.apply(x, index=idx, dim=d)


class IndexPut(Function):
    """``out = x`` with the elements at flat ``positions`` set to (or, accumulating, increased by) ``values``."""

    name = "index_put"

    def forward(self, x, values):
        out = x.copy()
        flat = out.reshape(-1)
        v = np.broadcast_to(values.astype(x.dtype, copy=False), self.positions.shape)
        if self.accumulate:
            np.add.at(flat, self.positions, v)
        else:
            flat[self.positions] = v
        return out

    def backward(self, grad):
        gx = gv = None
        if self.needs_input_grad[0]:
            gx = grad
            if not self.accumulate:
                gx = grad.copy()
                gx.reshape(-1)[self.positions] = 0
        if self.needs_input_grad[1]:
            gv = np.ascontiguousarray(grad).reshape(-1)[self.positions]  # the engine sums broadcast dims back
        return gx, gv


def put(x: Tensor, index: Any, values: Any, accumulate: bool = False, op: str = "index_put") -> Tensor:
    """``x`` with ``x[index] = values`` done out of place (any index ``x[index]`` accepts), differentiable.

    This is the op behind in-place assignment ``t[index] = values``. ``values`` broadcasts to the
    shape of ``x[index]``; with ``accumulate`` repeated positions add up.

    Example::

        >>> import minigrad as mg
        >>> from minigrad.ops.gather import put
        >>> put(mg.zeros(2, 2), (0, slice(None)), 5.0)
        tensor([[5., 5.],
                [0., 0.]])
    """
    from minigrad.ops.indexing import normalize_index, take

    x = as_tensor(x, op=op)
    values = as_tensor(values, op=op)
    index = normalize_index(index, x.shape)
    try:
        positions = take(np.arange(x._array.size, dtype=np.int64).reshape(x.shape), index)
    except IndexError as e:
        raise IndexError(f"{op} on a tensor of shape {x.shape}: {e}") from None
    try:
        target = np.broadcast_shapes(values.shape, positions.shape)
    except ValueError:
        target = None
    if target != positions.shape:
        raise ShapeError(f"{op}: values of shape {values.shape} cannot be assigned to the selected part of shape "
                         f"{positions.shape} (of a tensor of shape {x.shape}); it must have that shape or "
                         "broadcast to it")
    if x.dtype.kind != "f" and values.dtype.kind == "f":
        values = Tensor(values._array)  # written into an integer tensor: truncated, no gradient
    return IndexPut.apply(x, values, positions=np.asarray(positions), accumulate=bool(accumulate))


def index_put(x: Tensor, indices: tuple, values: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``x`` with ``x[indices] = values`` (``indices``: a tuple of index tensors, PyTorch's form).

    Example::

        >>> import minigrad as mg
        >>> mg.index_put(mg.zeros(3), (mg.tensor([0, 0]),), mg.tensor(1.0), accumulate=True)
        tensor([2., 0., 0.])
    """
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put: indices must be a tuple of tensors, got {type(indices).__name__}")
    return put(x, tuple(indices), values, accumulate)


# ----------------------------------------------------------------------------------- masked_fill


class MaskedFill(Function):
    name = "masked_fill"

    def forward(self, x, value):
        return np.where(self.mask, value.astype(x.dtype), x)

    def backward(self, grad):
        gx = G.where(self.mask, 0, grad) if self.needs_input_grad[0] else None
        gv = G.where(self.mask, grad, 0).sum() if self.needs_input_grad[1] else None
        return gx, gv


def masked_fill(x: Tensor, mask: Tensor, value: Any) -> Tensor:
    """A copy of ``x`` with ``value`` where ``mask`` is True (mask broadcasts; x's dtype is kept).

    Example::

        >>> import minigrad as mg
        >>> mg.ones(3).masked_fill(mg.tensor([True, False, True]), 0.0)
        tensor([0., 1., 0.])
    """
    x = as_tensor(x, op="masked_fill")
    m = mask._array if isinstance(mask, Tensor) else None
    if m is None or m.dtype != np.bool_:
        got = f"dtype {m.dtype}" if m is not None else type(mask).__name__
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {got}")
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape "
                             f"{value.shape}")
    elif isinstance(value, (bool, int, float, np.number, np.bool_)):
        value = Tensor(np.asarray(value))
    else:
        raise TypeError(f"masked_fill: value must be a number or a 0-d tensor, got {type(value).__name__}")
    try:
        np.broadcast_shapes(m.shape, x.shape)
    except ValueError:
        raise ShapeError(f"masked_fill: mask of shape {m.shape} cannot be broadcast to the tensor's shape "
                         f"{x.shape}") from None
    if x.dtype.kind in "iu":
        v = value._array
        info = np.iinfo(x.dtype)
        if v.dtype.kind == "f" and not (np.isfinite(v) and info.min <= v <= info.max):
            raise RuntimeError(f"masked_fill: value {v.item()} cannot be converted to {x.dtype} without overflow")
    if x.dtype.kind != "f" and value.requires_grad:
        value = value.detach()
    return MaskedFill.apply(x, value, mask=m)


# ----------------------------------------------------------------------------------- narrow, unbind


class Narrow(Function):
    computes = False  # moves values only
    is_view = True  # shares memory with its input, as in PyTorch (see Function.apply)

    def forward(self, x):
        self.shape = x.shape
        return x[self.slices]

    def backward(self, grad):
        g = np.zeros(self.shape, dtype=grad.dtype)
        g[self.slices] = grad
        return g


def narrow(x: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """The ``length`` slices of ``x`` starting at ``start`` along ``dim`` (a view, like ``x[:, start:start+length]``).

    Example::

        >>> import minigrad as mg
        >>> mg.arange(6).reshape(2, 3).narrow(1, 1, 2)
        tensor([[1, 2],
                [4, 5]])
    """
    x = as_tensor(x, op="narrow")
    if x.ndim == 0:
        raise ShapeError("narrow: cannot narrow a 0-d tensor")
    d = _dim("narrow", dim, x.shape)
    if isinstance(start, Tensor):
        start = start.item()
    for name, v in (("start", start), ("length", length)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"narrow: {name} must be an int, got {v!r} ({type(v).__name__})")
    size = x.shape[d]
    if not -size <= start <= size:
        raise IndexError(f"narrow: start ({start}) is out of range for dimension {d} of size {size} "
                         f"(expected a value in [{-size}, {size}])")
    start = start % size if start < 0 else start
    if length < 0 or start + length > size:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension {d} of size {size} "
                         f"(shape {x.shape})")
    slices = (slice(None),) * d + (slice(int(start), int(start + length)),)
    return Narrow.apply(x, slices=slices)


class Unbind(Function):
    computes = False  # moves values only
    is_view = True

    def forward(self, x):
        # x[..., i, ...] as views (also 0-d ones), which share x's memory as PyTorch's unbind does
        return tuple(x[(slice(None),) * self.dim + (i, Ellipsis)] for i in range(x.shape[self.dim]))

    def backward(self, *grads):
        shape = list(self.shape)
        del shape[self.dim]
        parts = [g if g is not None else np.zeros(shape, dtype=self.dtype) for g in grads]
        return np.stack(parts, axis=self.dim)


def unbind(x: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``x`` along ``dim``, as a tuple of tensors with that dim removed.

    Example::

        >>> import minigrad as mg
        >>> mg.unbind(mg.tensor([[1, 2], [3, 4]]), 1)
        (tensor([1, 3]), tensor([2, 4]))
    """
    x = as_tensor(x, op="unbind")
    if x.ndim == 0:
        raise ShapeError("unbind: cannot unbind a 0-d tensor")
    d = _dim("unbind", dim, x.shape)
    if x.shape[d] == 0:
        return ()
    out = Unbind.apply(x, dim=d, shape=x.shape, dtype=x.dtype)
    return out if isinstance(out, tuple) else (out,)


# ----------------------------------------------------------------------------------- flip, repeat, roll


class Flip(Function):
    computes = False  # moves values only

    def forward(self, x):
        return np.flip(x, self.dims).copy()  # a copy, as in PyTorch: writing into it leaves x alone

    def backward(self, grad):
        if type(grad) is not np.ndarray:  # a Tensor (create_graph=True): flipped back by the same op
            return grad.flip(self.dims)
        return np.flip(grad, self.dims)


def flip(x: Tensor, *dims: Any, **kw: Any) -> Tensor:
    """``x`` with the order of elements reversed along ``dims``.

    Example::

        >>> import minigrad as mg
        >>> mg.flip(mg.tensor([[1, 2], [3, 4]]), [1])
        tensor([[2, 1],
                [4, 3]])
    """
    x = as_tensor(x, op="flip")
    if "dims" in kw:  # flip(x, dims=[0, 1])
        dims = (kw.pop("dims"),) if not dims else dims
    if kw:
        raise TypeError(f"flip: unexpected keyword argument(s) {sorted(kw)}")
    dims = _shape_arg(dims, "flip")
    normalized = normalize_dims("flip", dims, x.shape) or ()
    return Flip.apply(x, dims=normalized)


class Repeat(Function):
    computes = False  # moves values only

    def forward(self, x):
        self.shape = x.shape
        return np.tile(x, self.repeats)

    def backward(self, grad):
        # grad has shape (r0 * n0, r1 * n1, ...): split each dim into (r_k, n_k) and sum over the copies.
        split = []
        for r, n in zip(self.repeats, self.padded):
            split += [r, n]
        g = grad.reshape(split).sum(axis=tuple(range(0, len(split), 2)))
        return g.reshape(self.shape)


def repeat(x: Tensor, *sizes: Any) -> Tensor:
    """``x`` tiled ``sizes[k]`` times along dim k (new leading dims when there are more sizes than dims).

    Example::

        >>> import minigrad as mg
        >>> mg.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    x = as_tensor(x, op="repeat")
    repeats = _shape_arg(sizes, "repeat")
    if len(repeats) < x.ndim:
        raise ShapeError(f"repeat: the number of repeat sizes ({len(repeats)}) can not be smaller than the "
                         f"number of dimensions of the tensor ({x.ndim}, shape {x.shape})")
    if any(r < 0 for r in repeats):
        raise ValueError(f"repeat: sizes must be non-negative, got {repeats}")
    padded = (1,) * (len(repeats) - x.ndim) + x.shape
    return Repeat.apply(x, repeats=repeats, padded=padded)


class Roll(Function):
    computes = False  # moves values only

    def forward(self, x):
        return np.roll(x, self.shifts, axis=self.dims)

    def backward(self, grad):
        return np.roll(grad, tuple(-s for s in self.shifts), axis=self.dims)


def roll(x: Tensor, shifts: Any, dims: Any = None) -> Tensor:
    """``x`` with elements shifted along ``dims`` (wrapping around); without dims, over the flattened tensor.

    Example::

        >>> import minigrad as mg
        >>> mg.roll(mg.tensor([1, 2, 3, 4]), 1)
        tensor([4, 1, 2, 3])
    """
    x = as_tensor(x, op="roll")
    shifts_t = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    if dims is None:
        if len(shifts_t) != 1:
            raise ValueError(f"roll: without dims, shifts must be one int, got {shifts!r}")
        return roll(x.reshape(-1), shifts_t, 0).reshape(x.shape)
    dims_t = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts_t) != len(dims_t):
        raise ValueError(f"roll: shifts {shifts!r} and dims {dims!r} must have the same length")
    for s in shifts_t:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)):
            raise TypeError(f"roll: shifts must be ints, got {shifts!r}")
    if x.ndim == 0:
        raise IndexError(f"roll: dims {dims!r} given but the tensor is 0-d (it has no dimensions)")
    axes = tuple(_dim("roll", d, x.shape) for d in dims_t)
    return Roll.apply(x, shifts=tuple(int(s) for s in shifts_t), dims=axes)


def masked_select(x: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``x`` where ``mask`` is True, as a 1-D tensor (``x`` and ``mask`` broadcast together).

    Differentiable: it is boolean-mask indexing of the broadcast ``x``.

    Example::

        >>> import minigrad as mg
        >>> mg.tensor([[1.0, 2.0], [3.0, 4.0]]).masked_select(mg.tensor([True, False]))
        tensor([1., 3.])
    """
    x = as_tensor(x, op="masked_select")
    m = mask._array if isinstance(mask, Tensor) else None
    if m is None or m.dtype != np.bool_:
        got = f"dtype {m.dtype}" if m is not None else type(mask).__name__
        raise TypeError(f"masked_select: mask must be a bool tensor, got {got}")
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise ShapeError(f"masked_select: mask of shape {m.shape} and input of shape {x.shape} do not "
                         "broadcast together") from None
    wide = x if x.shape == shape else x.expand(*shape)
    return wide[np.broadcast_to(m, shape)]
