"""GELU and its gradient in one pass each, ``erf`` in one pass, and the NumPy ``erf`` they are checked against.

    gelu(x)         = x Phi(x),                  Phi(x) = (1 + erf(x / sqrt 2)) / 2
    gelu'(x) grad   = grad * (Phi(x) + x phi(x)),  phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    tanh form:  Phi(x) ~ (1 + tanh(u)) / 2 = s,   u = sqrt(2/pi) (x + 0.044715 x^3), s = sigmoid(2u)
                gelu'(x) grad = grad * (s + 2 x s (1 - s) du/dx)

NumPy has no ``erf``: ``erf_array`` below computes it to float64 precision with about a hundred
passes over the array (a series and a continued fraction); it is the reference. The kernels
compute ``Phi`` per element instead, in one pass:

- float32: ``Phi(-|x|) = erfc(z) / 2`` with ``z = |x| / sqrt 2`` and Numerical Recipes'
  ``erfc(z) = t exp(-z^2 + c(t))``, ``t = 1 / (1 + z / 2)``, ``c`` a degree-9 polynomial in ``t``
  (fractional error below 1.2e-7 for every ``z >= 0``); ``Phi(x) = 1 - Phi(-x)`` for ``x > 0``.
  ``z^2 = x^2 / 2`` enters ``exp`` as two floats (Dekker's product and Knuth's two-sum): rounding
  ``x^2`` in float32 first would cost up to ``x^2`` ulps of ``exp``. Written with arithmetic only
  (``rnn_common._exp_neg`` for ``exp``), so LLVM vectorises the loop. Within 5e-7 relative of the
  exact GELU wherever it is above 1e-30 (tested against the C library's ``erfc``);
- float64: the C library's ``erfc`` and ``exp``, one call per element: exact to float64, not
  vectorised (float64 is for checking, not speed);
- the tanh form: ``rnn_common._sigmoid`` of ``2u``, vectorised in both dtypes;
- ``erf`` itself (``Erf``, GELU's formula under ``create_graph``): in float32 its odd series near 0
  (``|x| < ERF_SERIES_BELOW``), ``1 - erfc(|x|)`` from the same ``erfc`` beyond, within 2.5e-7
  relative of the C library's ``erf``; in float64 the C library's ``erf`` per element.

Rules: NaN in, NaN out; ``gelu(inf) = inf``, ``gelu(-inf) = NaN`` (``-inf * 0``, as PyTorch).
The public functions take any arrays: C-contiguous float32/float64 ones go through a kernel at
every size (no size bound: ``erf_array``'s hundred passes cost more than a kernel call even for one
element), the rest (views, half precision, the JIT off) through the NumPy formula in float64.

Example::

    >>> round(float(gelu(np.array([1.0]), "none")[0]), 6)
    0.841345
"""

from __future__ import annotations

import math

import numpy as np

from minigrad.kernels._jit import Inline, kernel
from minigrad.kernels.activations import _takes, _warm_gradient, _warm_unary
from minigrad.kernels.rnn_common import _OPTIONS, _exp_neg, _sigmoid

SQRT_HALF = math.sqrt(0.5)
SQRT_TWO = math.sqrt(2.0)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TANH_SCALE = math.sqrt(2.0 / math.pi)
TANH_CUBIC = 0.044715
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)

# ------------------------------------------------------------------------------- NumPy's erf
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

    - ``|x| < 1.5``: Maclaurin's series ``erf(x) = 2/sqrt(pi) sum_n (-1)^n x^(2n+1) / (n! (2n+1))``,
      summed by Horner's rule in ``x^2``. Below 1.5 the alternating terms cancel little.
    - ``|x| >= 1.5``: ``erf(x) = 1 - erfc(x)`` with erfc's continued fraction
      ``erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...))))``, evaluated from
      the bottom up; ``erfc(1.5) = 0.03``, so erfc's small error hardly reaches erf.
    - ``|x| >= 6``: ``erf(x) = sign(x)``; erfc(6) = 2e-17 is below float64's resolution at 1.

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
    out[near] = TWO_OVER_SQRT_PI * a * series

    b = z[far]  # continued fraction for erfc, from the deepest level up
    depth = b.copy()
    for k in range(_FRACTION_TERMS, 0, -1):
        depth = b + (0.5 * k) / depth
    out[far] = 1.0 - _exp_minus_square(b) / (math.sqrt(math.pi) * depth)

    out[z >= 6.0] = 1.0
    out[np.isnan(z)] = np.nan
    return np.copysign(out, x)


# ----------------------------------------------------------------------- Phi and phi, per element
# Dekker's product needs each operation rounded as written: no multiply-add fused into one rounding
# ("contract" could turn `split - x` into an exact fma and spoil the split).
_EXACT = {"error_model": "numpy", "nogil": True}


@Inline.with_options(_EXACT)
def _half_square(x, one):
    """``(hi, lo)`` with ``hi + lo = x^2 / 2`` exactly, for ``|x| <= 14`` (Dekker's product).

    ``x = x_hi + x_lo`` with halves of 12 bits (float32), whose products are exact; halving is exact.
    """
    T = type(one)
    split = T(4097) * x  # 2^12 + 1
    x_hi = split - (split - x)
    x_lo = x - x_hi
    hi = x * x
    lo = ((x_hi * x_hi - hi) + T(2) * x_hi * x_lo) + x_lo * x_lo
    return T(0.5) * hi, T(0.5) * lo


@Inline.with_options(_OPTIONS)
def _tail_exponent(a, one):
    """``(t, s, d)`` with ``Phi(-a) = erfc(a / sqrt 2) / 2 = t exp(-s) (1 - d) / 2``, float32 ``0 <= a <= 14``.

    Numerical Recipes' ``erfc(z) = t exp(-z^2 + c)``: the exponent ``c - (hi + lo)`` is summed as
    ``s + err`` exactly (two-sum), and ``exp(-(lo + err)) = 1 - d`` since both are below 1e-5. The
    caller takes ``exp(-s)``: a helper that did would be too big for LLVM to inline, and a call
    per element stops the loop from being vectorised.
    """
    T = type(one)
    hi, lo = _half_square(a, one)
    t = one / (one + T(0.5) * a * T(SQRT_HALF))
    c = T(-1.26551223) + t * (T(1.00002368) + t * (T(0.37409196) + t * (T(0.09678418) + t * (
        T(-0.18628806) + t * (T(0.27886807) + t * (T(-1.13520398) + t * (T(1.48851587) + t * (
            T(-0.82215223) + t * T(0.17087277)))))))))
    s = hi - c
    b = s - hi
    err = (hi - (s - b)) + (-c - b)  # s + err = hi - c exactly
    return t, s, lo + err


# ----------------------------------------------------------------------------------- GELU
def gelu_kernel_ref(x: np.ndarray, out: np.ndarray) -> None:
    """``out = x Phi(x)``, computed in float64 with ``erf_array``."""
    x64 = x.astype(np.float64, copy=False)
    out[...] = x64 * (0.5 * (1.0 + erf_array(x64 * SQRT_HALF)))


@kernel(**_OPTIONS)
def gelu_kernel(x, out):
    T = x.dtype.type
    one = T(1)
    single = one + T(1e-10) == one  # a constant per dtype: LLVM keeps one branch
    for i in range(x.size):
        v = x[i]
        if single:
            a = min(abs(v), T(14))  # Phi(-14) is 0 in float32
            t, s, d = _tail_exponent(a, one)
            tail = T(0.5) * t * _exp_neg(s, one) * (one - d)  # Phi(-|v|)
            cdf = tail if v < 0 else one - tail
        else:
            cdf = T(0.5) * math.erfc(-v * T(SQRT_HALF))
        out[i] = v * cdf if v == v else v


def gelu_backward_kernel_ref(grad: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """``out = grad (Phi(x) + x phi(x))``, the slope computed in float64."""
    x64 = x.astype(np.float64, copy=False)
    slope = 0.5 * (1.0 + erf_array(x64 * SQRT_HALF)) + x64 * INV_SQRT_2PI * np.exp(-0.5 * x64 * x64)
    out[...] = grad * slope.astype(out.dtype, copy=False)


@kernel(**_OPTIONS)
def gelu_backward_kernel(grad, x, out):
    T = x.dtype.type
    one = T(1)
    single = one + T(1e-10) == one
    for i in range(x.size):
        v = x[i]
        if single:
            a = min(abs(v), T(14))  # Phi(-14) and phi(14) are 0 in float32
            t, s, d = _tail_exponent(a, one)
            tail = T(0.5) * t * _exp_neg(s, one) * (one - d)
            hi, lo = _half_square(a, one)
            slope = (tail if v < 0 else one - tail) + v * (T(INV_SQRT_2PI) * _exp_neg(hi, one) * (one - lo))
        else:
            slope = T(0.5) * math.erfc(-v * T(SQRT_HALF)) + v * T(INV_SQRT_2PI) * math.exp(T(-0.5) * v * v)
        out[i] = grad[i] * slope


# ---------------------------------------------------------------------------- GELU, tanh form
# (1 + tanh(u)) / 2 = sigmoid(2u) and 1 - tanh(u)^2 = 4 s (1 - s) with s = sigmoid(2u): the same
# values with no cancellation where tanh(u) is near -1 (1 + tanh(u) would lose every digit there).
def gelu_tanh_kernel_ref(x: np.ndarray, out: np.ndarray) -> None:
    """``out = x sigmoid(2u)``, ``u = sqrt(2/pi) (x + 0.044715 x^3)``, in float64."""
    x64 = x.astype(np.float64, copy=False)
    with np.errstate(over="ignore"):  # exp(-2u) = inf gives sigmoid 0, its value there
        s = 1.0 / (1.0 + np.exp(-2.0 * TANH_SCALE * (x64 + TANH_CUBIC * x64 ** 3)))
    out[...] = x64 * s


@kernel(**_OPTIONS)
def gelu_tanh_kernel(x, out):
    T = x.dtype.type
    one = T(1)
    for i in range(x.size):
        v = x[i]
        out[i] = v * _sigmoid(T(2 * TANH_SCALE) * (v + T(TANH_CUBIC) * v * v * v), one)


def gelu_tanh_backward_kernel_ref(grad: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """``out = grad (s + 2 x s (1 - s) du/dx)``, ``s = sigmoid(2u)``, the slope in float64."""
    x64 = x.astype(np.float64, copy=False)
    with np.errstate(over="ignore"):
        s = 1.0 / (1.0 + np.exp(-2.0 * TANH_SCALE * (x64 + TANH_CUBIC * x64 ** 3)))
    slope = s + 2.0 * x64 * s * (1.0 - s) * TANH_SCALE * (1.0 + 3.0 * TANH_CUBIC * x64 * x64)
    out[...] = grad * slope.astype(out.dtype, copy=False)


@kernel(**_OPTIONS)
def gelu_tanh_backward_kernel(grad, x, out):
    T = x.dtype.type
    one = T(1)
    for i in range(x.size):
        v = x[i]
        s = _sigmoid(T(2 * TANH_SCALE) * (v + T(TANH_CUBIC) * v * v * v), one)
        du = T(TANH_SCALE) * (one + T(3 * TANH_CUBIC) * v * v)
        out[i] = grad[i] * (s + T(2) * v * s * (one - s) * du)


# ------------------------------------------------------------------------------------ erf
# erf(x) = x (c0 + c1 x^2 + ...) near 0, where 1 - erfc(|x|) would cancel; 1 - erfc(|x|) elsewhere,
# with erfc(|x|) = 2 Phi(-|x| sqrt 2) from _tail_exponent. The series' terms left out are below
# 3e-9 of the value for |x| < 0.8; from there erfc(|x|) < 0.26, so its 1.2e-7 relative error is
# under 4.2e-8 of erf.
_ERF_SERIES = tuple(TWO_OVER_SQRT_PI * c for c in _SERIES[:9])  # erf's own Maclaurin coefficients
ERF_SERIES_BELOW = 0.8


def erf_kernel_ref(x: np.ndarray, out: np.ndarray) -> None:
    """``out = erf(x)``, computed in float64 with ``erf_array``."""
    out[...] = erf_array(x.astype(np.float64, copy=False))


@kernel(**_OPTIONS)
def erf_kernel(x, out):
    T = x.dtype.type
    one = T(1)
    single = one + T(1e-10) == one
    c0, c1, c2, c3, c4, c5, c6, c7, c8 = _ERF_SERIES
    for i in range(x.size):
        v = x[i]
        if single:
            a = min(abs(v), T(4))  # erf(4) is 1 in float32
            t, s, d = _tail_exponent(a * T(SQRT_TWO), one)
            far = one - t * _exp_neg(s, one) * (one - d)  # 1 - erfc(|v|)
            w = v * v
            near = v * (T(c0) + w * (T(c1) + w * (T(c2) + w * (T(c3) + w * (T(c4) + w * (T(c5) + w * (
                T(c6) + w * (T(c7) + w * T(c8)))))))))
            # Both sides computed, one kept: a choice without a branch, so LLVM vectorises the loop.
            r = near if abs(v) < T(ERF_SERIES_BELOW) else (far if v > 0 else -far)
            out[i] = r if v == v else v
        else:
            out[i] = math.erf(v)


# --------------------------------------------------------------------------------- public
def gelu(x: np.ndarray, approximate: str) -> np.ndarray:
    """``x Phi(x)`` (``approximate='tanh'``: Phi by its tanh form) of a float array, in its dtype.

    Example: ``gelu(np.array([0.0, 100.0]), "tanh").tolist()`` -> [0.0, 100.0].
    """
    out = np.empty(x.shape, x.dtype)
    if _takes(x):
        k = gelu_tanh_kernel if approximate == "tanh" else gelu_kernel
        k(x.reshape(-1), out.reshape(-1))
    else:
        (gelu_tanh_kernel_ref if approximate == "tanh" else gelu_kernel_ref)(x, out)
    return out


def erf(x: np.ndarray) -> np.ndarray:
    """The error function of a float array, in its dtype: one pass for C-contiguous float32/float64.

    Example: ``erf(np.array([0.0, 1.0, -np.inf])).round(6).tolist()`` -> [0.0, 0.842701, -1.0].
    """
    out = np.empty(x.shape, x.dtype)
    if _takes(x):
        erf_kernel(x.reshape(-1), out.reshape(-1))
    else:
        erf_kernel_ref(x, out)
    return out


def gelu_backward(grad: np.ndarray, x: np.ndarray, approximate: str) -> np.ndarray:
    """``grad * gelu'(x)``: the gradient of GELU at its input ``x``, in the gradient's dtype.

    Example: ``gelu_backward(np.full(2, 2.0), np.array([0.0, 100.0]), "none").tolist()`` -> [1.0, 2.0].
    """
    out = np.empty(np.broadcast_shapes(grad.shape, x.shape), grad.dtype)
    if out.shape == x.shape and grad.dtype == x.dtype and _takes(x):
        k = gelu_tanh_backward_kernel if approximate == "tanh" else gelu_backward_kernel
        k(np.ascontiguousarray(grad).reshape(-1), x.reshape(-1), out.reshape(-1))
    else:
        (gelu_tanh_backward_kernel_ref if approximate == "tanh" else gelu_backward_kernel_ref)(grad, x, out)
    return out


# The warmups (``python -m minigrad warmup --all``): one call on tiny arrays of a dtype.
gelu_kernel.warmup_fn = _warm_unary(gelu_kernel)
erf_kernel.warmup_fn = _warm_unary(erf_kernel)
gelu_tanh_kernel.warmup_fn = _warm_unary(gelu_tanh_kernel)
gelu_backward_kernel.warmup_fn = _warm_gradient(gelu_backward_kernel)
gelu_tanh_backward_kernel.warmup_fn = _warm_gradient(gelu_tanh_backward_kernel)
