"""Shape ops: they move numbers around without changing them, so each backward moves the
gradient back the same way (reshape back, transpose back, split what was concatenated...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.dtypes import result_type
from minigrad.errors import ShapeError
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import as_tensor
from minigrad.ops.reduce import normalize_dims
from minigrad.tensor import Tensor


def _shape_arg(shape: tuple, op: str = "reshape") -> tuple[int, ...]:
    """Accept both ``x.reshape(2, 3)`` and ``x.reshape((2, 3))``; refuse floats and strings.

    ``int(2.5)`` would silently truncate, so only ints (Python or NumPy) are accepted.
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    plain = True  # all Python ints already (the common case: nothing to convert)
    for s in shape:
        if type(s) is not int:
            if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
                raise TypeError(f"{op}: sizes and dims must be ints, got {s!r} ({type(s).__name__}) in {shape!r}")
            plain = False
    return tuple(shape) if plain else tuple([int(s) for s in shape])


def _dim(op: str, dim: int, ndim: int) -> int:
    (d,) = normalize_dims(op, dim, ndim) or (0,)
    return d


# ----------------------------------------------------------------------------------- reshape


class Reshape(Function):
    computes = False  # moves values only
    is_view = True  # when NumPy can reshape without copying

    def forward(self, x):
        self.input_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, grad):
        return grad.reshape(self.input_shape)


def reshape(x: Tensor, *shape: Any) -> Tensor:
    """The same elements in a new shape (one size may be -1). Example: ``mg.arange(6).reshape(2, 3)``."""
    shape = _shape_arg(shape)
    inferred = shape.count(-1)  # how many sizes to infer: 0 or 1
    if inferred > 1 or (shape and min(shape) < -1):
        raise ShapeError(f"reshape: invalid shape {shape}: at most one -1 and no other negative sizes")
    known = math.prod(shape) * (-1 if inferred else 1)  # the product of the sizes given
    size = x._array.size
    if (known == 0 or size % known) if inferred else known != size:
        raise ShapeError(f"reshape: shape {shape} is invalid for a tensor of shape {x.shape} ({size} elements)")
    return Reshape.apply(x, shape=shape)


def view(x: Tensor, *shape: Any) -> Tensor:
    """Like ``reshape`` (NumPy decides whether memory is shared; minigrad never writes through views)."""
    try:
        return reshape(x, *shape)
    except ShapeError as e:
        raise ShapeError(str(e).replace("reshape:", "view:", 1)) from None
    except TypeError as e:
        raise TypeError(str(e).replace("reshape:", "view:", 1)) from None


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims start_dim..end_dim into one. Example: ``mg.ones(2, 3, 4).flatten(1).shape`` -> (2, 12)."""
    s, e = _dim("flatten", start_dim, x.ndim), _dim("flatten", end_dim, x.ndim)
    if x.ndim == 0:
        return reshape(x, 1)
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    return reshape(x, x.shape[:s] + (-1,) + x.shape[e + 1:]) if x._array.size else \
        reshape(x, x.shape[:s] + (int(np.prod(x.shape[s:e + 1])),) + x.shape[e + 1:])


def squeeze(x: Tensor, dim: Any = None) -> Tensor:
    """Drop dims of size 1 (only ``dim`` if given; a no-op if that dim is not 1)."""
    if dim is None:
        return reshape(x, tuple(n for n in x.shape if n != 1))
    dims = normalize_dims("squeeze", dim, x.ndim) or ()
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if not (i in dims and n == 1)))


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a dim of size 1 at ``dim``. Example: ``mg.ones(3).unsqueeze(0).shape`` -> (1, 3)."""
    d = _dim("unsqueeze", dim, x.ndim + 1)
    return reshape(x, x.shape[:d] + (1,) + x.shape[d:])


# ----------------------------------------------------------------------------------- permute


class Permute(Function):
    computes = False  # moves values only
    is_view = True

    def forward(self, x):
        return x.transpose(self.dims)

    def backward(self, grad):
        # Output dim i was input dim dims[i]; the inverse permutation lists, for each input dim, where it went.
        dims = self.dims
        return G.permute(grad, tuple(sorted(range(len(dims)), key=dims.__getitem__)))


def permute(x: Tensor, *dims: Any) -> Tensor:
    """Reorder the dims. Example: ``mg.ones(2, 3, 4).permute(2, 0, 1).shape`` -> (4, 2, 3)."""
    dims = _shape_arg(dims, "permute")
    if len(dims) != x.ndim:
        raise ShapeError(f"permute: got {len(dims)} dims {dims} for a tensor of shape {x.shape}")
    normalized = tuple(_dim("permute", d, x.ndim) for d in dims)
    if sorted(normalized) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {dims} must be a permutation of 0..{x.ndim - 1}")
    return Permute.apply(x, dims=normalized)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims. Example: ``mg.ones(2, 3).transpose(0, 1).shape`` -> (3, 2)."""
    a, b = _dim("transpose", dim0, x.ndim), _dim("transpose", dim1, x.ndim)
    if x.ndim == 0:
        return x
    order = list(range(x.ndim))
    order[a], order[b] = order[b], order[a]
    return Permute.apply(x, dims=tuple(order))


def t(x: Tensor) -> Tensor:
    """Transpose of a matrix (0-d and 1-d tensors are returned as they are)."""
    if x.ndim > 2:
        raise ShapeError(f"t: expects a tensor with <= 2 dimensions, got shape {x.shape}; use transpose()")
    return transpose(x, 0, 1) if x.ndim == 2 else x


def T(x: Tensor) -> Tensor:  # noqa: N802 - PyTorch's name
    """All dims reversed (``x.T``)."""
    return Permute.apply(x, dims=tuple(reversed(range(x.ndim)))) if x.ndim > 1 else x


# ----------------------------------------------------------------------------------- expand


class Expand(Function):
    computes = False  # moves values only

    def forward(self, x):
        return np.broadcast_to(x, self.shape)

    def backward(self, grad):
        return grad  # the engine's sum_to_shape undoes the broadcast


def expand(x: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to a bigger shape without copying (-1 keeps a size). Example: ``mg.ones(3, 1).expand(3, 4)``."""
    sizes = _shape_arg(sizes, "expand")
    if len(sizes) < x.ndim:
        raise ShapeError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's "
                         f"dims ({x.ndim}); shape {x.shape}, sizes {sizes}")
    lead = len(sizes) - x.ndim
    target = list(sizes)
    for i, n in enumerate(x.shape):
        s = sizes[lead + i]
        if s == -1:
            target[lead + i] = n
        elif n != 1 and s != n:
            raise ShapeError(f"expand: the size of dimension {i} ({n}) must match {s} or be 1; "
                             f"shape {x.shape}, sizes {sizes}")
    if any(s < 0 for s in target):
        raise ShapeError(f"expand: -1 is not allowed for new leading dimensions; sizes {sizes}")
    return Expand.apply(x, shape=tuple(target))


# ----------------------------------------------------------------------------------- cat, stack, split


class Cat(Function):
    computes = False  # moves values only

    def forward(self, *xs):
        try:
            joined = np.concatenate(xs, axis=self.dim)
        except ValueError:  # NumPy refuses exactly what `cat` must: sizes that differ outside `dim`
            raise _cat_shape_error(xs, self.dim) from None
        return joined

    def backward(self, grad):
        sizes = [shape[self.dim] for shape, _ in self.input_meta]  # each input's size along dim
        return G.split(grad, sizes, self.dim)


class Stack(Function):
    computes = False  # moves values only

    def forward(self, *xs):
        shape = xs[0].shape[:self.dim] + (1,) + xs[0].shape[self.dim:]  # (np.stack, less its Python)
        return np.concatenate([x.reshape(shape) for x in xs], axis=self.dim)

    def backward(self, grad):
        return tuple(G.select(grad, i, self.dim) for i in range(grad.shape[self.dim]))


def _same_dtype(op: str, tensors: Sequence[Any]) -> Sequence[Tensor]:
    """The tensors of a cat/stack, promoted to one dtype."""
    if isinstance(tensors, Tensor) or not len(tensors):
        raise TypeError(f"{op}: expected a non-empty list or tuple of tensors")
    ts = tensors if type(tensors) is tuple else tuple(tensors)
    dt = None
    mixed = False
    for x in ts:  # one pass: every item a Tensor, and do their dtypes differ?
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: expected a list of Tensors, found a {type(x).__name__}")
        if dt is None:
            dt = x._array.dtype
        elif x._array.dtype is not dt and x._array.dtype != dt:
            mixed = True
    if not mixed:  # the common case: nothing to promote
        return ts
    dt = result_type(*ts)
    return [as_tensor(x, dt, op) for x in ts]


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim. Example: ``mg.cat([mg.ones(2), mg.zeros(3)]).shape`` -> (5,).

    Sizes that differ outside ``dim`` are found by ``np.concatenate`` itself (``Cat.forward``), so
    the common case pays for no second check; the error then names the tensor that does not fit.
    """
    ts = _same_dtype("cat", tensors)
    ndim = ts[0]._array.ndim
    if not ndim:
        raise ShapeError("cat: zero-dimensional tensors cannot be concatenated; use mg.stack")
    if type(dim) is not int or not 0 <= dim < ndim:  # (a valid non-negative int, the usual, as it is)
        dim = _dim("cat", dim, ndim)
    return Cat.apply(*ts, dim=dim)


def _cat_shape_error(arrays: Sequence[np.ndarray], d: int) -> ShapeError:
    """The error for arrays that cannot be joined along ``d``: the first one whose other sizes differ."""
    shape = arrays[0].shape
    for i, a in enumerate(arrays):
        s = a.shape
        if len(s) != len(shape) or s[:d] != shape[:d] or s[d + 1:] != shape[d + 1:]:
            return ShapeError(f"cat: tensor {i} has shape {s} but tensor 0 has shape {shape}; all sizes must "
                              f"match except in dimension {d}")
    return ShapeError(f"cat: cannot join shapes {[a.shape for a in arrays]} along dimension {d}")


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim. Example: ``mg.stack([mg.ones(2), mg.zeros(2)]).shape`` -> (2, 2)."""
    ts = _same_dtype("stack", tensors)
    for i, x in enumerate(ts):
        if x.shape != ts[0].shape:
            raise ShapeError(f"stack: expects each tensor to be equal size, but tensor 0 has shape "
                             f"{ts[0].shape} and tensor {i} has shape {x.shape}")
    return Stack.apply(*ts, dim=_dim("stack", dim, ts[0].ndim + 1))


class Split(Function):
    computes = False  # moves values only
    is_view = True

    def forward(self, x):
        index = [slice(None)] * x.ndim  # plain slices, not np.split: its Python outweighs a small array's work
        pieces, start = [], 0
        for size in self.sizes:
            index[self.dim] = slice(start, start + size)
            pieces.append(x[tuple(index)])
            start += size
        return tuple(pieces)

    def backward(self, *grads):
        like = next((g for g in grads if g is not None), None)
        parts = [g if g is not None else G.zeros(self.part_shape(i), self.dtype, like) for i, g in enumerate(grads)]
        return G.concatenate(parts, self.dim)

    def part_shape(self, i: int) -> tuple[int, ...]:
        shape = list(self.input_shape)
        shape[self.dim] = self.sizes[i]
        return tuple(shape)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into pieces of a given size (the last may be smaller) or of the listed sizes.

    Example: ``[p.shape for p in mg.ones(5).split(2)]`` -> [(2,), (2,), (1,)].
    """
    d = _dim("split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)) and not isinstance(split_size_or_sections, bool):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        sizes = sizes or [0]
    elif isinstance(split_size_or_sections, (list, tuple)) and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in split_size_or_sections):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(f"split: sections {sizes} must be non-negative and sum to {n}, the size of "
                             f"dimension {d} of shape {x.shape}")
    else:
        raise TypeError(f"split: split_size_or_sections must be an int or a list of ints, got "
                        f"{split_size_or_sections!r}")
    return Split.apply(x, sizes=sizes, dim=d, input_shape=x.shape, dtype=x.dtype)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Cut into ``chunks`` nearly equal pieces (PyTorch's rule: size ceil(n / chunks)).

    Example: ``[p.shape for p in mg.ones(5).chunk(2)]`` -> [(3,), (2,)].
    """
    if not isinstance(chunks, (int, np.integer)) or isinstance(chunks, bool):
        raise TypeError(f"chunk: chunks must be an int, got {chunks!r} ({type(chunks).__name__})")
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[_dim("chunk", dim, x.ndim)]
    if n == 0:  # PyTorch gives `chunks` empty pieces
        return split(x, [0] * chunks, dim)
    return split(x, max(-(-n // chunks), 1), dim)
