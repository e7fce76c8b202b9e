"""Products of vectors: ``dot``, ``mv`` (matrix times vector) and ``outer``, as ``matmul`` (``linalg.py``)
or a broadcast product, with the shape checks PyTorch makes for each."""

from __future__ import annotations

from typing import Any

from minigrad.errors import ShapeError
from minigrad.ops.elementwise import promote
from minigrad.ops.linalg import _same_dtype, matmul
from minigrad.tensor import Tensor


def dot(a: Tensor, b: Tensor) -> Tensor:
    """The dot product of two 1-D tensors of the same size (a 0-d tensor).

    Example::

        >>> import minigrad as mg
        >>> mg.dot(mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0]))
        tensor(11.)
    """
    a, b = _same_dtype("dot", a, b)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ShapeError(f"dot: expected two 1-D tensors of the same size, got shapes {a.shape} and {b.shape}")
    return matmul(a, b)


def mv(a: Tensor, v: Tensor) -> Tensor:
    """Matrix times vector: (n, k) @ (k,) -> (n,).

    Example::

        >>> import minigrad as mg
        >>> mg.mv(mg.ones(2, 3), mg.ones(3))
        tensor([3., 3.])
    """
    a, v = _same_dtype("mv", a, v)
    if a.ndim != 2 or v.ndim != 1 or a.shape[1] != v.shape[0]:
        raise ShapeError(f"mv: expected a matrix (n, k) and a vector (k,), got shapes {a.shape} and {v.shape}")
    return matmul(a, v)


def outer(input: Any, vec2: Any) -> Tensor:
    """The outer product of two vectors: ``out[i, j] = input[i] * vec2[j]``.

    Example: ``mg.outer(mg.tensor([1.0, 2.0]), mg.tensor([3.0, 4.0]))`` -> tensor([[3., 4.], [6., 8.]]).
    """
    a, b = promote("outer", input, vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise ShapeError(f"outer: expected two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


ger = outer  # PyTorch's older name
