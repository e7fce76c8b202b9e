"""The fused cross-entropy kernels agree with their NumPy references (float32 and float64).

Kernels take C-contiguous arrays (the call site makes them so); the references take any layout.
So transposed and sliced inputs go to the reference as views and to the kernel after
``np.ascontiguousarray``, exactly as ``minigrad.nn.functional.cross_entropy`` calls it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from minigrad.kernels.loss import (
    cross_entropy_bwd,
    cross_entropy_bwd_ref,
    cross_entropy_fwd,
    cross_entropy_fwd_ref,
)

DTYPES = [np.float32, np.float64]
TOL = {np.float32: dict(rtol=2e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-13)}


def _layouts(rng, n, c, dtype):
    """Logits (N, C) as contiguous, transposed and sliced views."""
    base = rng.standard_normal((n, c)).astype(dtype) * 3
    yield "contiguous", base
    yield "transposed", np.ascontiguousarray(base.T).T
    big = rng.standard_normal((2 * n, c + 3)).astype(dtype) * 3
    yield "sliced", big[::2, 1 : c + 1]


def _run(fwd, bwd, x, t, w, ignore, eps, scale):
    n = x.shape[0]
    lse = np.empty(n, dtype=x.dtype)
    loss = np.empty(n, dtype=x.dtype)
    denom = fwd(x, t, w, ignore, eps, lse, loss)
    dx = np.empty(x.shape, dtype=x.dtype)
    bwd(x, t, w, ignore, eps, lse, scale, dx)
    return denom, lse, loss, dx


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_kernel_matches_reference(dtype, eps, weighted):
    rng = np.random.default_rng(0)
    n, c = 5, 4
    t = np.array([0, 3, -100, 1, 3], dtype=np.int64)
    w = (rng.random(c) + 0.5).astype(dtype) if weighted else np.ones(c, dtype=dtype)
    scale = rng.standard_normal(n).astype(dtype)
    for layout, x in _layouts(rng, n, c, dtype):
        ref = _run(cross_entropy_fwd_ref, cross_entropy_bwd_ref, x, t, w, -100, eps, scale)
        got = _run(cross_entropy_fwd, cross_entropy_bwd, np.ascontiguousarray(x), t, w, -100, eps, scale)
        assert got[0] == pytest.approx(ref[0], rel=1e-12), layout
        for name, a, b in zip(("lse", "loss", "dx"), got[1:], ref[1:]):
            assert a.dtype == np.dtype(dtype)
            np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"{name} ({layout})")
        # ignored row: zero loss and zero gradient
        assert got[2][2] == 0 and np.all(got[3][2] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_matches_textbook_formula(dtype):
    """loss = -log softmax(x)[t] and dx = softmax(x) - onehot(t), written out in NumPy."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 6)).astype(dtype)
    t = np.array([5, 0, 2], dtype=np.int64)
    _, _, loss, dx = _run(cross_entropy_fwd, cross_entropy_bwd, x, t, np.ones(6, dtype), -100, 0.0,
                          np.ones(3, dtype))
    x64 = x.astype(np.float64)
    p = np.exp(x64) / np.exp(x64).sum(1, keepdims=True)
    np.testing.assert_allclose(loss, -np.log(p[np.arange(3), t]), **TOL[dtype])
    np.testing.assert_allclose(dx, p - np.eye(6)[t], **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_stable_at_extreme_logits(dtype):
    """Logits of +-1000 give finite losses and gradients and no floating-point warnings."""
    x = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, 1000.0], [1000.0, 1000.0, 1000.0]],
                 dtype=dtype)
    t = np.array([1, 2, 0], dtype=np.int64)
    with warnings.catch_warnings(), np.errstate(divide="raise", over="raise", invalid="raise"):
        warnings.simplefilter("error")
        denom, lse, loss, dx = _run(cross_entropy_fwd, cross_entropy_bwd, x, t, np.ones(3, dtype), -100,
                                    0.1, np.ones(3, dtype))
    assert denom == 3.0
    assert np.all(np.isfinite(lse)) and np.all(np.isfinite(loss)) and np.all(np.isfinite(dx))
    assert loss[0] == pytest.approx(2000.0 * 0.9 + 0.1 / 3 * (0 + 2000 + 1000), rel=1e-6)
    assert loss[1] == pytest.approx(0.1 / 3 * 4000, rel=1e-6)
    np.testing.assert_allclose(lse[2], 1000.0 + np.log(3.0), rtol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES)
def test_kernel_all_rows_ignored_and_empty(dtype):
    x = np.zeros((2, 3), dtype=dtype)
    t = np.full(2, 7, dtype=np.int64)
    denom, _, loss, dx = _run(cross_entropy_fwd, cross_entropy_bwd, x, t, np.ones(3, dtype), 7, 0.0,
                              np.ones(2, dtype))
    assert denom == 0.0 and np.all(loss == 0) and np.all(dx == 0)
    empty = np.zeros((0, 3), dtype=dtype)
    denom, lse, loss, dx = _run(cross_entropy_fwd, cross_entropy_bwd, empty, np.zeros(0, np.int64),
                                np.ones(3, dtype), -100, 0.0, np.ones(0, dtype))
    assert denom == 0.0 and lse.shape == (0,) and dx.shape == (0, 3)
