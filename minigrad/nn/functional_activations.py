"""Activations for ``mg.nn.functional``: leaky_relu, elu, gelu, softplus, the erf that gelu needs,
and the ones composed from other ops (silu, logsigmoid, hardtanh, relu6) with vector helpers
(normalize, cosine_similarity).

Each activation with its own gradient is one ``Function`` node. ``erf`` and GELU's normal CDF are
computed without SciPy: ``kernels/gelu.py`` explains how (a float64 NumPy ``erf``, and one-pass
kernels for GELU).

Example::

    >>> import minigrad as mg
    >>> F = mg.nn.functional
    >>> F.leaky_relu(mg.tensor([-2.0, 3.0]), 0.25).tolist()
    [-0.5, 3.0]
    >>> round(F.gelu(mg.tensor([1.0])).item(), 6)
    0.841345
"""

from __future__ import annotations

import numpy as np

from minigrad.autograd import Function
from minigrad.kernels import activations, smooth_activations
from minigrad.kernels import gelu as gelu_kernels
from minigrad.kernels.gelu import INV_SQRT_2PI, SQRT_HALF, TANH_CUBIC, TANH_SCALE, TWO_OVER_SQRT_PI
from minigrad.nn._checks import _as_tensor, _check_floating, _maybe_inplace
from minigrad.ops import grad_math as G
from minigrad.ops.clamp_where import where
from minigrad.tensor import Tensor

__all__ = ["leaky_relu", "elu", "gelu", "softplus"]

class Erf(Function):
    """``erf(x)``; derivative ``2/sqrt(pi) exp(-x^2)``."""

    name = "erf"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return gelu_kernels.erf(x)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (x,) = self.saved_tensors
        if self.create_graph:
            return grad * (TWO_OVER_SQRT_PI * (-x * x).exp())
        return grad * (TWO_OVER_SQRT_PI * np.exp(-x * x)).astype(grad.dtype, copy=False)


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
    """``x`` where ``x > 0``, ``alpha (exp(x) - 1)`` elsewhere; gradient 1 or ``alpha exp(x)``.

    Arrays go through ``kernels/smooth_activations.py`` (one pass each way).
    """

    name = "elu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return smooth_activations.elu(x, self.alpha)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (x,) = self.saved_tensors
        if not self.create_graph:
            return smooth_activations.elu_backward(grad, x, self.alpha)
        alpha = grad.dtype.type(self.alpha)  # alpha exp(min(x, 0)), from x so that it is differentiable
        return G.where(G.values(x) > 0, grad, grad * (alpha * x.clamp(max=0).exp()))


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

class GELU(Function):
    """``x Phi(x)`` with ``Phi(x) = (1 + erf(x / sqrt 2)) / 2``; gradient ``Phi(x) + x phi(x)``.

    ``approximate='tanh'`` replaces Phi by ``(1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2``.
    Arrays go through ``kernels/gelu.py`` (one pass each way); under ``create_graph`` the slope is
    the same formula written with Tensor ops, so that it is differentiable.
    """

    name = "gelu"

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.save_for_backward(x)
        return gelu_kernels.gelu(x, self.approximate)

    def backward(self, grad: np.ndarray) -> np.ndarray:
        (x,) = self.saved_tensors
        if not self.create_graph:
            return gelu_kernels.gelu_backward(grad, x, self.approximate)
        if self.approximate == "tanh":
            t = (TANH_SCALE * (x + TANH_CUBIC * x ** 3)).tanh()
            cdf = 0.5 * (1.0 + t)
            d_inner = TANH_SCALE * (1.0 + 3.0 * TANH_CUBIC * x * x)
            slope = cdf + 0.5 * x * (1.0 - t * t) * d_inner
        else:
            cdf = 0.5 * (1.0 + Erf.apply(x * SQRT_HALF))
            slope = cdf + x * INV_SQRT_2PI * G.exp(-0.5 * x * x)
        return grad * slope


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
