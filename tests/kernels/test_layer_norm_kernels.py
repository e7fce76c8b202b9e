"""kernels/layer_norm.py: the kernels agree with their NumPy references, and layer_norm gives the
same values and gradients through them as through Normalize's NumPy formulas and as PyTorch."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.kernels import layer_norm as K

F = mg.nn.functional


def tol(dtype) -> dict:
    return dict(rtol=2e-6, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (16, 130), (2, 1024)])
def test_kernels_agree_with_references(dtype, shape):
    rng = np.random.default_rng(0)
    rows, n = shape
    x = (rng.standard_normal(shape) * 5 + 3).astype(dtype)
    w, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    got = [np.empty_like(x), np.empty_like(x), np.empty(rows)]
    want = [np.empty_like(x), np.empty_like(x), np.empty(rows)]
    K.layer_norm_forward_kernel(x, w, b, 1e-5, *got)
    K.layer_norm_forward_kernel_ref(x, w, b, 1e-5, *want)
    for a, c in zip(got, want):
        np.testing.assert_allclose(a, c, **tol(dtype))
    xhat, rstd = got[1], got[2]
    g = rng.standard_normal(shape).astype(dtype)
    got = [np.empty_like(x), np.empty(n, dtype), np.empty(n, dtype)]
    want = [np.empty_like(x), np.empty(n, dtype), np.empty(n, dtype)]
    K.layer_norm_backward_kernel(g, xhat, rstd, w, *got)
    K.layer_norm_backward_kernel_ref(g, xhat, rstd, w, *want)
    for a, c in zip(got, want):
        np.testing.assert_allclose(a, c, **tol(dtype))


def test_special_rows_stay_in_their_row():
    """A NaN or inf makes its own row NaN and no other; a constant row normalises to 0 (eps)."""
    x = np.array([[1.0, np.nan, 2.0], [5.0, 5.0, 5.0], [np.inf, 0.0, 1.0], [1.0, 2.0, 4.0]], np.float32)
    w = np.ones(3, np.float32)
    with np.errstate(invalid="ignore"):  # (inf - inf warns when the kernel runs as Python: NUMBA_DISABLE_JIT)
        y, xhat, rstd = K.layer_norm(x, w, w - 1, 1e-5)
    assert np.isnan(y[0]).all() and np.isnan(y[2]).all()
    assert y[1].tolist() == [0.0, 0.0, 0.0] and np.isfinite(y[3]).all()
    dx, dw, db = K.layer_norm_backward(np.ones_like(x)[[1, 3]], xhat[[1, 3]], rstd[[1, 3]], w)
    assert np.isfinite(dx).all() and np.isfinite(dw).all() and db.tolist() == [2.0, 2.0, 2.0]


def test_one_value_per_row_has_no_gradient():
    """Normalising one value gives 0 whatever it is: its gradient is exactly 0 (PyTorch's is rounding
    noise times 1/sqrt(eps), up to 6e-5 in float32)."""
    x = mg.tensor(np.random.default_rng(3).standard_normal((7, 1)), requires_grad=True)
    w = mg.tensor(np.full(1, 1.7), requires_grad=True)
    F.layer_norm(x, (1,), w).backward(mg.tensor(np.linspace(-3, 3, 7).reshape(7, 1)))
    assert np.abs(x.grad.numpy()).max() < 1e-9 and w.grad.tolist() == [0.0]


def test_which_arrays_take_the_kernels():
    from minigrad.kernels._jit import jit_disabled

    on = not jit_disabled()
    x = np.ones((4, 6), np.float32)
    assert K.takes(x, None, None) == on and K.takes(x, np.ones(6, np.float32), None) == on
    assert not K.takes(x.T, None, None) and not K.takes(x.astype(np.float16), None, None)
    assert not K.takes(x, np.ones(6), None)  # a float64 weight with a float32 input: NumPy's formulas
    assert not K.takes(np.ones((0, 6), np.float32), None, None)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_same_through_kernels_and_numpy(dtype, affine):
    """A contiguous input takes the kernels, its transposed copy (a view) Normalize's NumPy formulas:
    values and all three gradients agree; a gradient broadcast from a sum too."""
    rng = np.random.default_rng(1)
    data = rng.standard_normal((6, 5, 8)) * 2
    results = []
    for contiguous in (True, False):
        a = data if contiguous else np.ascontiguousarray(data.transpose(2, 1, 0))
        x = mg.tensor(a, dtype=dtype, requires_grad=True)
        xin = x if contiguous else x.permute(2, 1, 0)
        assert xin.detach().numpy().flags.c_contiguous == contiguous
        w = mg.tensor(rng.standard_normal((5, 8)) if not results else results[0][4], dtype=dtype, requires_grad=True)
        b = mg.tensor(np.linspace(-1, 1, 40).reshape(5, 8), dtype=dtype, requires_grad=True)
        y = F.layer_norm(xin, (5, 8), w if affine else None, b if affine else None)
        (y * y).sum().backward()
        grad_x = x.grad.numpy() if contiguous else x.grad.numpy().transpose(2, 1, 0)
        results.append((y.detach().numpy(), grad_x, w.grad, b.grad, w.detach().numpy()))
    (y1, gx1, gw1, gb1, _), (y2, gx2, gw2, gb2, _) = results
    close = tol(np.float32 if dtype == mg.float32 else np.float64)
    np.testing.assert_allclose(y1, y2, **close)
    np.testing.assert_allclose(gx1, gx2, **close)
    if affine:
        np.testing.assert_allclose(gw1.numpy(), gw2.numpy(), **close)
        np.testing.assert_allclose(gb1.numpy(), gb2.numpy(), **close)
    x = mg.tensor(data, dtype=dtype, requires_grad=True)
    F.layer_norm(x, (8,)).sum().backward()  # the sum's gradient is broadcast; dx of a plain sum is 0
    np.testing.assert_allclose(x.grad.numpy(), 0, atol=close["atol"] * 10)


def test_layer_norm_matches_torch(torch):
    rng = np.random.default_rng(2)
    for dtype, tdtype, close in ((mg.float32, torch.float32, dict(rtol=1e-5, atol=2e-5)),
                                 (mg.float64, torch.float64, dict(rtol=1e-12, atol=1e-12))):
        for shape, normalized in (((64, 1024), (1024,)), ((3, 4, 5), (4, 5)), ((7, 2), (2,))):
            data = rng.standard_normal(shape) * 3 + 1
            w, b = rng.standard_normal(normalized), rng.standard_normal(normalized)
            g = rng.standard_normal(shape)
            ours = [mg.tensor(a, dtype=dtype, requires_grad=True) for a in (data, w, b)]
            theirs = [torch.tensor(a, dtype=tdtype, requires_grad=True) for a in (data, w, b)]
            F.layer_norm(ours[0], normalized, ours[1], ours[2]).backward(mg.tensor(g, dtype=dtype))
            y = torch.nn.functional.layer_norm(theirs[0], normalized, theirs[1], theirs[2])
            y.backward(torch.tensor(g, dtype=tdtype))
            np.testing.assert_allclose(F.layer_norm(ours[0], normalized, ours[1], ours[2]).detach().numpy(),
                                       y.detach().numpy(), **close)
            for a, t in zip(ours, theirs):
                np.testing.assert_allclose(a.grad.numpy(), t.grad.numpy(), **close, err_msg=str(shape))
