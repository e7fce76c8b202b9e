"""Sigmoid, and the gradients of sigmoid and tanh, in one pass over memory.

NumPy computes ``1 / (1 + exp(-x))`` as four passes (negate, exp, add, reciprocal) and the
gradients ``grad * (1 - y) * y`` and ``grad * (1 - y * y)`` as three, each pass reading and
writing a whole array. These kernels read each input once and write the output once:

    sigmoid(x)          = 1 / (1 + e^-x)        (rnn_common._sigmoid: e^-|x| only, never overflows)
    sigmoid'(x) grad    = grad * (1 - y) * y     with y = sigmoid(x), the saved output
    tanh'(x) grad       = grad * (1 - y * y)     with y = tanh(x), the saved output

The ``exp`` inside ``_sigmoid`` is written as arithmetic (range reduction and a polynomial), so LLVM
turns the loop into vector instructions; Numba's own ``exp`` is a call per element. ``tanh``'s
forward stays NumPy's ``np.tanh``, already one vectorised pass.

Rules:
- the gradient kernels compute the textbook product in NumPy's order, with no fused multiply-add,
  so their results are NumPy's bit for bit (the sigmoid differs from NumPy's formula by rounding:
  both are within about one unit in the last place of the true value);
- NaN in, NaN out; ``sigmoid(+inf) = 1``, ``sigmoid(-inf) = 0``, as in PyTorch;
- the public functions take any arrays: C-contiguous float32/float64 arrays of one shape and dtype
  go through a kernel (the gradients from ``BACKWARD_KERNEL_MIN_SIZE`` elements), everything else
  (small gradients, broadcast gradients, views, other dtypes) through the NumPy formula, as do all
  arrays when the JIT is off.

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
# The gradient kernels from this many elements: below it NumPy's three passes over a few cache lines
# take less time than the checks and the call around one pass.
BACKWARD_KERNEL_MIN_SIZE = 4096


def _flat(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether a kernel can take ``a`` and ``b``: C-contiguous float32/float64 arrays of one shape and dtype.

    (Written out, not as a loop: it runs on every call, and a tiny array's whole kernel takes about as long.)
    """
    return (type(b) is np.ndarray and a.dtype in KERNEL_DTYPES and b.dtype == a.dtype and b.shape == a.shape
            and a.flags.c_contiguous and b.flags.c_contiguous and not jit_disabled())


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


def _warm_sigmoid(dtype: np.dtype) -> None:
    x = np.zeros(3, dtype)
    sigmoid_kernel(x, np.empty_like(x))


@kernel(warmup=_warm_sigmoid, **_OPTIONS)
def sigmoid_kernel(x, out):
    one = x.dtype.type(1)
    for i in range(x.size):
        out[i] = _sigmoid(x[i], one)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-x))`` of a float32 or float64 array, as a new array.

    Example: ``sigmoid(np.array([0.0, np.inf, -np.inf])).tolist()`` -> [0.5, 1.0, 0.0].
    """
    out = np.empty_like(x, order="K")  # C-contiguous where x is
    if _flat(x, out):
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


def _warm_sigmoid_backward(dtype: np.dtype) -> None:
    g = np.ones(3, dtype)
    sigmoid_backward_kernel(g, g, np.empty_like(g))


def _warm_tanh_backward(dtype: np.dtype) -> None:
    g = np.ones(3, dtype)
    tanh_backward_kernel(g, g, np.empty_like(g))


@kernel(warmup=_warm_sigmoid_backward, **_EXACT)
def sigmoid_backward_kernel(grad, y, out):
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = grad[i] * (one - y[i]) * y[i]


@kernel(warmup=_warm_tanh_backward, **_EXACT)
def tanh_backward_kernel(grad, y, out):
    one = y.dtype.type(1)
    for i in range(y.size):
        out[i] = grad[i] * (one - y[i] * y[i])


def sigmoid_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``grad * (1 - y) * y``: the gradient of sigmoid at the input whose output was ``y``.

    Example: ``sigmoid_backward(np.full(2, 2.0), np.array([0.5, 1.0])).tolist()`` -> [0.5, 0.0].
    """
    if y.size < BACKWARD_KERNEL_MIN_SIZE or not _flat(y, grad):
        return grad * (1 - y) * y
    out = np.empty_like(y)
    sigmoid_backward_kernel(grad.reshape(-1), y.reshape(-1), out.reshape(-1))
    return out


def tanh_backward(grad: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``grad * (1 - y * y)``: the gradient of tanh at the input whose output was ``y``.

    Example: ``tanh_backward(np.full(2, 2.0), np.array([0.0, 0.5])).tolist()`` -> [2.0, 1.5].
    """
    if y.size < BACKWARD_KERNEL_MIN_SIZE or not _flat(y, grad):
        return grad * (1 - y * y)
    out = np.empty_like(y)
    tanh_backward_kernel(grad.reshape(-1), y.reshape(-1), out.reshape(-1))
    return out
