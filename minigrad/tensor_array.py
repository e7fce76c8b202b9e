"""What a Tensor does as an array of numbers: shape and dtype, conversions, repr, casts and devices.

``Tensor`` (tensor.py) inherits these methods from ``ArrayMethods``. They read or convert the
wrapped NumPy array (``t.shape``, ``t.item()``, ``np.asarray(t)``, ``repr(t)``); the two that make
a new differentiable tensor (``to`` a new dtype, ``clone``) call an op of ``minigrad/ops/``. They
are their own file so that tensor.py holds one idea: the Tensor as autograd sees it (its graph
attributes, ``backward``, and the one-line fronts of the ops).

Example::

    >>> import minigrad as mg
    >>> x = mg.tensor([[1, 2, 3]])
    >>> x.shape, x.dtype, x.numel(), x.double().tolist()
    ((1, 3), dtype('int64'), 3, [[1.0, 2.0, 3.0]])
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import numpy as np

from minigrad import autograd
from minigrad import devices as _device
from minigrad.dtypes import get_default_dtype, to_dtype
from minigrad.printing import format_values

if TYPE_CHECKING:
    from minigrad.tensor import Tensor


class ArrayMethods:
    """The array side of ``Tensor``: attributes, conversions, ``repr``, dtype and device methods.

    A mixin: only ``Tensor`` inherits it, and it keeps no state of its own (empty ``__slots__``,
    so tensors still have no ``__dict__``). ``self._array`` is the tensor's NumPy array.

    Example::

        >>> import minigrad as mg
        >>> isinstance(mg.ones(2), ArrayMethods), len(mg.ones(2)), float(mg.tensor(1.5))
        (True, 2, 1.5)
    """

    __slots__ = ()

    # ---------------------------------------------------------------- array attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self._array.shape

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        """The shape (PyTorch's ``size()``), or the size of one dimension."""
        return self._array.shape if dim is None else self._array.shape[dim]

    @property
    def ndim(self) -> int:
        return self._array.ndim

    def dim(self) -> int:
        return self._array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    def numel(self) -> int:
        return self._array.size

    nelement = numel
    ndimension = dim

    def element_size(self) -> int:
        """Bytes per element. Example: ``mg.ones(2).element_size()`` -> 4."""
        return self._array.itemsize

    def stride(self, dim: int | None = None) -> tuple[int, ...] | int:
        """Steps between neighbours along each dim, in elements as PyTorch counts them.

        Example: ``mg.ones(2, 3).stride()`` -> (3, 1); ``mg.ones(2, 3).t().stride()`` -> (1, 3).
        """
        steps = tuple(s // self._array.itemsize for s in self._array.strides)
        return steps if dim is None else steps[dim]

    def data_ptr(self) -> int:
        """The address of the first element. Example: ``x[1].data_ptr() - x.data_ptr()`` -> 12 for ``mg.ones(2, 3)``."""
        return self._array.ctypes.data

    def pin_memory(self) -> Tensor:
        """The tensor itself: pinned memory is for copies to a GPU, which minigrad does not have.

        Example: ``x.pin_memory() is x`` -> True.
        """
        return self  # type: ignore[return-value]

    def is_pinned(self) -> bool:
        """Always False (see ``pin_memory``). Example: ``mg.ones(2).is_pinned()`` -> False."""
        return False

    def is_contiguous(self) -> bool:
        """Whether the elements lie in memory in row-major order without gaps.

        Example: ``mg.ones(2, 3).is_contiguous()`` -> True; ``mg.ones(2, 3).t().is_contiguous()`` -> False.
        """
        return self._array.flags.c_contiguous

    def __len__(self) -> int:
        if self._array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._array.shape[0]

    def is_floating_point(self) -> bool:
        return self._array.dtype.kind == "f"

    # ---------------------------------------------------------------- conversion
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array (shared, not copied; ``force=True`` copies, as in PyTorch)."""
        if self.requires_grad and not force:
            raise RuntimeError("numpy: can't call numpy() on a tensor that requires grad; use .detach().numpy()")
        return self._array.copy() if force else self._array

    def item(self) -> builtins.float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self._array.size != 1:
            raise ValueError(f"item: only one-element tensors can be converted, this one has shape {self.shape}")
        return self._array.item()

    def tolist(self) -> Any:
        return self._array.tolist()

    def __float__(self) -> builtins.float:
        return builtins.float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        """An integer one-element tensor can index a list or bound a slice, as in PyTorch."""
        if self._array.dtype.kind not in "iub" or self._array.size != 1:
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got a "
                            f"{self._array.dtype} tensor of shape {self.shape}")
        return int(self._array.item())

    def __bool__(self) -> bool:
        if self._array.size != 1:
            raise RuntimeError(f"bool: the truth value of a tensor with {self._array.size} elements is ambiguous")
        return bool(self._array.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self._requires_grad and autograd._mode.recording_backward:
            raise RuntimeError(
                "a NumPy function was applied to a Tensor that is part of the graph while backward(create_graph=True) "
                "records it: the result would be a constant and the second derivative silently wrong. An op's backward "
                "must use Tensor ops on Tensors (see minigrad/ops/grad_math.py), or .detach() if a constant is meant")
        return self._array if dtype is None else self._array.astype(dtype)

    def __iter__(self):
        if self._array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._array.shape[0]))

    # ---------------------------------------------------------------- repr
    def __repr__(self) -> str:
        body = format_values(self._array, prefix="tensor(")  # under mg.set_printoptions' options
        extras = []
        if self._array.dtype.kind == "f" and self._array.dtype != get_default_dtype() or \
                self._array.dtype.kind in "iu" and self._array.dtype != np.int64:
            extras.append(f"dtype={self._array.dtype}")
        if self._array.size == 0:
            extras.append(f"size={self.shape}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.kind}Backward>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}{', ' if extras else ''}{', '.join(extras)})"

    # ---------------------------------------------------------------- dtype and device
    @property
    def device(self) -> _device.device:
        """Always ``mg.device('cpu')``: minigrad runs on the CPU (see devices.py)."""
        return _device.CPU

    is_cuda = False

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's ``to``: ``to(dtype)``, ``to(device, dtype=None)`` or ``to(other_tensor)``.

        Returns ``self`` when nothing changes (and ``copy=False``), a differentiable cast otherwise.
        Devices other than the CPU raise a clear error.

        Example::

            >>> import minigrad as mg
            >>> x = mg.ones(2)
            >>> x.to("cpu") is x, x.to(mg.float64).dtype, x.to(None) is x
            (True, dtype('float64'), True)
        """
        copy = bool(kwargs.pop("copy", False))
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        target_device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"to: unexpected keyword arguments {sorted(kwargs)}")
        for arg in args:
            if isinstance(arg, ArrayMethods):  # a Tensor: Tensor is the one class built on ArrayMethods
                dtype = arg.dtype
            elif _device.is_device_like(arg):
                target_device = arg
            elif isinstance(arg, bool):  # to(dtype, non_blocking) / to(device, dtype, non_blocking, copy)
                continue
            elif arg is not None:
                dtype = arg
        _device.check_device(target_device, "to")
        if dtype is None or to_dtype(dtype) == self._array.dtype:
            return self.clone() if copy else self
        from minigrad.ops import elementwise

        return elementwise.cast(self, to_dtype(dtype))

    def new(self, *args: Any, **kwargs: Any) -> Tensor:
        """PyTorch's legacy ``t.new(*sizes)`` (zeros here) or ``t.new(data)``, in this tensor's dtype."""
        from minigrad import legacy

        return legacy.make(self._array.dtype, args, kwargs, "new")

    def cpu(self) -> Tensor:
        """``self``: the tensor is already on the CPU."""
        return self

    def cuda(self, *args: Any, **kwargs: Any) -> Tensor:
        """Refused with a clear error: minigrad runs on the CPU only."""
        _device.raise_not_cpu("cuda", "cuda()")

    def float(self) -> Tensor:
        return self.to(np.float32)

    def double(self) -> Tensor:
        return self.to(np.float64)

    def half(self) -> Tensor:
        return self.to(np.float16)

    def long(self) -> Tensor:
        return self.to(np.int64)

    def int(self) -> Tensor:
        return self.to(np.int32)

    def bool(self) -> Tensor:
        return self.to(np.bool_)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> str | Tensor:
        """``t.type()`` names the legacy type ('torch.FloatTensor'); ``t.type(mg.LongTensor)`` casts."""
        from minigrad import legacy

        if dtype is None:
            return legacy.type_name(self._array.dtype)
        return self.to(legacy.dtype_of(dtype))

    def clone(self) -> Tensor:
        from minigrad.ops import elementwise

        return elementwise.clone(self)
