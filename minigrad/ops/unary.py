"""More elementwise math: log1p, expm1, log2, log10, trigonometric and hyperbolic functions,
reciprocal, rsqrt, square, rounding, sign, and the remainders (``%``, ``fmod``).

The rules for dtypes follow PyTorch: functions that are only defined on reals (log1p, sin, rsqrt...)
turn integer tensors into the default float dtype; floor, ceil, trunc, round, sign and square keep integers.
Rounding and sign are flat almost everywhere, so their gradient is 0, as in PyTorch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.errors import broadcast_error
from minigrad.ops import grad_math as G
from minigrad.ops.elementwise import _floating, as_tensor, promote
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
        return grad * G.cos(x)


class Cos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return -grad * G.sin(x)


class Tan(Function):
    def forward(self, x):
        y = np.tan(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * (1 + y * y)  # d/dx tan x = 1 / cos^2 x = 1 + tan^2 x


class Atan(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.arctan(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (1 + x * x)


class Asin(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.arcsin(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * (1 - x * x) ** -0.5  # d/dx asin x = 1 / sqrt(1 - x^2)


class Acos(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.arccos(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return -grad * (1 - x * x) ** -0.5  # d/dx acos x = -1 / sqrt(1 - x^2)


class Sinh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.sinh(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * (G.exp(x) + G.exp(-x)) * 0.5  # d/dx sinh x = cosh x


class Cosh(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.cosh(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * (G.exp(x) - G.exp(-x)) * 0.5  # d/dx cosh x = sinh x


class LogBase(Function):
    """log of base ``base`` (2 or 10): d/dx = 1 / (x ln base)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log2(x) if self.base == 2 else np.log10(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / (x * float(np.log(self.base)))


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


def tan(x: Tensor) -> Tensor:
    """Tangent (radians).

    Example::

        >>> import minigrad as mg
        >>> mg.tan(mg.tensor([0.0]))
        tensor([0.])
    """
    return Tan.apply(_floating(x))


def atan(x: Tensor) -> Tensor:
    """Arctangent, in (-pi/2, pi/2).

    Example::

        >>> import minigrad as mg
        >>> mg.atan(mg.tensor([0.0]))
        tensor([0.])
    """
    return Atan.apply(_floating(x))


def asin(x: Tensor) -> Tensor:
    """Arcsine, in [-pi/2, pi/2]; nan outside [-1, 1], as in PyTorch.

    Example::

        >>> import minigrad as mg
        >>> mg.asin(mg.tensor([0.0]))
        tensor([0.])
    """
    return Asin.apply(_floating(x))


def acos(x: Tensor) -> Tensor:
    """Arccosine, in [0, pi]; nan outside [-1, 1].

    Example::

        >>> import minigrad as mg
        >>> mg.acos(mg.tensor([1.0]))
        tensor([0.])
    """
    return Acos.apply(_floating(x))


def sinh(x: Tensor) -> Tensor:
    """Hyperbolic sine.

    Example::

        >>> import minigrad as mg
        >>> mg.sinh(mg.tensor([0.0]))
        tensor([0.])
    """
    return Sinh.apply(_floating(x))


def cosh(x: Tensor) -> Tensor:
    """Hyperbolic cosine.

    Example::

        >>> import minigrad as mg
        >>> mg.cosh(mg.tensor([0.0]))
        tensor([1.])
    """
    return Cosh.apply(_floating(x))


def log2(x: Tensor) -> Tensor:
    """Logarithm base 2.

    Example::

        >>> import minigrad as mg
        >>> mg.log2(mg.tensor([8.0]))
        tensor([3.])
    """
    return LogBase.apply(_floating(x), base=2)


def log10(x: Tensor) -> Tensor:
    """Logarithm base 10.

    Example::

        >>> import minigrad as mg
        >>> mg.log10(mg.tensor([100.0]))
        tensor([2.])
    """
    return LogBase.apply(_floating(x), base=10)


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
    """An op whose derivative is 0 wherever it exists (floor, ceil, trunc, round, sign): the gradient is 0."""

    def forward(self, x):
        return self.fn(x)

    def backward(self, grad):
        return np.zeros_like(grad)


def _not_bool(op: str, x: Tensor) -> Tensor:
    x = as_tensor(x, op=op)
    if x.dtype == np.bool_:
        raise TypeError(f"{op}: not implemented for bool tensors (as in PyTorch); convert with .long() or .float()")
    return x


def _rounded(op: str, x: Tensor, fn: np.ufunc) -> Tensor:
    """``fn`` (floor, ceil, trunc) of a float tensor, as a ``Flat`` node; integers are already whole: a copy."""
    x = _not_bool(op, x)
    if x.dtype.kind != "f":
        return Tensor(x._array.copy())
    return Flat.apply(x, fn=fn, name=op)


def floor(x: Tensor) -> Tensor:
    """The largest integer <= x (integer tensors are returned unchanged, as a copy).

    Example::

        >>> import minigrad as mg
        >>> mg.floor(mg.tensor([-1.5, 1.5]))
        tensor([-2.,  1.])
    """
    return _rounded("floor", x, np.floor)


def ceil(x: Tensor) -> Tensor:
    """The smallest integer >= x (integer tensors are returned unchanged, as a copy).

    Example::

        >>> import minigrad as mg
        >>> mg.ceil(mg.tensor([-1.5, 1.5]))
        tensor([-1.,  2.])
    """
    return _rounded("ceil", x, np.ceil)


def trunc(x: Tensor) -> Tensor:
    """x rounded toward zero (integer tensors are returned unchanged, as a copy).

    Example::

        >>> import minigrad as mg
        >>> mg.trunc(mg.tensor([-1.5, 1.5]))
        tensor([-1.,  1.])
    """
    return _rounded("trunc", x, np.trunc)


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


# ----------------------------------------------------------------------------------- remainders

class Remainder(Function):
    """``a - b * floor(a / b)`` ('remainder': the sign of ``b``, Python's ``%``) or ``a - b * trunc(a / b)``
    ('fmod': the sign of ``a``, C's). d/da = 1; d/db = -(the rounded quotient), a constant almost everywhere."""

    name = "remainder"

    def forward(self, a, b):
        if a.dtype.kind in "iu" and (b == 0).any():
            raise ZeroDivisionError(f"{self.mode}: integer division by zero")
        if self.needs_input_grad[1]:
            self.quotient = np.floor(a / b) if self.mode == "remainder" else np.trunc(a / b)
        if self.mode == "fmod" or a.dtype.kind in "iu":
            return np.fmod(a, b) if self.mode == "fmod" else np.remainder(a, b)
        r = np.fmod(a, b)  # PyTorch's rule: fmod, moved by b where the signs differ (a zero stays fmod's)
        return np.where((r != 0) & ((b < 0) != (r < 0)), r + b, r)

    def backward(self, grad):
        ga = grad if self.needs_input_grad[0] else None
        gb = -grad * self.quotient if self.needs_input_grad[1] else None
        return ga, gb


def _remainder(mode: str, a: Any, b: Any) -> Tensor:
    a, b = promote(mode, a, b)
    if a.dtype == np.bool_:
        raise RuntimeError(f"{mode}: not supported for two bool tensors; convert them with .long()")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise broadcast_error(mode, a.shape, b.shape) from None
    return Remainder.apply(a, b, mode=mode)


def remainder(a: Any, b: Any) -> Tensor:
    """``a % b`` as Python computes it: the result has the sign of ``b`` (PyTorch's ``remainder``).

    Example: ``mg.remainder(mg.tensor([-7, 7]), 3)`` -> tensor([2, 1]); ``mg.tensor([5.5]) % 2`` -> tensor([1.5]).
    """
    return _remainder("remainder", a, b)


def fmod(a: Any, b: Any) -> Tensor:
    """The remainder of C's ``fmod``: the result has the sign of ``a``.

    Example: ``mg.fmod(mg.tensor([-7, 7]), 3)`` -> tensor([-1, 1]).
    """
    return _remainder("fmod", a, b)
