"""The few functions a backward formula needs, for both kinds of numbers a backward receives.

Normally gradients are NumPy arrays (the fast path). Under ``create_graph=True`` they are
Tensors, and the same formula must build a graph. Arithmetic (``grad * y``) already works on
both; for the rest, an op's backward calls these, and each does the NumPy thing for an array
and the differentiable Tensor op for a Tensor. So each backward is written once.

Example::

    >>> import numpy as np
    >>> import minigrad as mg
    >>> expand_dims(np.ones(3), (0,)).shape
    (1, 3)
    >>> x = mg.ones(3, requires_grad=True)
    >>> expand_dims(x, (0,))                    # the same call, recorded in the graph
    tensor([[1., 1., 1.]], grad_fn=<ReshapeBackward>)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from minigrad.kernels import activations, smooth_activations
from minigrad.tensor import Tensor


def values(x: Any) -> Any:
    """The numbers of ``x`` as an array: for masks and other constants of a backward formula.

    Example: ``values(mg.ones(2)).tolist()`` -> [1.0, 1.0].
    """
    return x._array if isinstance(x, Tensor) else x


def where(condition: Any, a: Any, b: Any) -> Any:
    """``a`` where ``condition`` (an array of bools, a constant), else ``b``.

    Example: ``where(np.array([True, False]), np.ones(2), 0.0).tolist()`` -> [1.0, 0.0].
    """
    condition = values(condition)
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        from minigrad.ops.elementwise import where as tensor_where

        return tensor_where(condition, a, b)
    if type(condition) is np.ndarray and condition.size >= SELECT_BITS_MIN_SIZE and _selectable(condition, a, b):
        return _select_bits(condition, a, b)
    return np.where(condition, a, b)


# From this many elements `where` selects with bit masks (_select_bits) instead of np.where.
SELECT_BITS_MIN_SIZE = 4096


def _selectable(condition: np.ndarray, a: Any, b: Any) -> bool:
    """Whether ``_select_bits`` can compute ``np.where(condition, a, b)``: each of ``a`` and ``b`` a
    float array of the condition's shape (both of one dtype) or the number +0."""
    if condition.dtype != np.bool_:
        return False
    arrays = [v for v in (a, b) if type(v) is np.ndarray]
    if not arrays or not (len(arrays) == 2 or _is_plus_zero(a) or _is_plus_zero(b)):
        return False
    dtype = arrays[0].dtype
    return dtype.kind == "f" and all(v.dtype == dtype and v.shape == condition.shape for v in arrays)


def _is_plus_zero(v: Any) -> bool:
    return type(v) in (int, float) and v == 0 and math.copysign(1.0, v) > 0


def _select_bits(condition: np.ndarray, a: Any, b: Any) -> np.ndarray:
    """``np.where(condition, a, b)`` without a branch per element (``_selectable`` says when).

    NumPy's ``where`` branches on every element, and a mask like a ReLU's (half its units on, at
    random) sends the CPU down the wrong branch half of the time. Here the floats' bits are
    combined with a word of all ones where ``condition`` holds and all zeros elsewhere: the same
    values bit for bit, infs and NaNs included (``a * condition`` would turn a dropped inf into NaN).
    """
    dtype = a.dtype if type(a) is np.ndarray else b.dtype
    word = np.dtype(f"i{dtype.itemsize}")  # an integer as wide as the floats
    mask = condition.astype(word)
    np.negative(mask, out=mask)  # True: -1, all bits set; False: 0
    if type(b) is not np.ndarray:  # b is +0.0, whose bits are all zeros
        return np.bitwise_and(a.view(word), mask, out=mask).view(dtype)
    b_bits = b.view(word)
    if type(a) is not np.ndarray:  # a is +0.0
        return np.bitwise_and(b_bits, np.invert(mask, out=mask), out=mask).view(dtype)
    mask &= np.bitwise_xor(a.view(word), b_bits)  # b ^ ((a ^ b) & mask): a where True, b where False
    mask ^= b_bits
    return mask.view(dtype)


def exp(x: Any) -> Any:
    """e ** x. Example: ``exp(np.zeros(1)).tolist()`` -> [1.0]."""
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def log(x: Any) -> Any:
    """Natural logarithm. Example: ``log(np.ones(1)).tolist()`` -> [0.0]."""
    return x.log() if isinstance(x, Tensor) else np.log(x)


def sin(x: Any) -> Any:
    """Sine. Example: ``sin(np.zeros(1)).tolist()`` -> [0.0]."""
    return x.sin() if isinstance(x, Tensor) else np.sin(x)


def cos(x: Any) -> Any:
    """Cosine. Example: ``cos(np.zeros(1)).tolist()`` -> [1.0]."""
    return x.cos() if isinstance(x, Tensor) else np.cos(x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)). Example: ``sigmoid(np.zeros(1)).tolist()`` -> [0.5].

    Arrays go to ``kernels/activations.py`` (one pass; ``sigmoid(-inf) = 0``, ``sigmoid(inf) = 1``).
    Half precision is computed in float32 and rounded once, as PyTorch computes it, so that ``exp``
    does not overflow at x = -12.
    """
    if isinstance(x, Tensor):
        return x.sigmoid()
    if x.dtype.itemsize < 4:
        return sigmoid(x.astype(np.float32)).astype(x.dtype)
    return activations.sigmoid(x)  # one pass over memory (a kernel) where it can, NumPy's four passes elsewhere


def sigmoid_grad(grad: Any, y: Any) -> Any:
    """``grad * (1 - y) * y``: the gradient of sigmoid at the input whose output was ``y``.

    Arrays in one pass where they can (``kernels/activations.py``); Tensors (``create_graph``) by
    the same line, recorded. Example: ``sigmoid_grad(np.ones(1), np.array([0.5])).tolist()`` -> [0.25].
    """
    if type(grad) is np.ndarray and type(y) is np.ndarray:
        return activations.sigmoid_backward(grad, y)
    return grad * (1 - y) * y


def relu_grad(grad: Any, y: Any) -> Any:
    """``0 if y <= 0 else grad``: the gradient of ReLU at the input whose output was ``y``.

    A choice, not a product: an inf gradient where the unit is off gives 0, not NaN; where ``y``
    is NaN the gradient passes, as in PyTorch. Arrays by ``kernels/activations.py``; Tensors
    (``create_graph``) by ``where``, recorded. Example: ``relu_grad(np.ones(2), np.array([0.0, 3.0])).tolist()``
    -> [0.0, 1.0].
    """
    if type(grad) is np.ndarray and type(y) is np.ndarray:
        return activations.relu_backward(grad, y)
    return where(values(y) <= 0, 0.0, grad)


def tanh_grad(grad: Any, y: Any) -> Any:
    """``grad * (1 - y * y)``: the gradient of tanh at the input whose output was ``y``.

    Arrays in one pass where they can (``kernels/activations.py``); Tensors (``create_graph``) by
    the same line, recorded. Example: ``tanh_grad(np.ones(1), np.array([0.5])).tolist()`` -> [0.75].
    """
    if type(grad) is np.ndarray and type(y) is np.ndarray:
        return activations.tanh_backward(grad, y)
    return grad * (1 - y * y)


def softplus(x: Any) -> Any:
    """log(1 + exp(x)), as ``log1p(exp(-|x|)) + max(x, 0)``: ``exp`` of a number <= 0 never overflows.

    float32/float64 arrays in one pass (``kernels/smooth_activations.py``). Example:
    ``softplus(np.zeros(1)).tolist()`` -> [0.6931471805599453].
    """
    if isinstance(x, Tensor):
        from minigrad.ops.elementwise import softplus as tensor_softplus

        return tensor_softplus(x, threshold=math.inf)
    if x.dtype in activations.KERNEL_DTYPES and x.ndim:
        return smooth_activations.softplus(x, 1.0, math.inf)
    y = np.abs(x, out=np.empty_like(x))  # in one new array (`out`: an array even when x is 0-d)
    np.negative(y, out=y)
    np.exp(y, out=y)
    np.log1p(y, out=y)
    y += np.maximum(x, 0)
    return y


def sum(x: Any, dims: int | tuple[int, ...] | None, keepdims: bool = False) -> Any:  # noqa: A001
    """Sum over ``dims`` (None: all). Example: ``sum(np.ones((2, 3)), 1).tolist()`` -> [3.0, 3.0]."""
    if isinstance(x, Tensor):
        return x.sum(dims, keepdim=keepdims)
    return x.sum(axis=dims, keepdims=keepdims)


def mean(x: Any, dims: int | tuple[int, ...] | None, keepdims: bool = False) -> Any:
    """Mean over ``dims`` (None: all). Example: ``mean(np.ones((2, 3)), 1).tolist()`` -> [1.0, 1.0]."""
    if isinstance(x, Tensor):
        return x.mean(dims, keepdim=keepdims)
    return x.mean(axis=dims, keepdims=keepdims)


def expand_dims(x: Any, dims: Sequence[int]) -> Any:
    """Insert size-1 dims at the (sorted, non-negative) positions ``dims`` of the result.

    Example: ``expand_dims(np.ones((2, 3)), (0, 2)).shape`` -> (1, 2, 1, 3).
    """
    shape = list(x.shape)
    for d in sorted(dims):
        shape.insert(d, 1)
    return x.reshape(tuple(shape))


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    """``x`` repeated along its size-1 dims to ``shape``. Example: ``broadcast_to(np.ones(1), (3,)).shape`` -> (3,)."""
    if isinstance(x, Tensor):
        return x if x.shape == tuple(shape) else x.expand(*shape)
    return np.broadcast_to(x, shape)


def permute(x: Any, axes: Sequence[int]) -> Any:
    """The dims of ``x`` in the order ``axes``. Example: ``permute(np.ones((2, 3)), (1, 0)).shape`` -> (3, 2)."""
    return x.permute(*axes) if isinstance(x, Tensor) else x.transpose(axes)


def concatenate(parts: Sequence[Any], dim: int) -> Any:
    """Join along ``dim``. Example: ``concatenate([np.ones(2), np.zeros(1)], 0).tolist()`` -> [1.0, 1.0, 0.0]."""
    if any(isinstance(p, Tensor) for p in parts):
        from minigrad.ops.shape import cat

        return cat([p if isinstance(p, Tensor) else Tensor(p) for p in parts], dim)
    return np.concatenate(parts, axis=dim)


def split(x: Any, sizes: Sequence[int], dim: int) -> tuple:
    """Cut ``x`` along ``dim`` into pieces of ``sizes``.

    Example: ``[p.shape for p in split(np.ones(3), [1, 2], 0)]`` -> [(1,), (2,)].
    """
    if isinstance(x, Tensor):
        return tuple(x.split(list(sizes), dim))
    pieces, start, before = [], 0, (slice(None),) * (dim % x.ndim)
    for size in sizes:  # plain slices: views, as np.split gives, without its bookkeeping
        pieces.append(x[(*before, slice(start, start + size))])
        start += size
    return tuple(pieces)


def select(x: Any, index: int, dim: int) -> Any:
    """The slice ``index`` of dim ``dim`` (that dim removed).

    Example: ``select(np.eye(2), 1, 0).tolist()`` -> [0.0, 1.0].
    """
    return x[(slice(None),) * (dim % x.ndim) + (index,)]  # a view of an array, as split's pieces (np.take copies)


def zeros_like(x: Any) -> Any:
    """Zeros of ``x``'s shape and dtype, of ``x``'s kind (a constant). Example: ``zeros_like(np.ones(2)).tolist()``."""
    zeros = np.zeros_like(values(x))
    return Tensor(zeros) if isinstance(x, Tensor) else zeros


def zeros(shape: tuple[int, ...], dtype: np.dtype, like: Any) -> Any:
    """Zeros of ``shape``, a Tensor if ``like`` is one. Example: ``zeros((2,), np.float64, np.ones(1)).tolist()``."""
    array = np.zeros(shape, dtype=dtype)
    return Tensor(array) if isinstance(like, Tensor) else array
