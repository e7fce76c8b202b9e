"""A float32 ``exp`` that Numba kernels can vectorise: ``fast_exp32(x)``.

Why: a Numba kernel calling ``math.exp`` on float32 calls the C library's scalar ``expf`` once per
element (Numba has no vector math library unless Intel's SVML is installed). A call is a wall for
LLVM's vectoriser, so a loop like ``total += exp(x[j] - m)`` runs one element at a time, while
NumPy's ``np.exp`` does 16 at a time. Written here as plain arithmetic, ``exp`` is inlined into the
kernel's loop and LLVM turns it into vector instructions like any other arithmetic.

How (the method of Cephes' ``expf``, the classic one):

1. Range reduction. Write ``x = n ln2 + r`` with ``n = round(x / ln2)``, an integer, so that
   ``|r| <= ln2 / 2``. Then ``exp(x) = 2^n * exp(r)``. ``n ln2`` is subtracted in two parts
   (``LN2_HI`` has few bits, so ``n * LN2_HI`` is exact) to keep ``r`` accurate.
2. On that small interval a degree-6 polynomial gives ``exp(r)`` to about one ulp:
   ``1 + r + r^2 (P0 + P1 r + ... + P5 r^5)`` (Cephes' minimax coefficients).
3. ``2^n`` is a float32 whose exponent field is ``n + 127`` and whose mantissa is 0: ``exp2``
   (``kernels/_intrinsics.py``) writes those bits and reinterprets them as a float32 (a
   *bitcast*). That only covers normal numbers (``-126 <= n <= 127``), so ``2^n`` is applied as
   two halves ``2^(n//2) * 2^(n - n//2)``: then ``n`` can go from -150 to 128, and results that
   overflow become ``inf`` and results below the smallest normal float become denormals (or 0)
   by the multiplication itself, as they should.

The recurrent kernels' sigmoid and tanh use a sibling, ``rnn_common._exp_split``: the same range
reduction, but returning ``expm1`` of the reduced argument, which keeps full precision for
``tanh`` of tiny inputs, in float32 and float64.

Special values are exact: the input is first clamped to [-104, 89] (beyond those ``exp`` is 0 or
inf in float32 anyway), so ``exp(-inf) = 0``, ``exp(+inf) = inf``; a NaN input gives NaN (it is
passed through at the end: converting NaN to an integer would be undefined). No branch depends on
the data: each step is a select, so the vectoriser keeps whole vectors. Accuracy: within 3e-7
relative of NumPy's ``np.exp`` for normal results (tests/kernels/test_softmax_parallel.py).

Only for float32 arguments (the constants are float32; a float64 argument would be computed in
float64 with float32 accuracy). From plain Python (``NUMBA_DISABLE_JIT=1``) it takes NumPy float32
scalars or arrays: ``fast_exp32_ref`` is the same steps on arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from minigrad._quiet import quiet
from minigrad.kernels._intrinsics import exp2, stack_array
from minigrad.kernels._jit import Inline, cached_njit

_f = np.float32
LOG2E = _f(1.44269504088896341)
LN2_HI = _f(0.693359375)      # ln 2 = LN2_HI + LN2_LO; LN2_HI has 9 significant bits: n * LN2_HI is exact
LN2_LO = _f(-2.12194440e-4)
P0, P1, P2 = _f(5.0000001201e-1), _f(1.6666665459e-1), _f(4.1665795894e-2)
P3, P4, P5 = _f(8.3334519073e-3), _f(1.3981999507e-3), _f(1.9875691500e-4)
X_MIN = _f(-104.0)  # exp(-104) < half the smallest denormal: 0
X_MAX = _f(89.0)    # exp(89) > the largest float32: inf
HALF, ONE = _f(0.5), _f(1.0)




# `contract` only (fused multiply-adds in the polynomial): no `nnan`/`ninf`, NaN and inf matter here.
_OPTIONS = {"error_model": "numpy", "nogil": True, "fastmath": {"contract"}}


def _fast_exp32_steps(x):
    """``exp(x)`` of a float32 ``x``, as a float32 (about 1 ulp; see the module docstring)."""
    xc = x if x > X_MIN else X_MIN  # NaN becomes X_MIN here (and is put back at the end)
    xc = xc if xc < X_MAX else X_MAX
    n = np.floor(xc * LOG2E + HALF)  # round(x / ln2), as a float
    r = xc - n * LN2_HI
    r = r - n * LN2_LO
    p = ((((P5 * r + P4) * r + P3) * r + P2) * r + P1) * r + P0
    p = p * (r * r) + r + ONE  # exp(r)
    n1 = np.floor(n * HALF)  # 2^n = 2^n1 * 2^n2, each half a normal float32: -75 <= n1, n2 <= 65
    n2 = n - n1
    y = p * exp2(n1, ONE)
    y = y * exp2(n2, ONE)
    return y if x == x else x


def _fast_exp32_python(x):
    """The plain-Python ``fast_exp32`` (NUMBA_DISABLE_JIT=1): the same steps on NumPy float32 scalars."""
    with quiet():  # overflow to inf is the answer, not an accident
        return _fast_exp32_steps(np.float32(x))


def _make_fast_exp32() -> Any:
    return cached_njit(_fast_exp32_steps, **_OPTIONS)


fast_exp32 = Inline(_fast_exp32_python, make_jit=_make_fast_exp32)


LANES = 16  # one AVX-512 vector of float32 (two AVX2 vectors)


# `lanes = stack_lanes(zero)` inside a kernel: LANES independent partial results of a reduction
# (max, sum). Without `reassoc` LLVM may not reorder a single running sum, so a loop adding into
# one variable runs one element at a time; LANES partial sums are LANES independent chains, which
# it turns into one vector, and the lanes are combined once at the end of the row.
stack_lanes = stack_array(lambda dtype: (LANES,))


def fast_exp32_ref(x: np.ndarray) -> np.ndarray:
    """The same steps on a float32 array in NumPy (what the tests compare ``np.exp`` with)."""
    x = np.asarray(x, np.float32)
    xc = np.minimum(np.where(x > X_MIN, x, X_MIN), X_MAX)
    n = np.floor(xc * LOG2E + HALF)
    r = (xc - n * LN2_HI) - n * LN2_LO
    p = ((((P5 * r + P4) * r + P3) * r + P2) * r + P1) * r + P0
    p = p * (r * r) + r + ONE
    k = n.astype(np.int32)
    k1 = k >> 1
    k2 = k - k1
    with quiet():
        y = p * ((k1 + 127) << 23).view(np.float32) * ((k2 + 127) << 23).view(np.float32)
    return np.where(x == x, y, x).astype(np.float32)
