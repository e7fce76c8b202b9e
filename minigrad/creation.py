"""Making tensors: from data, filled with a value, shaped like another tensor, or random.

Every function takes PyTorch's keywords: ``dtype=``, ``requires_grad=`` and ``device=`` (minigrad
runs on the CPU: ``None``, ``'cpu'`` and ``mg.device('cpu')`` are accepted, anything else is refused
clearly). ``out=`` is refused too: minigrad always returns a new tensor. Random functions draw from
the library's seeded generator (``mg.manual_seed``) or from ``generator=`` when given: they are
in ``sampling.py``.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from minigrad import devices
from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.tensor import Tensor, as_array

# ----------------------------------------------------------------------------------- common checks


def check_device(op: str, device: Any) -> None:
    """Accept the CPU in any spelling (None, 'cpu', 'cpu:0', mg.device('cpu')); refuse the rest clearly."""
    if isinstance(device, (str, int)) and not isinstance(device, bool) and str(device).partition(":")[0] != "cpu":
        devices.raise_not_cpu(device, op)  # the error names the function that was asked, e.g. zeros
    devices.check_device(device, op)


def _refuse_out(op: str, out: Any) -> None:
    if out is not None:
        raise TypeError(f"{op}: the out= argument is not supported by minigrad; use the returned tensor instead")


def make(op: str, arr: np.ndarray, requires_grad: bool, device: Any, out: Any = None) -> Tensor:
    check_device(op, device)
    _refuse_out(op, out)
    return Tensor(arr, requires_grad=requires_grad)


def size_arg(size: tuple, op: str = "tensor") -> tuple[int, ...]:
    """Sizes given as ``f(2, 3)``, ``f((2, 3))`` or ``f([2, 3])``, as non-negative ints."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        try:
            if isinstance(s, (bool, float)):
                raise TypeError
            n = operator.index(s)  # ints, NumPy ints and 0-d integer tensors
        except TypeError:
            raise TypeError(f"{op}: size must be a tuple of ints, got {size!r}") from None
        if n < 0:
            raise ValueError(f"{op}: size must be non-negative ints, got {size!r}")
        out.append(int(n))
    return tuple(out)


def sizes(op: str, size: tuple, size_kw: Any) -> tuple[int, ...]:
    """The size of ``op(*size)`` or ``op(size=...)``; ``op()`` alone is refused as in PyTorch (use ``op(())``)."""
    if size_kw is not None:
        if size:
            raise TypeError(f"{op}: give the size either as arguments or as size=, not both")
        size = (size_kw,) if isinstance(size_kw, (tuple, list)) else (size_kw,)
    if not size:
        raise TypeError(f"{op}: missing the size (e.g. {op}(2, 3)); a 0-d tensor is {op}(())")
    return size_arg(size, op)


def float_dtype(dtype: Any) -> np.dtype:
    return get_default_dtype() if dtype is None else to_dtype(dtype)


def tensor_arg(op: str, t: Any) -> Tensor:
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(t).__name__}")
    return t


# ----------------------------------------------------------------------------------- from data


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays, tensors).

    Python floats give float32 (the default dtype), ints int64, bools bool; arrays keep their dtype.

    Example::

        >>> import minigrad as mg
        >>> mg.tensor([[1.0, 2.0]], requires_grad=True)
        tensor([[1., 2.]], requires_grad=True)
    """
    arr = np.array(as_array(data, dtype), copy=True)
    return make("tensor", arr, requires_grad, device)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``data`` as a tensor, sharing memory when it can: an ndarray (or a tensor) of the right dtype
    is used as it is, anything else is converted (copied).

    Example::

        >>> import numpy as np, minigrad as mg
        >>> a = np.zeros(2)
        >>> t = mg.as_tensor(a); a[0] = 5.0; t
        tensor([5., 0.], dtype=float64)
    """
    check_device("as_tensor", device)
    if isinstance(data, Tensor):
        return data if dtype is None or data.dtype == to_dtype(dtype) else data.to(to_dtype(dtype))
    return Tensor(as_array(data, dtype))


def from_numpy(a: np.ndarray) -> Tensor:
    """Wrap an ndarray without copying: writes to one show in the other (like ``torch.from_numpy``).

    Example::

        >>> import numpy as np, minigrad as mg
        >>> a = np.arange(3)
        >>> t = mg.from_numpy(a); t[0] = 7; a
        array([7, 1, 2])
    """
    if not isinstance(a, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(a).__name__}")
    return Tensor(as_array(a))


def numel(t: Tensor) -> int:
    """The number of elements of ``t``.

    Example::

        >>> import minigrad as mg
        >>> mg.numel(mg.zeros(2, 3))
        6
    """
    return tensor_arg("numel", t).numel()


# ----------------------------------------------------------------------------------- filled


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, out: Any = None,
          **kw: Any) -> Tensor:
    """A tensor of zeros. Example: ``mg.zeros(2, 3).shape`` -> (2, 3)."""
    shape = sizes("zeros", size, kw.pop("size", None))
    _no_more("zeros", kw)
    return make("zeros", np.zeros(shape, dtype=float_dtype(dtype)), requires_grad, device, out)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, out: Any = None,
         **kw: Any) -> Tensor:
    """A tensor of ones. Example: ``mg.ones(3)`` -> tensor([1., 1., 1.])."""
    shape = sizes("ones", size, kw.pop("size", None))
    _no_more("ones", kw)
    return make("ones", np.ones(shape, dtype=float_dtype(dtype)), requires_grad, device, out)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, out: Any = None,
          **kw: Any) -> Tensor:
    """An uninitialised tensor (its values are whatever was in memory). Example: ``mg.empty(2).shape`` -> (2,)."""
    shape = sizes("empty", size, kw.pop("size", None))
    _no_more("empty", kw)
    return make("empty", np.empty(shape, dtype=float_dtype(dtype)), requires_grad, device, out)


def _no_more(op: str, kw: dict) -> None:
    kw.pop("layout", None), kw.pop("pin_memory", None), kw.pop("memory_format", None)  # meaningless on CPU
    if kw:
        raise TypeError(f"{op}: unexpected keyword argument(s) {sorted(kw)}")


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         out: Any = None) -> Tensor:
    """A tensor filled with one value; the dtype follows the value like PyTorch.

    Example: ``mg.full((2,), 7)`` -> tensor([7, 7]).
    """
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:
        dtype = as_array(fill_value).dtype
    shape = size_arg((size,) if isinstance(size, (int, np.integer)) else (size,), "full")
    return make("full", np.full(shape, fill_value, dtype=to_dtype(dtype)), requires_grad, device, out)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None, device: Any = None,
           requires_grad: bool = False, out: Any = None) -> Tensor:
    """Evenly spaced values in [start, end). Integers give int64, floats the default float dtype.

    Example: ``mg.arange(3)`` -> tensor([0, 1, 2]).
    """
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise ValueError(f"arange: upper bound and larger bound inconsistent with step sign "
                         f"(start={start}, end={end}, step={step})")
    if dtype is None:
        is_float = any(isinstance(v, (float, np.floating)) for v in (start, end, step))
        dtype = get_default_dtype() if is_float else np.int64
    return make("arange", np.arange(start, end, step).astype(to_dtype(dtype)), requires_grad, device, out)


def linspace(start: float, end: float, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False, out: Any = None) -> Tensor:
    """``steps`` values from start to end inclusive. Example: ``mg.linspace(0, 1, 3)`` -> tensor([0., 0.5, 1.])."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    arr = np.linspace(start, end, steps).astype(float_dtype(dtype))
    return make("linspace", arr, requires_grad, device, out)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
        out: Any = None) -> Tensor:
    """The identity matrix (n x m). Example: ``mg.eye(2)`` -> tensor([[1., 0.], [0., 1.]])."""
    size_arg((n,) if m is None else (n, m), "eye")
    return make("eye", np.eye(n, m, dtype=float_dtype(dtype)), requires_grad, device, out)


# ----------------------------------------------------------------------------------- shaped like a tensor


def like(op: str, t: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
    t = tensor_arg(op, t)
    return t.shape, t.dtype if dtype is None else to_dtype(dtype)


def zeros_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Zeros with the shape (and dtype) of ``t``. Example: ``mg.zeros_like(mg.ones(2))`` -> tensor([0., 0.])."""
    shape, dt = like("zeros_like", t, dtype)
    return make("zeros_like", np.zeros(shape, dtype=dt), requires_grad, device)


def ones_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """Ones with the shape (and dtype) of ``t``. Example: ``mg.ones_like(mg.zeros(2))`` -> tensor([1., 1.])."""
    shape, dt = like("ones_like", t, dtype)
    return make("ones_like", np.ones(shape, dtype=dt), requires_grad, device)


def empty_like(t: Tensor, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """An uninitialised tensor with the shape (and dtype) of ``t``.

    Example::

        >>> import minigrad as mg
        >>> mg.empty_like(mg.ones(2, 3)).shape
        (2, 3)
    """
    shape, dt = like("empty_like", t, dtype)
    return make("empty_like", np.empty(shape, dtype=dt), requires_grad, device)


def full_like(t: Tensor, fill_value: Any, *, dtype: Any = None, device: Any = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """``fill_value`` with the shape (and dtype) of ``t``. Example: ``mg.full_like(mg.ones(2), 3)`` -> [3., 3.]."""
    shape, dt = like("full_like", t, dtype)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    return make("full_like", np.full(shape, fill_value, dtype=dt), requires_grad, device)
