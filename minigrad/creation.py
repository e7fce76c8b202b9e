"""Making tensors: from data, filled with a value, or random (from the library's seeded rng)."""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.random import rng
from minigrad.tensor import Tensor, as_array


def _size(size: tuple, op: str = "tensor") -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 0:
            raise ValueError(f"{op}: size must be non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else to_dtype(dtype)


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays, tensors).

    Python floats give float32 (the default dtype), ints int64, bools bool; arrays keep their dtype.

    Example::

        >>> import minigrad as mg
        >>> mg.tensor([[1.0, 2.0]], requires_grad=True)
        tensor([[1., 2.]], requires_grad=True)
    """
    arr = np.array(as_array(data, dtype), copy=True)
    return Tensor(arr, requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros. Example: ``mg.zeros(2, 3).shape`` -> (2, 3)."""
    return Tensor(np.zeros(_size(size, "zeros"), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones. Example: ``mg.ones(3)`` -> tensor([1., 1., 1.])."""
    return Tensor(np.ones(_size(size, "ones"), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor (its values are whatever was in memory)."""
    return Tensor(np.empty(_size(size, "empty"), dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def full(size: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with one value; the dtype follows the value like PyTorch.

    Example: ``mg.full((2,), 7)`` -> tensor([7, 7]).
    """
    if dtype is None:
        dtype = as_array(fill_value).dtype
    return Tensor(np.full(_size((size,) if isinstance(size, int) else (size,), "full"), fill_value,
                          dtype=to_dtype(dtype)), requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype) of ``t``."""
    return Tensor(np.zeros(t.shape, dtype=to_dtype(dtype) if dtype else t.dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype) of ``t``."""
    return Tensor(np.ones(t.shape, dtype=to_dtype(dtype) if dtype else t.dtype), requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` with the shape (and dtype) of ``t``."""
    return Tensor(np.full(t.shape, fill_value, dtype=to_dtype(dtype) if dtype else t.dtype),
                  requires_grad=requires_grad)


def randn(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the library's seeded generator (see ``mg.manual_seed``)."""
    dt = _float_dtype(dtype)
    return Tensor(rng().standard_normal(_size(size, "randn")).astype(dt), requires_grad=requires_grad)


def rand(*size: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the library's seeded generator."""
    dt = _float_dtype(dtype)
    return Tensor(rng().random(_size(size, "rand")).astype(dt), requires_grad=requires_grad)


def randint(low: int, high: int | None = None, size: Any = (), dtype: Any = None) -> Tensor:
    """Random integers in [low, high) (or [0, low) with one bound), int64 by default."""
    if high is None:
        low, high = 0, low
    if not low < high:
        raise ValueError(f"randint: low ({low}) must be smaller than high ({high}): the range [low, high) is empty")
    return Tensor(rng().integers(low, high, size=_size((size,) if isinstance(size, int) else (size,), "randint"))
                  .astype(to_dtype(dtype) if dtype else np.int64))


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end). Integers give int64, floats the default float dtype.

    Example: ``mg.arange(3)`` -> tensor([0, 1, 2]).
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        is_float = any(isinstance(v, float) for v in (start, end, step))
        dtype = get_default_dtype() if is_float else np.int64
    return Tensor(np.arange(start, end, step).astype(to_dtype(dtype)), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``steps`` values from start to end inclusive."""
    if not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    return Tensor(np.linspace(start, end, steps).astype(_float_dtype(dtype)), requires_grad=requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix."""
    _size((n,) if m is None else (n, m), "eye")
    return Tensor(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad=requires_grad)


def from_numpy(a: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying (like ``torch.from_numpy``)."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(a).__name__}")
    return Tensor(as_array(a))
