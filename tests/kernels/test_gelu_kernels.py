"""kernels/gelu.py: the kernels agree with their NumPy references and with the exact GELU and erf
(the C library's erfc and erf, in float64), on every kind of array, special values included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from minigrad.kernels import gelu as K

DTYPES = [np.float32, np.float64]
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 13.5, -13.5, 14.5, -14.5, 100.0, -100.0]


def grid(dtype) -> np.ndarray:
    """A dense grid over [-15, 15] (where GELU goes from 0 to x) and the special values."""
    return np.concatenate([np.linspace(-15, 15, 6001), SPECIAL]).astype(dtype)


def exact_gelu(x: np.ndarray) -> np.ndarray:
    return np.array([v * 0.5 * math.erfc(-v * K.SQRT_HALF) for v in x.astype(np.float64).tolist()])


def exact_slope(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * math.erfc(-v * K.SQRT_HALF) + v * K.INV_SQRT_2PI * math.exp(-0.5 * v * v)
                     for v in x.astype(np.float64).tolist()])


def run(kernel, *args):
    out = np.empty_like(args[-1])
    with np.errstate(all="ignore"):  # NUMBA_DISABLE_JIT runs the kernels on NumPy scalars, which warn
        kernel(*args, out)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_kernel_is_exact_to_float32_or_float64(dtype):
    """float32: within 5e-7 relative of the exact GELU wherever it is above 1e-30 (Numerical Recipes'
    erfc, 1.2e-7, plus float32 rounding); float64: the C library's erfc, within 1e-15."""
    x = grid(dtype)
    finite = np.isfinite(x)
    with np.errstate(all="ignore"):
        want = exact_gelu(x[finite])
    got = run(K.gelu_kernel, x)[finite].astype(np.float64)
    big = np.abs(want) > 1e-30
    rel = np.abs(got - want)[big] / np.abs(want)[big]
    assert rel.max() < (5e-7 if dtype == np.float32 else 1e-15), (rel.max(), x[finite][big][rel.argmax()])
    assert np.abs(got - want)[~big].max() < 1e-29  # below 1e-30: within that of the true value


@pytest.mark.parametrize("dtype", DTYPES)
def test_gelu_backward_kernel_is_exact(dtype):
    """The slope Phi(x) + x phi(x) to 3e-7 absolute in float32 (it crosses 0 near x = -0.75, where
    only an absolute bound means anything), 1e-15 in float64; times the incoming gradient."""
    x = grid(dtype)
    finite = np.isfinite(x)
    want = exact_slope(x[finite])
    ones = np.ones_like(x)
    got = run(K.gelu_backward_kernel, ones, x)[finite].astype(np.float64)
    assert np.abs(got - want).max() < (3e-7 if dtype == np.float32 else 1e-15)
    twice = run(K.gelu_backward_kernel, np.full_like(x, 2), x)[finite]
    np.testing.assert_array_equal(twice, 2 * got.astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values(dtype):
    """NaN in, NaN out; gelu(inf) = inf, gelu(-inf) = NaN (-inf * 0, as PyTorch); -0.0 keeps its sign;
    the slope is 0 far below 0 and 1 far above, NaN at the infinities (inf * 0)."""
    x = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, -100.0, 100.0], dtype)
    for k in (K.gelu_kernel, K.gelu_tanh_kernel):
        y = run(k, x)
        assert np.isnan(y[0]) and y[1] == np.inf and np.isnan(y[2]), k.name
        assert np.signbit(y[3]) and not np.signbit(y[4]) and y[5] == 0 and y[6] == 100, k.name
    for k in (K.gelu_backward_kernel, K.gelu_tanh_backward_kernel):
        slope = run(k, np.ones_like(x), x)
        assert np.isnan(slope[:3]).all() and slope[3:5].tolist() == [0.5, 0.5], k.name
        assert slope[5] == 0 and slope[6] == 1, k.name


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("form", ["gelu", "gelu_tanh"])
def test_kernels_agree_with_their_references(dtype, form):
    """Each kernel against its NumPy reference (float64 formulas rounded to the dtype)."""
    x = grid(dtype)
    g = np.random.default_rng(0).standard_normal(x.size).astype(dtype)
    tol = dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-13, atol=1e-15)
    for kernel, args in [(getattr(K, f"{form}_kernel"), (x,)), (getattr(K, f"{form}_backward_kernel"), (g, x))]:
        got = run(kernel, *args)
        want = np.empty_like(x)
        with np.errstate(all="ignore"):
            getattr(K, f"{form}_kernel_ref" if len(args) == 1 else f"{form}_backward_kernel_ref")(*args, want)
        np.testing.assert_allclose(got, want, **tol, err_msg=kernel.name)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_public_functions_on_every_layout(dtype, approximate):
    """Views, half precision and a gradient broadcast from a sum take the reference's path or a copy:
    always the values of the contiguous arrays, in the input's dtype."""
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((30, 40)) * 3).astype(dtype)
    g = rng.standard_normal((30, 40)).astype(dtype)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == np.float16 else dict(rtol=2e-6, atol=2e-6)
    y = K.gelu(x, approximate)
    slope = K.gelu_backward(g, x, approximate)
    assert y.dtype == slope.dtype == dtype and y.shape == slope.shape == x.shape
    for name, view in [("transposed", lambda a: a.T), ("sliced", lambda a: a[::2, 1::3])]:
        np.testing.assert_allclose(K.gelu(view(x), approximate), view(y), **tol, err_msg=name)
        np.testing.assert_allclose(K.gelu_backward(view(g), view(x), approximate), view(slope), **tol, err_msg=name)
    ones = np.broadcast_to(dtype(1), x.shape)
    np.testing.assert_allclose(K.gelu_backward(ones, x, approximate), K.gelu_backward(np.ones_like(x), x, approximate),
                               **tol)
    assert K.gelu(np.zeros((0, 3), dtype), approximate).shape == (0, 3)
    assert not np.shares_memory(y, x) and not np.shares_memory(slope, g)


def test_matches_torch_in_float32(torch):
    """PyTorch's float32 GELU is within 1.1e-6 of the exact one (Abramowitz and Stegun's erf), ours
    within 5e-7 relative: the two agree to 2e-6; its tanh form is the same formula as ours."""
    x = np.concatenate([np.linspace(-8, 8, 4001), np.random.default_rng(2).standard_normal(4096) * 3])
    x = x.astype(np.float32)
    for approximate in ("none", "tanh"):
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.gelu(t, approximate=approximate).sum().backward()
        y = K.gelu(x, approximate)
        np.testing.assert_allclose(y, torch.nn.functional.gelu(torch.tensor(x), approximate=approximate).numpy(),
                                   rtol=1e-6, atol=2e-6)
        np.testing.assert_allclose(K.gelu_backward(np.ones_like(x), x, approximate), t.grad.numpy(),
                                   rtol=1e-6, atol=2e-6)


# ------------------------------------------------------------------------------------------- erf
def erf_grid(dtype) -> np.ndarray:
    """[-6, 6] densely (erf is +-1 in float32 beyond 4), the series' bound, and tiny values down to 1e-38."""
    tiny = np.geomspace(1e-38, 1.0, 400)
    bound = K.ERF_SERIES_BELOW
    return np.concatenate([np.linspace(-6, 6, 24001), tiny, -tiny, [bound, -bound, np.nextafter(dtype(bound), 0)]]
                          ).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_erf_kernel_is_exact_to_float32_or_float64(dtype):
    """float32: within 2.5e-7 relative of the C library's erf everywhere (the series near 0, 1 - erfc
    beyond ERF_SERIES_BELOW); float64: the C library's erf itself."""
    x = erf_grid(dtype)
    want = np.array([math.erf(v) for v in x.astype(np.float64).tolist()])
    got = run(K.erf_kernel, x).astype(np.float64)
    nonzero = want != 0
    rel = np.abs(got - want)[nonzero] / np.abs(want)[nonzero]
    assert rel.max() < (2.5e-7 if dtype == np.float32 else 1e-16), (rel.max(), x[nonzero][rel.argmax()])
    assert (got[~nonzero] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_erf_special_values_and_reference(dtype):
    """NaN in, NaN out; erf(+-inf) = +-1; -0.0 keeps its sign; the kernel agrees with erf_array."""
    y = run(K.erf_kernel, np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 10.0, -10.0], dtype))
    assert np.isnan(y[0]) and y[1:3].tolist() == [1.0, -1.0] and y[5:].tolist() == [1.0, -1.0]
    assert np.signbit(y[3]) and y[3] == 0 and not np.signbit(y[4])
    x = erf_grid(dtype)
    want = np.empty_like(x)
    K.erf_kernel_ref(x, want)
    tol = dict(rtol=3e-7, atol=0) if dtype == np.float32 else dict(rtol=1e-15, atol=0)
    np.testing.assert_allclose(run(K.erf_kernel, x), want, **tol)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_erf_on_every_layout(dtype):
    """Views and half precision take the reference's path: the same values, in the input's dtype."""
    x = (np.random.default_rng(3).standard_normal((30, 40)) * 2).astype(dtype)
    y = K.erf(x)
    assert y.dtype == dtype and y.shape == x.shape and not np.shares_memory(y, x)
    tol = dict(rtol=2e-3, atol=2e-3) if dtype == np.float16 else dict(rtol=3e-7, atol=1e-7)
    for view in (lambda a: a.T, lambda a: a[::2, 1::3]):
        np.testing.assert_allclose(K.erf(view(x)), view(y), **tol)
    assert K.erf(np.zeros((0, 3), dtype)).shape == (0, 3)
