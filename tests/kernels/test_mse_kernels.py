"""The fused MSE kernels (``mse_sum``, ``mse_grad``) agree with their NumPy references.

Both kernels take 1-D C-contiguous arrays (``minigrad.nn.functional.mse_loss`` flattens with
``reshape(-1)``). Sizes that are not multiples of a SIMD vector (16 float32 lanes) cover the
vector loop's tail; NaN and +-inf must come out exactly as NumPy gives them.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from minigrad.kernels.loss import mse_grad, mse_grad_ref, mse_sum, mse_sum_ref

DTYPES = [np.float32, np.float64]
SIZES = [0, 1, 7, 15, 16, 17, 33, 1000, 4099]


def _pair(rng, n, dtype):
    return rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)


def _exact_sum(x, y):
    """The terms ``(x_i - y_i)^2`` as the kernel rounds them (in the input dtype), summed exactly."""
    d = x - y
    return math.fsum((d * d).astype(np.float64).tolist())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_mse_sum_matches_reference_within_float64_rounding(dtype, n):
    x, y = _pair(np.random.default_rng(n), n, dtype)
    got, ref = mse_sum(x, y), mse_sum_ref(x, y)
    assert isinstance(got, float)
    exact = _exact_sum(x, y)
    # Any order of n float64 additions of non-negative terms is within n * eps * sum of the exact
    # sum (and an FMA, allowed by "contract", rounds once where a multiply and an add round twice).
    bound = 2 * max(n, 1) * np.finfo(np.float64).eps * exact
    assert abs(got - exact) <= bound and abs(ref - exact) <= bound
    assert got == pytest.approx(ref, rel=1e-12, abs=0.0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", SIZES)
def test_mse_grad_matches_reference_exactly(dtype, n):
    x, y = _pair(np.random.default_rng(n + 1), n, dtype)
    for scale in (2.0 / max(n, 1), -0.3, 2.0):
        got, ref = np.full(n, np.nan, dtype), np.full(n, np.nan, dtype)
        assert mse_grad(x, y, scale, got) is None
        mse_grad_ref(x, y, scale, ref)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, ref)  # the same two roundings in the input dtype


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [5, 17, 40])
def test_nan_and_inf_propagate(dtype, n):
    rng = np.random.default_rng(7)
    cases = {  # (x value, y value) at one position -> the sum
        "nan in x": (np.nan, 0.0, math.nan),
        "nan in y": (1.0, np.nan, math.nan),
        "+inf": (np.inf, 1.0, math.inf),
        "-inf": (-np.inf, 1.0, math.inf),
        "inf - inf": (np.inf, np.inf, math.nan),
    }
    for where in (0, n // 2, n - 1):  # the vector body and the scalar tail
        for name, (a, b, total) in cases.items():
            x, y = _pair(rng, n, dtype)
            x[where], y[where] = a, b
            with np.errstate(all="ignore"):
                ref = mse_sum_ref(x, y)
                got = mse_sum(x, y)
            np.testing.assert_equal(got, total, err_msg=f"{name} at {where}")
            np.testing.assert_equal(ref, total, err_msg=f"{name} at {where} (reference)")
            g, r = np.empty(n, dtype), np.empty(n, dtype)
            with np.errstate(all="ignore"):
                mse_grad(x, y, 0.5, g)
                mse_grad_ref(x, y, 0.5, r)
            np.testing.assert_array_equal(g, r, err_msg=f"{name} at {where}")
            assert np.isfinite(g).sum() == n - 1


def test_float32_squares_overflow_to_inf_as_in_numpy_and_pytorch():
    """A float32 difference of 3e19 squares to inf in float32 (the sum does not rescue it)."""
    x = np.array([3e19, 0.0, 1.0], np.float32)
    y = np.zeros(3, np.float32)
    with np.errstate(over="ignore"):
        assert mse_sum(x, y) == mse_sum_ref(x, y) == math.inf
    assert mse_sum(x.astype(np.float64), y.astype(np.float64)) == pytest.approx(9e38 + 1.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_arrays(dtype):
    x = np.empty(0, dtype)
    assert mse_sum(x, x) == mse_sum_ref(x, x) == 0.0
    out = np.empty(0, dtype)
    mse_grad(x, x, 1.0, out)
    mse_grad_ref(x, x, 1.0, out)
    assert out.shape == (0,)


@pytest.mark.parametrize("dtype", DTYPES)
def test_reference_takes_any_layout(dtype):
    """The references (what runs while the kernels compile) accept the op's arrays as they come."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 7)).astype(dtype).T  # transposed view
    y = rng.standard_normal((7, 5)).astype(dtype)
    xc = np.ascontiguousarray(x).reshape(-1)
    assert mse_sum_ref(x, y) == pytest.approx(mse_sum(xc, y.reshape(-1)), rel=1e-12)
    got, ref = np.empty(35, dtype), np.empty((7, 5), dtype)
    mse_grad(xc, y.reshape(-1), 0.7, got)
    mse_grad_ref(x, y, 0.7, ref)
    np.testing.assert_array_equal(got.reshape(7, 5), ref)
