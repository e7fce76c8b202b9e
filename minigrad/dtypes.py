"""Data types and PyTorch's type-promotion rules.

A minigrad dtype *is* a NumPy dtype (``mg.float32 == np.dtype('float32')``): nothing new to learn.
Floating tensors default to float32, integer data stays integer (indices, class targets).

PyTorch's promotion, which we follow:
- the result's *category* is the highest among operands: bool < integer < floating;
- within that category, tensors with dimensions win over 0-d tensors, and both win over Python
  scalars: ``float32_tensor * 2.5`` stays float32, ``int64_tensor * 2.5`` becomes the default
  float dtype, ``float32_vector + float64_scalar_tensor`` stays float32.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int8 = np.dtype(np.int8)
int16 = np.dtype(np.int16)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)
float = float32  # noqa: A001 - PyTorch's aliases: mg.float, mg.double, mg.long
double = float64
long = int64

_default = {"dtype": float32}


def get_default_dtype() -> np.dtype:
    """The floating dtype for new tensors made from Python floats (float32 unless changed)."""
    return _default["dtype"]


def set_default_dtype(dtype: Any) -> None:
    """Set the default floating dtype (float32 or float64).

    Example::

        >>> import minigrad as mg
        >>> mg.set_default_dtype(mg.float64); mg.tensor([1.0]).dtype
        dtype('float64')
        >>> mg.set_default_dtype(mg.float32)
    """
    d = np.dtype(dtype)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {d}")
    _default["dtype"] = d


def to_dtype(dtype: Any) -> np.dtype:
    """Accept mg/NumPy dtypes, their names ('float32') and Python types (float, int, bool)."""
    if dtype is builtins.float:
        return get_default_dtype()
    if dtype is int:
        return int64
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; use mg.float32, mg.float64, mg.int64 or mg.bool_") from None


def _category(d: np.dtype) -> int:
    return 2 if d.kind == "f" else 1 if d.kind in "iu" else 0


def result_type(*operands: Any) -> np.dtype:
    """The dtype PyTorch gives an op on these operands (Tensors, arrays or Python scalars).

    Example::

        >>> import minigrad as mg
        >>> result_type(mg.ones(2), 2.5), result_type(mg.tensor([1, 2]), 2.5)
        (dtype('float32'), dtype('float32'))
        >>> result_type(mg.ones(2), mg.ones(2, dtype=mg.float64))
        dtype('float64')
    """
    # Three priority classes: dimensioned tensors, 0-d tensors, Python scalars.
    dims: list[np.dtype] = []
    zero_dims: list[np.dtype] = []
    scalars: list[np.dtype] = []
    for x in operands:
        data = x if isinstance(x, np.ndarray) else getattr(x, "_array", x)  # a Tensor's own array
        if isinstance(data, np.ndarray):
            (dims if data.ndim else zero_dims).append(data.dtype)
        elif isinstance(x, bool):
            scalars.append(bool_)
        elif isinstance(x, int):
            scalars.append(int64)
        elif isinstance(x, builtins.float):
            scalars.append(get_default_dtype())
        elif isinstance(x, np.generic):
            zero_dims.append(x.dtype)
        else:
            raise TypeError(f"unsupported operand type {type(x).__name__}")
    top = max(_category(d) for d in dims + zero_dims + scalars)
    for group in (dims, zero_dims):
        same = [d for d in group if _category(d) == top]
        if same:
            return np.result_type(*same)
    return get_default_dtype() if top == 2 else int64 if top == 1 else bool_
