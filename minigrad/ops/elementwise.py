"""Elementwise ops: arithmetic, exp/log, activations, clamp, where, casts.

Each op is a ``Function`` whose ``backward`` sits right under its ``forward``. Gradients may
come back in the broadcast shape: the engine sums them to each input's shape (``sum_to_shape``).
Each backward works on NumPy arrays and, under ``create_graph=True``, on Tensors (``grad_math``
as ``G``); where a Numba kernel does the NumPy work, the Tensor formula sits beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad.autograd import Function
from minigrad.dtypes import get_default_dtype, result_type
from minigrad.errors import broadcast_error
from minigrad.kernels import activations, bias_rows, smooth_activations
from minigrad.ops import grad_math as G
from minigrad.tensor import Tensor

# ----------------------------------------------------------------------------------- operands

_SCALARS = (int, float, bool, np.number, np.bool_)


def as_tensor(x: Any, dtype: np.dtype | None = None, op: str = "op") -> Tensor:
    """A Tensor for ``x``: Tensors pass through, scalars/arrays are wrapped (never require grad)."""
    if isinstance(x, Tensor):
        return x if dtype is None or x.dtype == dtype else cast(x, dtype)
    if isinstance(x, _SCALARS):
        return Tensor(np.asarray(x, dtype=dtype if dtype is not None else result_type(x)))
    if isinstance(x, (np.ndarray, list, tuple)):
        return Tensor(x, dtype=dtype)
    raise TypeError(f"{op}: unsupported operand of type {type(x).__name__}; expected a Tensor or a number")


def promote(op: str, a: Any, b: Any, floating: bool = False) -> tuple[Tensor, Tensor]:
    """Both operands as Tensors of PyTorch's result dtype (``floating``: ints promote to float)."""
    # The common cases first, answered without the general rule: two tensors of one dtype, and a
    # float tensor with a Python number (which never changes a float tensor's dtype).
    if isinstance(a, Tensor):
        dt = a._array.dtype
        if isinstance(b, Tensor):
            if b._array.dtype == dt and (not floating or dt.kind == "f"):
                return a, b
        elif (type(b) is float or type(b) is int) and dt.kind == "f":
            return a, Tensor(np.array(b, dtype=dt))
    elif isinstance(b, Tensor) and (type(a) is float or type(a) is int) and b._array.dtype.kind == "f":
        return Tensor(np.array(a, dtype=b._array.dtype)), b
    try:
        dt = result_type(a, b)
    except TypeError:
        bad = b if isinstance(a, Tensor) else a
        raise TypeError(
            f"{op}: unsupported operand of type {type(bad).__name__}; expected a Tensor or a number"
        ) from None
    if floating and dt.kind != "f":
        dt = get_default_dtype()
    return as_tensor(a, dt, op), as_tensor(b, dt, op)


def binary(fn: type[Function], op: str, a: Any, b: Any, floating: bool = False) -> Tensor:
    number_op = _WITH_A_NUMBER.get(fn)
    if number_op is not None:  # float tensor + or * a Python number: the number is a constant of the node
        if (type(b) is float or type(b) is int) and isinstance(a, Tensor) and a._array.dtype.kind == "f":
            return number_op.apply(a, number=b)
        if (type(a) is float or type(a) is int) and isinstance(b, Tensor) and b._array.dtype.kind == "f":
            return number_op.apply(b, number=a)  # (both ops commute, in floating point too)
    a, b = promote(op, a, b, floating)
    try:
        return fn.apply(a, b)
    except ValueError:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise broadcast_error(op, a.shape, b.shape) from None
        raise


# ----------------------------------------------------------------------------------- arithmetic


class Add(Function):
    def forward(self, a, b):
        return bias_rows.add(a, b)  # a + b (a bias added to every row: in one loop, kernels/bias_rows.py)

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad


class Mul(Function):
    def forward(self, a, b):
        # Each input's gradient needs only the other input: save just what backward will use.
        self.save_for_backward(a if self.needs_input_grad[1] else None, b if self.needs_input_grad[0] else None)
        return a * b

    def backward(self, grad):
        a, b = self.saved_tensors
        ga = grad * b if self.needs_input_grad[0] else None
        gb = grad * a if self.needs_input_grad[1] else None
        return ga, gb


class AddNumber(Function):
    """x + c for a Python number c: a constant of the node, as in PyTorch, not a second input.

    NumPy computes it in x's dtype (a Python number never changes a float array's dtype).
    """

    name, kind = "add", "Add"

    def forward(self, x):
        return x + self.number

    def backward(self, grad):
        return grad


class MulNumber(Function):
    """x * c for a Python number c: dL/dx = c * dL/dy."""

    name, kind = "mul", "Mul"

    def forward(self, x):
        return x * self.number

    def backward(self, grad):
        return grad * self.number


# The ops that take a Python number as a constant instead of as a second tensor (see ``binary``).
_WITH_A_NUMBER: dict[type[Function], type[Function]] = {Add: AddNumber, Mul: MulNumber}


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b  # x / 0 = inf, 0 / 0 = nan, as in PyTorch

    def backward(self, grad):
        a, b = self.saved_tensors
        ga = grad / b if self.needs_input_grad[0] else None
        gb = -grad * a / (b * b) if self.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    def forward(self, x):
        return -x

    def backward(self, grad):
        return -grad


class Pow(Function):
    """a ** b for two tensors: d/da = b a^(b-1), d/db = a^b log(a)."""

    def forward(self, a, b):
        if a.dtype.kind in "iu" and (b < 0).any():
            y = _integer_power(a, b)
        else:
            y = a**b
        self.save_for_backward(a, b, y)
        return y

    def backward(self, grad):
        a, b, y = self.saved_tensors
        ga = grad * b * a ** (b - 1) if self.needs_input_grad[0] else None
        gb = None
        if self.needs_input_grad[1]:
            # PyTorch's convention: where a == 0 and b >= 0 the gradient is 0, not nan.
            gb = G.where((G.values(a) == 0) & (G.values(b) >= 0), 0.0, grad * y * G.log(a))
        return ga, gb


def _integer_power(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a ** b for integers with some b < 0, as PyTorch computes it: 1 / a^|b| truncated toward zero."""
    a, b = np.broadcast_arrays(a, b)
    positive = a ** np.maximum(b, 0)
    odd = (b % 2) != 0
    negative = np.where(a == 1, 1, np.where(a == -1, np.where(odd, -1, 1), 0))
    return np.where(b < 0, negative, positive).astype(a.dtype, copy=False)


class PowScalar(Function):
    """x ** e for a constant exponent e: d/dx = e x^(e-1)."""

    name = "pow"

    def forward(self, x):
        self.save_for_backward(x)
        return x**self.exponent

    def backward(self, grad):
        (x,) = self.saved_tensors
        e = self.exponent
        if e == 0:
            return G.zeros_like(x)
        return grad * (e * x ** (e - 1))


def _is_bool(x: Any) -> bool:
    return isinstance(x, (bool, np.bool_)) or (isinstance(x, Tensor) and x._array.dtype == np.bool_)


def _check_alpha(op: str, alpha: Any, a: Any, b: Any) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, _SCALARS):
        raise TypeError(f"{op}: alpha must be a number, got {type(alpha).__name__}")
    if isinstance(alpha, (float, np.floating)) and result_type(a, b).kind != "f":
        raise RuntimeError(f"{op}: for integral input tensors, argument alpha must not be a floating point "
                           f"number (got alpha={alpha})")


def add(a: Any, b: Any, *, alpha: Any = 1, out: None = None) -> Tensor:
    """a + alpha * b with broadcasting. Example: ``mg.add(mg.ones(2), 1.0)`` -> tensor([2., 2.])."""
    if out is not None:
        refuse_out("add", out)
    if type(alpha) is int and alpha == 1:
        return binary(Add, "add", a, b)
    _check_alpha("add", alpha, a, b)
    a, b = promote("add", a, b)  # the dtype comes from a and b; a number alpha never changes it
    return binary(Add, "add", a, mul(b, alpha))


def sub(a: Any, b: Any, *, alpha: Any = 1, out: None = None) -> Tensor:
    """a - alpha * b with broadcasting. Example: ``mg.sub(mg.ones(2), 1.0)`` -> tensor([0., 0.])."""
    if out is not None:
        refuse_out("sub", out)
    if _is_bool(a) or _is_bool(b):
        raise RuntimeError("sub: subtraction with a bool tensor is not supported (as in PyTorch); to invert a "
                           "mask use ~mask or mask.logical_not(), otherwise convert with .long() or .float()")
    if type(alpha) is int and alpha == 1:
        return binary(Sub, "sub", a, b)
    _check_alpha("sub", alpha, a, b)
    a, b = promote("sub", a, b)  # the dtype comes from a and b; a number alpha never changes it
    return binary(Sub, "sub", a, mul(b, alpha))


def mul(a: Any, b: Any, *, out: None = None) -> Tensor:
    """a * b with broadcasting. Example: ``mg.mul(mg.ones(2), 3.0)`` -> tensor([3., 3.])."""
    if out is not None:
        refuse_out("mul", out)
    return binary(Mul, "mul", a, b)


class RoundedDiv(Function):
    """a / b rounded toward zero ('trunc') or down ('floor'); its gradient is 0 almost everywhere."""

    name = "div"

    def forward(self, a, b):
        if a.dtype.kind in "iub" and (b == 0).any():
            raise ZeroDivisionError(f"div: integer division by zero (rounding_mode={self.mode!r})")
        if a.dtype.kind in "iub":
            q = np.floor_divide(a, b)
            if self.mode == "trunc":  # floor differs from trunc where the exact quotient is negative
                q = q + ((q < 0) & (q * b != a))
            return q.astype(a.dtype, copy=False)
        q = a / b
        return np.trunc(q) if self.mode == "trunc" else np.floor(q)

    def backward(self, grad):
        zero = np.zeros_like(grad)
        return zero if self.needs_input_grad[0] else None, zero if self.needs_input_grad[1] else None


def div(a: Any, b: Any, *, rounding_mode: str | None = None, out: None = None) -> Tensor:
    """a / b: true division (integers give floats), or rounded with ``rounding_mode='trunc'|'floor'``.

    Example: ``mg.div(mg.tensor([1, 2]), 2)`` -> tensor([0.5, 1.]);
    ``mg.div(mg.tensor([-7]), 2, rounding_mode='floor')`` -> tensor([-4]).
    """
    refuse_out("div", out)
    if rounding_mode is None:
        return binary(Div, "div", a, b, floating=True)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}")
    a, b = promote("div", a, b)
    if a.dtype == np.bool_:
        raise RuntimeError("div: rounding division of two bool tensors is not supported; convert them with .long()")
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise broadcast_error("div", a.shape, b.shape) from None
    return RoundedDiv.apply(a, b, mode=rounding_mode)



def refuse_out(op: str, out: Any) -> None:
    """minigrad ops always return a new tensor: ``out=`` is refused instead of silently ignored."""
    if out is not None:
        raise TypeError(f"{op}: the out= argument is not supported by minigrad; use the returned tensor "
                        f"(y = mg.{op}(...)) or an in-place method instead")


def neg(x: Tensor) -> Tensor:
    """-x. Example: ``mg.neg(mg.ones(1))`` -> tensor([-1.])."""
    if x._array.dtype == np.bool_:
        raise RuntimeError("neg: negation of a bool tensor is not supported (as in PyTorch); to invert a mask "
                           "use ~mask or mask.logical_not()")
    return Neg.apply(x)


def pow(x: Any, exponent: Any) -> Tensor:  # noqa: A001 - PyTorch's name
    """x ** exponent; either may be a tensor. Example: ``mg.pow(mg.tensor([3.0]), 2)`` -> tensor([9.])."""
    if isinstance(x, Tensor) and isinstance(exponent, _SCALARS) and not isinstance(exponent, bool):
        if x.dtype.kind != "f" and isinstance(exponent, (float, np.floating)):
            x = cast(x, get_default_dtype())
        elif x.dtype.kind != "f" and exponent < 0:
            raise RuntimeError(f"pow: integers to negative integer powers are not allowed (got exponent "
                               f"{exponent} for a tensor of dtype {x.dtype}); use x.float() ** {exponent}")
        return PowScalar.apply(x, exponent=exponent)
    return binary(Pow, "pow", x, exponent)


# ----------------------------------------------------------------------------------- unary math


class Exp(Function):
    def forward(self, x):
        y = np.exp(x)  # exp(1000) = inf, as in PyTorch
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad * y


class Log(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.log(x)  # log(0) = -inf, log(-1) = nan, as in PyTorch

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad / x


class Sqrt(Function):
    def forward(self, x):
        y = np.sqrt(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return grad / (2 * y)


class Abs(Function):
    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, grad):
        (x,) = self.saved_tensors
        return grad * np.sign(G.values(x))  # the sign is a constant: abs has no curvature away from 0


def exp(x: Tensor) -> Tensor:
    """e ** x. Example: ``mg.exp(mg.zeros(1))`` -> tensor([1.])."""
    return Exp.apply(_floating(x))


def log(x: Tensor) -> Tensor:
    """Natural logarithm (log(0) = -inf). Example: ``mg.log(mg.ones(1))`` -> tensor([0.])."""
    return Log.apply(_floating(x))


def sqrt(x: Tensor) -> Tensor:
    """Square root. Example: ``mg.sqrt(mg.tensor([4.0]))`` -> tensor([2.])."""
    return Sqrt.apply(_floating(x))


def abs(x: Tensor) -> Tensor:  # noqa: A001 - PyTorch's name
    """|x|; the gradient at 0 is 0. Example: ``mg.abs(mg.tensor([-2.0]))`` -> tensor([2.])."""
    x = as_tensor(x, op="abs")
    if x._array.dtype == np.bool_:
        raise TypeError("abs: not implemented for bool tensors (as in PyTorch); convert with .long() first")
    return Abs.apply(x)


def _floating(x: Any) -> Tensor:
    x = as_tensor(x)
    return x if x.dtype.kind == "f" else cast(x, get_default_dtype())


# ----------------------------------------------------------------------------------- activations


class Tanh(Function):
    def forward(self, x):
        y = np.tanh(x)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return G.tanh_grad(grad, y)  # grad * (1 - y * y): d tanh(x) / dx = 1 - tanh(x)^2


class Sigmoid(Function):
    def forward(self, x):
        y = G.sigmoid(x)  # 1 / (1 + exp(-x))
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return G.sigmoid_grad(grad, y)  # grad * (1 - y) * y: d sigma(x) / dx = sigma(x) (1 - sigma(x))


class Relu(Function):
    def forward(self, x):
        y = activations.relu(x)  # max(x, 0), in one pass where a kernel can (kernels/activations.py)
        self.save_for_backward(y)
        return y

    def backward(self, grad):
        (y,) = self.saved_tensors
        return G.relu_grad(grad, y)  # 0 if y <= 0 else grad: a choice, not a product (inf where y = 0 gives 0)


class Softplus(Function):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` like PyTorch; gradient sigmoid(beta x).

    Arrays go through ``kernels/smooth_activations.py`` (one pass each way).
    """

    def forward(self, x):
        self.save_for_backward(x)
        return smooth_activations.softplus(x, self.beta, self.threshold)

    def backward(self, grad):
        (x,) = self.saved_tensors
        if not self.create_graph:
            return smooth_activations.softplus_backward(grad, x, self.beta, self.threshold)
        bx = self.beta * x
        return grad * G.where(G.values(bx) > self.threshold, 1.0, G.sigmoid(bx))


def tanh(x: Tensor) -> Tensor:
    """Hyperbolic tangent. Example: ``mg.tanh(mg.zeros(1))`` -> tensor([0.])."""
    return Tanh.apply(_floating(x))


def sigmoid(x: Tensor) -> Tensor:
    """1 / (1 + exp(-x)), stable for large |x|. Example: ``mg.sigmoid(mg.zeros(1))`` -> tensor([0.5])."""
    return Sigmoid.apply(_floating(x))


def relu(x: Tensor) -> Tensor:
    """max(x, 0). Example: ``mg.relu(mg.tensor([-1.0, 2.0]))`` -> tensor([0., 2.])."""
    return Relu.apply(x)


def softplus(x: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta. Example: ``mg.softplus(mg.zeros(1))`` -> tensor([0.6931])."""
    if not isinstance(beta, _SCALARS) or beta == 0:
        raise ValueError(f"softplus: beta must be a nonzero number (it divides the result), got {beta!r}")
    return Softplus.apply(_floating(x), beta=beta, threshold=threshold)


# ----------------------------------------------------------------------------------- casts, copies


class Cast(Function):
    def forward(self, x):
        return x.astype(self.dtype)

    def backward(self, grad):
        return grad  # the engine casts it back to the input's dtype


class Clone(Function):
    computes = False  # moves values only

    def forward(self, x):
        return x.copy()

    def backward(self, grad):
        return grad


def cast(x: Tensor, dtype: np.dtype) -> Tensor:
    """``x`` as ``dtype``; differentiable between float dtypes, a plain copy otherwise."""
    if x.dtype == dtype:
        return x
    if dtype.kind != "f" or not x.requires_grad:
        return Tensor(x._array.astype(dtype))
    return Cast.apply(x, dtype=dtype)


def clone(x: Tensor) -> Tensor:
    """A copy that stays in the graph. Example: ``mg.ones(2).clone()`` -> tensor([1., 1.])."""
    return Clone.apply(x)


def compare(ufunc: np.ufunc, a: Any, b: Any) -> Tensor:
    """A comparison (<, ==, ...): a bool tensor, outside the graph (not differentiable)."""
    if type(b) is int and isinstance(a, Tensor) and a._array.dtype.kind == "i":  # (token == end_of_name)
        try:
            return Tensor(ufunc(a._array, b))  # an int beside integers: compared exactly, as in PyTorch
        except OverflowError:  # past the dtype's range: the general rule below says what to do
            pass
    a, b = promote(ufunc.__name__, a, b)
    try:
        return Tensor(ufunc(a._array, b._array))
    except ValueError:
        raise broadcast_error(ufunc.__name__, a.shape, b.shape) from None


# Clamp, maximum/minimum, where, tril and triu are in clamp_where.py (which imports this module's helpers).
from minigrad.ops.clamp_where import (  # noqa: E402, F401
    Clamp,
    Maximum,
    Minimum,
    Where,
    clamp,
    clamp_max,
    clamp_min,
    maximum,
    minimum,
    tril,
    triu,
    where,
)
