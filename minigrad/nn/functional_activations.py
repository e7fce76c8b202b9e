"""Activations for ``mg.nn.functional``: leaky_relu, elu, gelu, softplus, the erf that gelu needs,
and the ones composed from other ops (silu, logsigmoid, hardtanh, relu6) with vector helpers
(normalize, cosine_similarity).

Each activation with its own gradient is one ``Function`` node. ``erf`` is computed here with
NumPy alone, accurate to float64 (within a few units in the last place, checked against
``math.erf`` in the tests), since NumPy has no erf:

- ``|x| < 1.5``: Maclaurin's series ``erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))``,
  summed by Horner's rule in ``x^2``. Below 1.5 the alternating terms cancel little.
- ``|x| >= 1.5``: ``erf(x) = 1 - erfc(x)`` with erfc's continued fraction
  ``erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))``, evaluated from the
  bottom up. ``exp(-x^2)`` takes ``x^2`` exactly as two floats: rounding ``x^2`` first would cost
  up to ``x^2`` ulps. ``erfc(1.5) = 0.03``, so erfc's small error hardly reaches erf.
- ``|x| >= 6``: ``erf(x) = sign(x)``; erfc(6) = 2e-17 is below float64's resolution at 1.

Example::

    >>> import minigrad as mg
    >>> F = mg.nn.functional
    >>> F.leaky_relu(mg.tensor([-2.0, 3.0]), 0.25).tolist()
    [-0.5, 3.0]
    >>> round(F.gelu(mg.tensor([1.0])).item(), 6)
    0.841345
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.autograd import Function
from minigrad.kernels import activations
from minigrad.nn._checks import _as_tensor, _check_floating, _maybe_inplace
from minigrad.ops import grad_math as G
from minigrad.ops.clamp_where import where
from minigrad.tensor import Tensor

__all__ = ["leaky_relu", "elu", "gelu", "softplus"]

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
# Maclaurin coefficients (-1)^n / (n! (2n+1)); 30 terms reach 1e-30 at |x| = 1.5.
_SERIES = tuple((-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(30))
_FRACTION_TERMS = 80  # depth of erfc's continued fraction: converged to 1 ulp of erf for x >= 1.5


def _exp_minus_square(x: np.ndarray) -> np.ndarray:
    """``exp(-x^2)`` with ``x^2`` taken exactly as ``hi + lo`` (Dekker's product).

    ``x * x`` rounds to ``hi`` with an error ``lo`` of up to half an ulp; ``exp(-hi)`` would
    turn it into a relative error of ``x^2`` times as much. ``exp(-lo) = 1 - lo`` to float64
    accuracy since ``|lo| < 1e-15``.
    """
    split = 134217729.0 * x  # 2^27 + 1: x = x_hi + x_lo with 26-bit halves, whose products are exact
    x_hi = split - (split - x)
    x_lo = x - x_hi
    hi = x * x
    lo = ((x_hi * x_hi - hi) + 2.0 * x_hi * x_lo) + x_lo * x_lo
    return np.exp(-hi) * (1.0 - lo)


def erf_array(x: np.ndarray) -> np.ndarray:
    """The error function of a float array, in float64 precision (NumPy has none).

    Example::

        >>> erf_array(np.array([0.0, 0.5, -3.5, 10.0])).round(12).tolist()
        [0.0, 0.520499877813, -0.999999256902, 1.0]
    """
    z = np.abs(np.asarray(x, dtype=np.float64))
    out = np.empty_like(z)
    near = z < 1.5
    far = ~near & (z < 6.0)

    a = z[near]
    a2 = a * a
    series = np.zeros_like(a)
    for coefficient in reversed(_SERIES):  # Horner: (..((c_29 a^2 + c_28) a^2 + c_27) ...) + c_0
        series = series * a2 + coefficient
    out[near] = _TWO_OVER_SQRT_PI * a * series

    b = z[far]  # continued fraction for erfc, from the deepest level up
    depth = b.copy()
    for k in range(_FRACTION_TERMS, 0, -1):
        depth = b + (0.5 * k) / depth
    out[far] = 1.0 - _exp_minus_square(b) / (math.sqrt(math.pi) * depth)

    out[z >= 6.0] = 1.0
    out[np.isnan(z)] = np.nan
    return np.copysign(out, x)


class Erf(Function):
    """``erf(x)``; derivative ``2/sqrt(pi) exp(-x^2)``."""

    name = "erf"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return erf_array(x).astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (x,) = self.saved_tensors
        if self.create_graph:
            return grad * (_TWO_OVER_SQRT_PI * (-x * x).exp())
        return grad * (_TWO_OVER_SQRT_PI * np.exp(-x * x)).astype(grad.dtype, copy=False)


def erf(input: Tensor) -> Tensor:
    """The error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``, differentiable.

    Example::

        >>> import minigrad as mg
        >>> round(erf(mg.tensor([1.0], dtype=mg.float64)).item(), 12)
        0.84270079295
    """
    input = _as_tensor(input, "erf")
    _check_floating(input, "erf")
    return Erf.apply(input)


# ------------------------------------------------------------------------------------------------
# Piecewise activations
# ------------------------------------------------------------------------------------------------


class LeakyReLU(Function):
    """``x`` where ``x > 0``, ``slope * x`` elsewhere; gradient 1 or ``slope`` (``slope`` at 0, as PyTorch)."""

    name = "leaky_relu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        y, positive = activations.leaky_relu(x, self.negative_slope)  # x if x > 0 else slope * x, and x > 0
        self.save_for_backward(positive)
        return y

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (positive,) = self.saved_tensors  # a constant mask
        if type(grad) is np.ndarray:  # grad if x > 0 else slope * grad, in one pass where a kernel can
            return activations.leaky_relu_backward(grad, positive, self.negative_slope)
        return G.where(positive, grad, grad * grad.dtype.type(self.negative_slope))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``max(0, x) + negative_slope * min(0, x)``: a ReLU that lets a little gradient through below 0.

    ``inplace=True`` writes the result into ``input`` (PyTorch's ``leaky_relu_``) and returns it.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.leaky_relu(mg.tensor([-1.0, 2.0]), 0.5).tolist()
        [-0.5, 2.0]
    """
    input = _as_tensor(input, "leaky_relu")
    _check_floating(input, "leaky_relu")
    slope = float(negative_slope)
    return _maybe_inplace(input, inplace, "leaky_relu", lambda x: LeakyReLU.apply(x, negative_slope=slope))


class ELU(Function):
    """``x`` where ``x > 0``, ``alpha (exp(x) - 1)`` elsewhere; gradient 1 or ``alpha exp(x)``."""

    name = "elu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        alpha = x.dtype.type(self.alpha)
        negative_part = alpha * np.expm1(np.minimum(x, 0))  # min: no overflow of exp for large x
        self.save_for_backward(x, negative_part)
        return G.where(x > 0, x, negative_part)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, negative_part = self.saved_tensors
        alpha = grad.dtype.type(self.alpha)
        if self.create_graph:  # alpha exp(min(x, 0)), recomputed from x so that it is differentiable
            return G.where(G.values(x) > 0, grad, grad * (alpha * x.clamp(max=0).exp()))
        return G.where(x > 0, grad, grad * (negative_part + alpha))  # alpha exp(x) = alpha (exp(x) - 1) + alpha


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise (``inplace`` as leaky_relu).

    Example::

        >>> import minigrad as mg
        >>> [round(v, 4) for v in mg.nn.functional.elu(mg.tensor([-1.0, 2.0])).tolist()]
        [-0.6321, 2.0]
    """
    input = _as_tensor(input, "elu")
    _check_floating(input, "elu")
    return _maybe_inplace(input, inplace, "elu", lambda x: ELU.apply(x, alpha=float(alpha)))


# ------------------------------------------------------------------------------------------------
# GELU: x * Phi(x), Phi the standard normal CDF
# ------------------------------------------------------------------------------------------------

_SQRT_HALF = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_SCALE = math.sqrt(2.0 / math.pi)
_TANH_CUBIC = 0.044715


class GELU(Function):
    """``x Phi(x)`` with ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``; gradient ``Phi(x) + x phi(x)``.

    ``approximate='tanh'`` replaces Phi by ``(1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``.
    """

    name = "gelu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        x64 = x.astype(np.float64, copy=False)
        if self.approximate == "tanh":
            cdf = 0.5 * (1.0 + np.tanh(_TANH_SCALE * (x64 + _TANH_CUBIC * x64**3)))
        else:
            cdf = 0.5 * (1.0 + erf_array(x64 * _SQRT_HALF))
        self.save_for_backward(x64, cdf, x)
        return (x64 * cdf).astype(x.dtype, copy=False)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        x, cdf, x_in = self.saved_tensors
        if self.create_graph:  # Phi recomputed from the input Tensor, so that the slope is differentiable
            x = x_in
            if self.approximate == "tanh":
                cdf = 0.5 * (1.0 + (_TANH_SCALE * (x + _TANH_CUBIC * x ** 3)).tanh())
            else:
                cdf = 0.5 * (1.0 + Erf.apply(x * _SQRT_HALF))
        if self.approximate == "tanh":
            t = 2.0 * cdf - 1.0  # the tanh
            d_inner = _TANH_SCALE * (1.0 + 3.0 * _TANH_CUBIC * x * x)
            slope = cdf + 0.5 * x * (1.0 - t * t) * d_inner
        else:
            slope = cdf + x * _INV_SQRT_2PI * G.exp(-0.5 * x * x)
        return grad * (slope if self.create_graph else slope.astype(grad.dtype, copy=False))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)`` (Phi the standard normal CDF), as in transformers.

    ``approximate='tanh'`` uses the tanh approximation of Phi (GPT-2's).

    Example::

        >>> import minigrad as mg
        >>> [round(v, 4) for v in mg.nn.functional.gelu(mg.tensor([-1.0, 0.0, 1.0])).tolist()]
        [-0.1587, 0.0, 0.8413]
    """
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    input = _as_tensor(input, "gelu")
    _check_floating(input, "gelu")
    return GELU.apply(input, approximate=approximate)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``, a smooth ReLU; the identity where ``beta x > threshold``.

    Example::

        >>> import minigrad as mg
        >>> [round(v, 4) for v in mg.nn.functional.softplus(mg.tensor([0.0, 30.0])).tolist()]
        [0.6931, 30.0]
    """
    input = _as_tensor(input, "softplus")
    _check_floating(input, "softplus")
    return input.softplus(beta, threshold)


# ----------------------------------------------------------------------------------- composed from other ops
# Their gradients (and second derivatives) come from the ops they are made of.


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)`` (also called swish).

    Example::

        >>> import minigrad as mg
        >>> [round(v, 4) for v in mg.nn.functional.silu(mg.tensor([-1.0, 0.0, 1.0])).tolist()]
        [-0.2689, 0.0, 0.7311]
    """
    input = _as_tensor(input, "silu")
    _check_floating(input, "silu")
    return _maybe_inplace(input, inplace, "silu", lambda x: x * x.sigmoid())


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))`` without overflow: ``-softplus(-x)``.

    Example::

        >>> import minigrad as mg
        >>> [round(v, 4) for v in mg.nn.functional.logsigmoid(mg.tensor([0.0, -100.0])).tolist()]
        [-0.6931, -100.0]
    """
    input = _as_tensor(input, "logsigmoid")
    _check_floating(input, "logsigmoid")
    return -softplus(-input)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` clamped to ``[min_val, max_val]``; the gradient is 1 strictly inside, 0 elsewhere (PyTorch's rule).

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.hardtanh(mg.tensor([-2.0, 0.5, 3.0])).tolist()
        [-1.0, 0.5, 1.0]
    """
    input = _as_tensor(input, "hardtanh")
    _check_floating(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not be greater than max_val ({max_val})")

    def compute(x: Tensor) -> Tensor:
        inside = Tensor((x._array > min_val) & (x._array < max_val))
        return where(inside, x, x.detach().clamp(min_val, max_val))  # outside: a constant, gradient 0

    return _maybe_inplace(input, inplace, "hardtanh", compute)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``. Example: ``mg.nn.functional.relu6(mg.tensor([-1.0, 8.0])).tolist()`` -> [0.0, 6.0]."""
    return hardtanh(input, 0.0, 6.0, inplace)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """``x / max(||x||_p, eps)`` along ``dim``: unit vectors.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.normalize(mg.tensor([[3.0, 4.0]], dtype=mg.float64)).tolist()
        [[0.6, 0.8]]
    """
    input = _as_tensor(input, "normalize")
    _check_floating(input, "normalize")
    return input / input.norm(p, dim=dim, keepdim=True).clamp_min(eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between ``x1`` and ``x2`` along ``dim`` (they broadcast): each is
    divided by its norm, at least ``eps``, then the products are summed, as PyTorch computes it.

    Example::

        >>> import minigrad as mg
        >>> mg.nn.functional.cosine_similarity(mg.tensor([[1.0, 0.0]]), mg.tensor([[1.0, 1.0]])).tolist()
        [0.7071067690849304]
    """
    x1, x2 = _as_tensor(x1, "cosine_similarity"), _as_tensor(x2, "cosine_similarity")
    _check_floating(x1, "cosine_similarity")
    _check_floating(x2, "cosine_similarity")
    shape = np.broadcast_shapes(x1.shape, x2.shape)
    x1, x2 = x1.expand(*shape), x2.expand(*shape)
    n1 = x1.norm(dim=dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(dim=dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)
