"""More elementwise math: log1p, expm1, sin, cos, reciprocal, rsqrt, square, rounding, sign.

The rules for dtypes follow PyTorch: functions that are only defined on reals (log1p, sin, rsqrt...)
turn integer tensors into the default float dtype; floor, round, sign and square keep integers.
Rounding and sign are flat almost everywhere, so their gradient is 0, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd import Function
from minigrad.ops.elementwise import _floating, as_tensor
from minigrad.tensor import Tensor

# ----------------------------------------------------------------------------------- smooth functions


class Log1p(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.log1p(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (1 + x)


class Expm1(Function):
    def forward(self, x):
        y = np.expm1(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (y + 1)  # d/dx (e^x - 1) = e^x


class Sin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * np.cos(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return -grad * np.sin(x)


class Reciprocal(Function):
    def forward(self, x):
        y = 1 / x
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return -grad * y * y  # d/dx 1/x = -1/x^2


class Rsqrt(Function):
    def forward(self, x):
        y = 1 / np.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return -0.5 * grad * y * y * y  # d/dx x^(-1/2) = -x^(-3/2) / 2


class Square(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return x * x

    def backward(self, grad):
        (x,) = self.saved_tensors
        return 2 * grad * x


def log1p(x: Tensor) -> Tensor:
    """log(1 + x), accurate for tiny x.

    Example::

        >>> import minigrad as mg
        >>> mg.log1p(mg.tensor([0.0, 1e-10])).tolist()
        [0.0, 1.000000013351432e-10]
    """
    return Log1p.apply(_floating(x))


def expm1(x: Tensor) -> Tensor:
    """exp(x) - 1, accurate for tiny x.

    Example::

        >>> import minigrad as mg
        >>> mg.expm1(mg.tensor([0.0]))
        tensor([0.])
    """
    return Expm1.apply(_floating(x))


def sin(x: Tensor) -> Tensor:
    """Sine (radians).

    Example::

        >>> import minigrad as mg
        >>> mg.sin(mg.tensor([0.0]))
        tensor([0.])
    """
    return Sin.apply(_floating(x))


def cos(x: Tensor) -> Tensor:
    """Cosine (radians).

    Example::

        >>> import minigrad as mg
        >>> mg.cos(mg.tensor([0.0]))
        tensor([1.])
    """
    return Cos.apply(_floating(x))


def reciprocal(x: Tensor) -> Tensor:
    """1 / x (1 / 0 = inf); integers give the default float dtype.

    Example::

        >>> import minigrad as mg
        >>> mg.reciprocal(mg.tensor([2, 4]))
        tensor([0.5 , 0.25])
    """
    return Reciprocal.apply(_floating(x))


def rsqrt(x: Tensor) -> Tensor:
    """1 / sqrt(x).

    Example::

        >>> import minigrad as mg
        >>> mg.rsqrt(mg.tensor([4.0]))
        tensor([0.5])
    """
    return Rsqrt.apply(_floating(x))


def square(x: Tensor) -> Tensor:
    """x * x; integer tensors stay integer (bool becomes int64, as in PyTorch).

    Example::

        >>> import minigrad as mg
        >>> mg.square(mg.tensor([-3, 2]))
        tensor([9, 4])
    """
    x = as_tensor(x, op="square")
    if x.dtype == np.bool_:
        x = Tensor(x._array.astype(np.int64))
    return Square.apply(x)


# ----------------------------------------------------------------------------------- flat functions


class Flat(Function):
    """An op whose derivative is 0 wherever it exists (floor, round, sign): the gradient is 0."""

    def forward(self, x):
        return self.fn(x)

    def backward(self, grad):
        return np.zeros_like(grad)


def _not_bool(op: str, x: Tensor) -> Tensor:
    x = as_tensor(x, op=op)
    if x.dtype == np.bool_:
        raise TypeError(f"{op}: not implemented for bool tensors (as in PyTorch); convert with .long() or .float()")
    return x


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x (integer tensors are returned unchanged, as a copy).

    Example::

        >>> import minigrad as mg
        >>> mg.floor(mg.tensor([-1.5, 1.5]))
        tensor([-2.,  1.])
    """
    x = _not_bool("floor", x)
    if x.dtype.kind != "f":
        return Tensor(x._array.copy())
    return Flat.apply(x, fn=np.floor, name="floor")


def round(x: Tensor, decimals: int = 0) -> Tensor:  # noqa: A001 - PyTorch's name
    """Round to ``decimals`` places; halves go to the even neighbour (0.5 -> 0, 1.5 -> 2), as in PyTorch.

    Example::

        >>> import minigrad as mg
        >>> mg.round(mg.tensor([0.5, 1.5, 1.26]), decimals=0).tolist(), mg.round(mg.tensor([1.26]), decimals=1)
        ([0.0, 2.0, 1.0], tensor([1.3]))
    """
    if isinstance(decimals, bool) or not isinstance(decimals, (int, np.integer)):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    x = _not_bool("round", x)
    if x.dtype.kind != "f":
        if decimals:
            raise TypeError(f"round: decimals={decimals} needs a floating point tensor, got dtype {x.dtype}")
        return Tensor(x._array.copy())
    return Flat.apply(x, fn=lambda a: np.round(a, int(decimals)), name="round")


def _sign(a: np.ndarray) -> np.ndarray:
    # PyTorch: sign(nan) = 0, and sign(-0.0) = 0; np.sign would give nan and -0.0.
    return ((a > 0).astype(a.dtype) - (a < 0).astype(a.dtype)).astype(a.dtype, copy=False)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of x (bool tensors stay bool).

    Example::

        >>> import minigrad as mg
        >>> mg.sign(mg.tensor([-2.0, 0.0, 3.0]))
        tensor([-1.,  0.,  1.])
    """
    x = as_tensor(x, op="sign")
    if x.dtype == np.bool_:
        return Tensor(x._array.copy())
    if x.dtype.kind != "f":
        return Tensor(_sign(x._array))
    return Flat.apply(x, fn=_sign, name="sign")
