"""kernels/smooth_activations.py: ELU and softplus kernels agree with their NumPy references (to an
ulp or two: a different exp and log1p), keep PyTorch's special values, and the public functions
give the same values on every kind of array."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import smooth_activations as S

DTYPES = [np.float32, np.float64]
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 0.3, -0.3, 19.9, 20.1, -50.0, 88.0, -90.0, -200.0]


def values(dtype) -> np.ndarray:
    """Normal values at several scales, a dense grid, and the special values."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(3000) * rng.choice([1e-3, 1.0, 10.0, 100.0], size=3000)
    return np.concatenate([x, np.linspace(-40, 40, 8001), SPECIAL]).astype(dtype)


def tol(dtype) -> dict:
    # atol: below e^-85 (1e-37) the kernels' exp is 0, where float64 holds smaller numbers (as the sigmoid's)
    return dict(rtol=5e-7, atol=1e-37) if dtype == np.float32 else dict(rtol=2e-15, atol=1e-37)


def run(fn, *args):
    out = np.empty_like(args[0] if len(args) < 3 or np.ndim(args[1]) == 0 else args[1])
    with np.errstate(all="ignore"):  # NUMBA_DISABLE_JIT runs the kernels on NumPy scalars, which warn
        fn(*args, out)
    return out


CASES = {  # name -> (kernel, reference, the scalar parameters)
    "elu": (S.elu_kernel, S.elu_kernel_ref, (1.0,)),
    "elu alpha=0.3": (S.elu_kernel, S.elu_kernel_ref, (0.3,)),
    "softplus": (S.softplus_kernel, S.softplus_kernel_ref, (1.0, 20.0)),
    "softplus beta=-2 threshold=5": (S.softplus_kernel, S.softplus_kernel_ref, (-2.0, 5.0)),
    "softplus beta=0.5": (S.softplus_kernel, S.softplus_kernel_ref, (0.5, 20.0)),
}
GRADIENT_CASES = {
    "elu": (S.elu_backward_kernel, S.elu_backward_kernel_ref, (1.0,)),
    "elu alpha=0.3": (S.elu_backward_kernel, S.elu_backward_kernel_ref, (0.3,)),
    "softplus": (S.softplus_backward_kernel, S.softplus_backward_kernel_ref, (1.0, 20.0)),
    "softplus beta=-2 threshold=5": (S.softplus_backward_kernel, S.softplus_backward_kernel_ref, (-2.0, 5.0)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES))
def test_kernels_agree_with_their_references(dtype, case):
    kernel, ref, params = CASES[case]
    x = values(dtype)
    params = tuple(dtype(p) for p in params)
    got, want = run(kernel, x, *params), run(ref, x, *params)
    np.testing.assert_allclose(got, want, **tol(dtype), err_msg=case)
    assert np.array_equal(np.isnan(got), np.isnan(want)), case
    assert np.array_equal(np.signbit(got[want == 0]), np.signbit(want[want == 0])), case  # -0.0 where NumPy has it


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(GRADIENT_CASES))
def test_gradient_kernels_agree_with_their_references(dtype, case):
    kernel, ref, params = GRADIENT_CASES[case]
    x = values(dtype)
    grad = np.random.default_rng(1).standard_normal(x.size).astype(dtype)
    grad[:3] = [np.inf, np.nan, 0.0]
    params = tuple(dtype(p) for p in params)
    got, want = run(kernel, grad, x, *params), run(ref, grad, x, *params)
    np.testing.assert_allclose(got, want, **tol(dtype), err_msg=case)


@pytest.mark.parametrize("dtype", DTYPES)
def test_special_values_as_pytorch(dtype):
    """elu(-inf) = -alpha, elu(-0.0) = -0.0; softplus(-inf) = 0, softplus(inf) = inf; NaN stays NaN."""
    x = np.array([-np.inf, np.inf, np.nan, -0.0, 0.0], dtype)
    ones = np.ones_like(x)
    a = dtype(0.5)
    elu = run(S.elu_kernel, x, a)
    assert elu[:2].tolist() == [-0.5, np.inf] and np.isnan(elu[2]) and np.signbit(elu[3]) and not np.signbit(elu[4])
    elu_slope = run(S.elu_backward_kernel, ones, x, a)
    assert elu_slope[[0, 1, 3, 4]].tolist() == [0.0, 1.0, 0.5, 0.5] and np.isnan(elu_slope[2])
    soft = run(S.softplus_kernel, x, dtype(1), dtype(20))
    assert soft[:2].tolist() == [0.0, np.inf] and np.isnan(soft[2])
    slope = run(S.softplus_backward_kernel, ones, x, dtype(1), dtype(20))
    assert slope[[0, 1, 3]].tolist() == [0.0, 1.0, 0.5] and np.isnan(slope[2])


def test_log1p_series_is_exact_to_the_dtype():
    """``_log1p_small`` on [0, 1], in plain Python: within an ulp or two of np.log1p."""
    for dtype, rtol in ((np.float32, 2.5e-7), (np.float64, 4e-16)):
        e = np.concatenate([np.linspace(0, 1, 501), np.geomspace(1e-30, 1, 200)]).astype(dtype)
        got = np.array([S._log1p_small(v, dtype(1)) for v in e])
        np.testing.assert_allclose(got, np.log1p(e.astype(np.float64)), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_public_functions_on_every_layout(dtype):
    """Views, half precision and a broadcast gradient: the values of the contiguous arrays."""
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((30, 40)) * 4).astype(dtype)
    g = rng.standard_normal((30, 40)).astype(dtype)
    close = dict(rtol=2e-3, atol=2e-3) if dtype == np.float16 else dict(rtol=1e-6, atol=1e-7)
    results = [S.elu(x, 0.7), S.elu_backward(g, x, 0.7), S.softplus(x, 1.5, 4.0), S.softplus_backward(g, x, 1.5, 4.0)]
    for r in results:
        assert r.dtype == dtype and r.shape == x.shape
        assert not np.shares_memory(r, x) and not np.shares_memory(r, g)
    for name, view in [("transposed", lambda a: a.T), ("sliced", lambda a: a[::2, 1::3])]:
        again = [S.elu(view(x), 0.7), S.elu_backward(view(g), view(x), 0.7), S.softplus(view(x), 1.5, 4.0),
                 S.softplus_backward(view(g), view(x), 1.5, 4.0)]
        for r, a in zip(results, again):
            np.testing.assert_allclose(a, view(r), **close, err_msg=name)
    ones = np.broadcast_to(dtype(1), x.shape)
    np.testing.assert_allclose(S.elu_backward(ones, x, 0.7), S.elu_backward(np.ones_like(x), x, 0.7), **close)
    np.testing.assert_allclose(S.softplus_backward(ones, x, 1.5, 4.0),
                               S.softplus_backward(np.ones_like(x), x, 1.5, 4.0), **close)


def test_match_torch(torch):
    """Values and gradients against PyTorch in float32 and float64, special values included (but ELU's
    gradient at NaN: PyTorch's is NaN in its vectorised loop and 1 in the scalar loop after it)."""
    x = values(np.float64)
    for dtype, close in ((np.float32, dict(rtol=1e-6, atol=1e-30)), (np.float64, dict(rtol=1e-14, atol=1e-37))):
        xd = x.astype(dtype)
        for name, ours, theirs in [
            ("elu", lambda a: S.elu(a, 0.7), lambda t: torch.nn.functional.elu(t, 0.7)),
            ("softplus", lambda a: S.softplus(a, 1.5, 4.0), lambda t: torch.nn.functional.softplus(t, 1.5, 4.0)),
        ]:
            t = torch.tensor(xd, requires_grad=True)
            y = theirs(t)
            y.sum().backward()
            with np.errstate(all="ignore"):
                np.testing.assert_allclose(ours(xd), y.detach().numpy(), **close, err_msg=name)
            grad = S.elu_backward(np.ones_like(xd), xd, 0.7) if name == "elu" else S.softplus_backward(
                np.ones_like(xd), xd, 1.5, 4.0)
            known = ~np.isnan(xd)
            np.testing.assert_allclose(grad[known], t.grad.numpy()[known], **close, err_msg=f"{name} gradient")
