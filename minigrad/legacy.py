"""PyTorch's legacy names, which old tutorials still use: ``FloatTensor``, ``LongTensor``, ``Variable``.

``torch.FloatTensor(2, 3)`` makes a float32 tensor of that shape, ``torch.LongTensor([1, 2])`` an
int64 tensor from data; ``isinstance(t, torch.LongTensor)`` and ``t.type(torch.LongTensor)`` treat
them as types. ``autograd.Variable(t)`` has been the tensor itself since PyTorch 0.4.

Example::

    >>> import minigrad as mg
    >>> mg.LongTensor([1, 2]), mg.FloatTensor(2).shape
    (tensor([1, 2]), (2,))
    >>> isinstance(mg.zeros(1), mg.FloatTensor), mg.zeros(1).type()
    (True, 'torch.FloatTensor')
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.dtypes import to_dtype
from minigrad.tensor import Tensor, as_array

_TYPE_NAMES = {
    np.dtype(np.float32): "FloatTensor", np.dtype(np.float64): "DoubleTensor", np.dtype(np.float16): "HalfTensor",
    np.dtype(np.int64): "LongTensor", np.dtype(np.int32): "IntTensor", np.dtype(np.int16): "ShortTensor",
    np.dtype(np.int8): "CharTensor", np.dtype(np.uint8): "ByteTensor", np.dtype(np.bool_): "BoolTensor",
}


def type_name(dtype: np.dtype) -> str:
    """PyTorch's name for a CPU tensor of this dtype, e.g. 'torch.FloatTensor'."""
    return f"torch.{_TYPE_NAMES[np.dtype(dtype)]}"


def dtype_of(kind: Any) -> np.dtype:
    """The dtype meant by ``t.type(kind)``: a legacy type, its name ('torch.LongTensor'), or a dtype."""
    if isinstance(kind, LegacyTensorType):
        return kind.dtype
    if isinstance(kind, str) and kind.startswith("torch."):
        for dtype, name in _TYPE_NAMES.items():
            if kind == f"torch.{name}":
                return dtype
        raise ValueError(f"type: invalid type {kind!r}")
    return to_dtype(kind)


class LegacyTensorType(type):
    """The metaclass that makes ``isinstance(t, mg.LongTensor)`` check the dtype, as PyTorch does."""

    dtype: np.dtype

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype

    def __call__(cls, *args: Any, **kwargs: Any) -> Tensor:
        return make(cls.dtype, args, kwargs, cls.__name__)

    def __repr__(cls) -> str:
        return f"<class 'minigrad.{cls.__name__}'>"


def make(dtype: np.dtype, args: tuple, kwargs: dict, who: str) -> Tensor:
    """``Kind(*sizes)``: zeros of that shape; ``Kind(data)``: a copy of the data in this dtype; ``Kind()``: empty."""
    from minigrad.devices import check_device

    check_device(kwargs.pop("device", None), who)
    requires_grad = bool(kwargs.pop("requires_grad", False))
    if kwargs:
        raise TypeError(f"{who}: unexpected keyword arguments {sorted(kwargs)}")
    if all(isinstance(a, (int, np.integer)) and not isinstance(a, (bool, np.bool_)) for a in args):
        if any(a < 0 for a in args):
            raise RuntimeError(f"{who}: negative dimension in size {args}")
        made = Tensor(np.zeros(tuple(int(a) for a in args), dtype=dtype))
    elif len(args) == 1:
        source = args[0]
        made = Tensor(np.array(source._array if isinstance(source, Tensor) else as_array(source), dtype=dtype))
    else:
        raise TypeError(f"{who}: expected sizes (ints) or one sequence of data, got {args!r}")
    return made.requires_grad_() if requires_grad else made


class PublicTensorType(type):
    """The type of ``mg.Tensor``, the name users see: PyTorch's ``torch.Tensor``.

    ``isinstance(x, mg.Tensor)`` and ``mg.Tensor.add`` answer for minigrad's one Tensor class
    (minigrad/tensor.py), while *calling* ``mg.Tensor(...)`` is PyTorch's legacy constructor:
    ``mg.Tensor(2, 3)`` is a float tensor of that shape, ``mg.Tensor(data)`` a copy of the data in
    the default float dtype (an ndarray of float64 or ints too, as ``torch.Tensor(ndarray)`` does).
    To wrap an ndarray without copying, use ``mg.from_numpy``.
    """

    def __instancecheck__(cls, obj: Any) -> bool:
        return isinstance(obj, Tensor)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return issubclass(subclass, Tensor)

    def __call__(cls, *args: Any, **kwargs: Any) -> Tensor:
        from minigrad.dtypes import get_default_dtype

        return make(get_default_dtype(), args, kwargs, "Tensor")

    def __getattr__(cls, name: str) -> Any:
        return getattr(Tensor, name)

    def __repr__(cls) -> str:
        return "<class 'minigrad.Tensor'>"


class PublicTensor(metaclass=PublicTensorType):
    """``mg.Tensor``: see ``PublicTensorType``.

    Example::

        >>> import numpy as np, minigrad as mg
        >>> mg.Tensor(2, 3).shape, mg.Tensor(np.zeros(2)).dtype, isinstance(mg.ones(1), mg.Tensor)
        ((2, 3), dtype('float32'), True)
    """


def _legacy_type(name: str, dtype: Any) -> LegacyTensorType:
    doc = f"{name}: PyTorch's legacy name for {np.dtype(dtype)} tensors"
    return LegacyTensorType(name, (), {"dtype": np.dtype(dtype), "__doc__": doc})


FloatTensor = _legacy_type("FloatTensor", np.float32)
DoubleTensor = _legacy_type("DoubleTensor", np.float64)
HalfTensor = _legacy_type("HalfTensor", np.float16)
LongTensor = _legacy_type("LongTensor", np.int64)
IntTensor = _legacy_type("IntTensor", np.int32)
ShortTensor = _legacy_type("ShortTensor", np.int16)
CharTensor = _legacy_type("CharTensor", np.int8)
ByteTensor = _legacy_type("ByteTensor", np.uint8)
BoolTensor = _legacy_type("BoolTensor", np.bool_)


def Variable(data: Any, requires_grad: bool = False, volatile: bool = False) -> Tensor:  # noqa: N802
    """``autograd.Variable(t)``: since PyTorch 0.4 this is the tensor itself (``requires_grad`` honoured).

    Example::

        >>> import minigrad as mg
        >>> x = mg.ones(2)
        >>> mg.autograd.Variable(x) is x, mg.autograd.Variable(x, requires_grad=True).requires_grad
        (True, True)
    """
    tensor = data if isinstance(data, Tensor) else Tensor(as_array(data))
    if requires_grad and not tensor.requires_grad:
        tensor.requires_grad_(True)
    return tensor
