"""Sigmoid, ReLU and leaky ReLU, and the gradients of sigmoid, tanh, ReLU and leaky ReLU, in one pass.

NumPy computes ``1 / (1 + exp(-x))`` as four passes (negate, exp, add, reciprocal) and the
gradients ``grad * (1 - y) * y`` and ``grad * (1 - y * y)`` as three, each pass reading and
writing a whole array; its ``maximum`` and ``where`` (ReLU and its gradient) test every element
for NaN or branch on it. These kernels read each input once and write the output once:

    sigmoid(x)          = 1 / (1 + e^-x)        (rnn_common._sigmoid: e^-|x| only, never overflows)
    sigmoid'(x) grad    = grad * (1 - y) * y     with y = sigmoid(x), the saved output
    tanh'(x) grad       = grad * (1 - y * y)     with y = tanh(x), the saved output
    relu(x)             = max(x, 0)
    relu'(x) grad       = 0 if y <= 0 else grad  with y = relu(x), the saved output
    leaky_relu(x)       = x if x > 0 else slope * x, and the mask x > 0 for its gradient
    leaky_relu'(x) grad = grad if x > 0 else slope * grad

The ``exp`` inside ``_sigmoid`` is written as arithmetic (range reduction and a polynomial), so LLVM
turns the loop into vector instructions; Numba's own ``exp`` is a call per element. ``tanh``'s
forward stays NumPy's ``np.tanh``, already one vectorised pass.

Rules:
- the gradient kernels compute the textbook product in NumPy's order, with no fused multiply-add,
  so their results are NumPy's bit for bit (the sigmoid differs from NumPy's formula by rounding:
  both are within about one unit in the last place of the true value);
- NaN in, NaN out; ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``, as in PyTorch; ReLU's gradient
  passes where the output is NaN, as in PyTorch's, and is a choice, not a product, where the unit
  is off (an inf gradient gives 0 there, not NaN);
- the public functions take any arrays: C-contiguous float32/float64 arrays (a gradient of the
  output's shape and dtype, in any layout) go through a kernel from ``KERNEL_MIN_SIZE`` elements
  (``sigmoid`` at every size); everything else (small arrays, views, other dtypes) through the NumPy
  formula, as do all arrays when the JIT is off.

Example::

    >>> sigmoid(np.zeros(2, np.float32)).tolist()
    [0.5, 0.5]
    >>> sigmoid_backward(np.ones(1), np.array([0.5])).tolist()
    [0.25]
"""

from __future__ import annotations

import numpy as np

from minigrad.kernels._jit import jit_disabled, kernel
from minigrad.kernels.rnn_common import _OPTIONS, _sigmoid

# The gradient kernels: no "contract" (a multiply and an add fused into one rounding), so that
# they round exactly as NumPy's formula does.
_EXACT = {"error_model": "numpy", "nogil": True}


KERNEL_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
# From this many elements the kernels other than sigmoid's: below it NumPy's passes over a few cache
# lines take less time than the checks and the call around one pass.
KERNEL_MIN_SIZE = 4096


def _takes(y: np.ndarray) -> bool:
    """Whether a kernel can take ``y``: a C-contiguous float32/float64 array (and the JIT is on)."""
    return y.dtype in KERNEL_DTYPES and y.flags.c_contiguous and not jit_disabled()


def _gradient_by_kernel(k, grad: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """``k(grad, y, out)`` into a new array, or None where the kernel cannot take the arrays (the caller
    then computes its formula with NumPy): ``y`` as ``_takes`` says, of at least ``KERNEL_MIN_SIZE``
    elements, ``grad`` of its shape and dtype in any layout.

    A gradient broadcast from a sum (``y.sum().backward()``) is copied into a contiguous one: one pass
    more, still fewer than NumPy's formula makes.
    """
    if y.size < KERNEL_MIN_SIZE or type(grad) is not np.ndarray or grad.dtype != y.dtype or grad.shape != y.shape:
        return None
    if not _takes(y):
        return None
    out = np.empty_like(y)
    k(np.ascontiguousarray(grad).reshape(-1), y.reshape(-1), out.reshape(-1))
    return out


def _warm_unary(k):
    """The warmup of a kernel ``k(x, out)``: one call on tiny arrays of the dtype it is given."""
    def warm(dtype: np.dtype) -> None:
        x = np.zeros(3, dtype)
        k(x, np.empty_like(x))
    return warm


def _warm_gradient(k):
    """The warmup of a gradient kernel ``k(grad, y, out)``."""
    def warm(dtype: np.dtype) -> None:
        g = np.ones(3, dtype)
        k(g, g, np.empty_like(g))
    return warm


# ---------------------------------------------------------------------------------- sigmoid
def sigmoid_kernel_ref(x: np.ndarray, out: np.ndarray) -> None:
    """``out = 1 / (1 + exp(-x))`` with NumPy, PyTorch's formula.

    It needs no guard against overflow: where ``exp(-x)`` overflows to inf (x below about -88 in
    float32), ``1 / inf`` is 0, the value PyTorch gives there too (NumPy's warning about the
    overflow is off in an op's forward and backward: ``_quiet.py``).
    """
    np.negative(x, out=out)
    np.exp(out, out=out)
    out += 1
    np.reciprocal(out, out=out)


@kernel(**_OPTIONS)
def sigmoid_kernel(x, out):
    one = x.dtype.type(1)
    for i in range(x.size):
        out[i] = _sigmoid(x[i], one)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` of a float32 or float64 array, as a new array.

    Example: ``sigmoid(np.array([0.0, np.inf, -np.inf])).tolist()`` -> [0.5, 1.0, 0.0].
    """
    out = np.empty_like(x, order="K")  # C-contiguous where x is
    if _takes(x):
        sigmoid_kernel(x.reshape(-1), out.reshape(-1))
    else:
        sigmoid_kernel_ref(x, out)
    return out


# ------------------------------------------------------------------------------- gradients
def sigmoid_backward_kernel_ref(grad: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    np.subtract(1, y, out=out)
    np.multiply(grad, out, out=out)
    np.multiply(out, y, out=out)


def tanh_backward_kernel_ref(grad: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    np.multiply(y, y, out=out)
    np.subtract(1, out, out=out)
    np.multiply(grad, out, out=out)


@kernel(**_EXACT)
def sigmoid_backward_kernel(grad, y, out):
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = grad[i] * (one - y[i]) * y[i]


@kernel(**_EXACT)
def tanh_backward_kernel(grad, y, out):
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = grad[i] * (one - y[i] * y[i])


def sigmoid_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``grad * (1 - y) * y``: the gradient of sigmoid at the input whose output was ``y``.

    Example: ``sigmoid_backward(np.full(2, 2.0), np.array([0.5, 1.0])).tolist()`` -> [0.5, 0.0].
    """
    out = _gradient_by_kernel(sigmoid_backward_kernel, grad, y)
    return grad * (1 - y) * y if out is None else out


def tanh_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``grad * (1 - y * y)``: the gradient of tanh at the input whose output was ``y``.

    Example: ``tanh_backward(np.full(2, 2.0), np.array([0.0, 0.5])).tolist()`` -> [2.0, 1.5].
    """
    out = _gradient_by_kernel(tanh_backward_kernel, grad, y)
    return grad * (1 - y * y) if out is None else out


# ------------------------------------------------------------------------------------- ReLU
def relu_kernel_ref(x: np.ndarray, out: np.ndarray) -> None:
    """``out = max(x, 0)``: NaN stays NaN (and -0.0 gives +0.0, where PyTorch keeps -0.0)."""
    np.maximum(x, 0, out=out)


@kernel(**_EXACT)
def relu_kernel(x, out):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        out[i] = v if v > zero or v != v else zero  # NaN stays NaN, as in np.maximum


def relu(x: np.ndarray) -> np.ndarray:
    """``max(x, 0)`` of an array, as a new array (NaN stays NaN).

    Example: ``relu(np.array([-1.0, 2.0, np.nan])).tolist()`` -> [0.0, 2.0, nan].
    """
    if x.size < KERNEL_MIN_SIZE or not _takes(x):
        return np.maximum(x, 0)
    out = np.empty_like(x)
    relu_kernel(x.reshape(-1), out.reshape(-1))
    return out


def relu_backward_kernel_ref(grad: np.ndarray, y: np.ndarray, out: np.ndarray) -> None:
    np.copyto(out, np.where(y <= 0, 0, grad))


@kernel(**_EXACT)
def relu_backward_kernel(grad, y, out):
    zero = y.dtype.type(0)
    for i in range(y.size):
        out[i] = zero if y[i] <= zero else grad[i]


def relu_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``0 if y <= 0 else grad``: the gradient of ReLU at the input whose output was ``y``.

    Example: ``relu_backward(np.full(3, 2.0), np.array([0.0, 1.0, np.nan])).tolist()`` -> [0.0, 2.0, 2.0].
    """
    out = _gradient_by_kernel(relu_backward_kernel, grad, y)
    return np.where(y <= 0, 0, grad) if out is None else out


# ------------------------------------------------------------------------------- leaky ReLU
def leaky_relu_kernel_ref(x: np.ndarray, slope, out: np.ndarray, positive: np.ndarray) -> None:
    """``out = x if x > 0 else x * slope``, and ``positive = x > 0`` (what the gradient needs)."""
    np.greater(x, 0, out=positive)
    np.copyto(out, np.where(positive, x, x * slope))


def _warm_leaky_relu(dtype: np.dtype) -> None:
    x = np.zeros(3, dtype)
    leaky_relu_kernel(x, dtype.type(0.01), np.empty_like(x), np.empty(3, np.bool_))


@kernel(warmup=_warm_leaky_relu, **_EXACT)
def leaky_relu_kernel(x, slope, out, positive):
    zero = x.dtype.type(0)
    for i in range(x.size):
        v = x[i]
        p = v > zero
        positive[i] = p
        out[i] = v if p else v * slope


def leaky_relu(x: np.ndarray, slope: float) -> tuple[np.ndarray, np.ndarray]:
    """``(x if x > 0 else slope * x, x > 0)`` of a float array: the output and the mask its gradient needs.

    Example: ``leaky_relu(np.array([-2.0, 3.0]), 0.5)[0].tolist()`` -> [-1.0, 3.0].
    """
    slope = x.dtype.type(slope)
    if x.size < KERNEL_MIN_SIZE or not _takes(x):
        positive = x > 0
        return np.where(positive, x, x * slope), positive
    out, positive = np.empty_like(x), np.empty(x.shape, np.bool_)
    leaky_relu_kernel(x.reshape(-1), slope, out.reshape(-1), positive.reshape(-1))
    return out, positive


def leaky_relu_backward_kernel_ref(grad: np.ndarray, positive: np.ndarray, slope, out: np.ndarray) -> None:
    np.copyto(out, np.where(positive, grad, grad * slope))


def _warm_leaky_relu_backward(dtype: np.dtype) -> None:
    g = np.ones(3, dtype)
    leaky_relu_backward_kernel(g, np.ones(3, np.bool_), dtype.type(0.01), np.empty_like(g))


@kernel(warmup=_warm_leaky_relu_backward, **_EXACT)
def leaky_relu_backward_kernel(grad, positive, slope, out):
    for i in range(grad.size):
        out[i] = grad[i] if positive[i] else grad[i] * slope


def leaky_relu_backward(grad: np.ndarray, positive: np.ndarray, slope: float) -> np.ndarray:
    """``grad if positive else grad * slope``: the gradient of leaky ReLU, given where its input was > 0.

    Example: ``leaky_relu_backward(np.full(2, 4.0), np.array([True, False]), 0.5).tolist()`` -> [4.0, 2.0].
    """
    slope = grad.dtype.type(slope)
    if (grad.size < KERNEL_MIN_SIZE or grad.dtype not in KERNEL_DTYPES or positive.shape != grad.shape
            or not positive.flags.c_contiguous or jit_disabled()):
        return np.where(positive, grad, grad * slope)
    g = np.ascontiguousarray(grad)  # (a gradient broadcast from a sum: copied, one pass)
    out = np.empty(grad.shape, grad.dtype)
    leaky_relu_backward_kernel(g.reshape(-1), positive.reshape(-1), slope, out.reshape(-1))
    return out


# The warmups of the kernels above that share a signature (``python -m minigrad warmup --all``).
sigmoid_kernel.warmup_fn = _warm_unary(sigmoid_kernel)
relu_kernel.warmup_fn = _warm_unary(relu_kernel)
sigmoid_backward_kernel.warmup_fn = _warm_gradient(sigmoid_backward_kernel)
tanh_backward_kernel.warmup_fn = _warm_gradient(tanh_backward_kernel)
relu_backward_kernel.warmup_fn = _warm_gradient(relu_backward_kernel)
