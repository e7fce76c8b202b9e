"""The vectorised float32 softmax kernels (parallel for big inputs, one thread for rows of a few
hundred numbers) and their vectorised ``exp`` (kernels/fast_exp.py).

Runs with NUMBA_DISABLE_JIT=1 too: the kernels are then plain Python (smaller sweeps there).
"""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import _jit
from minigrad.kernels import fast_exp as FE
from minigrad.kernels import softmax as SM

JIT = not _jit.jit_disabled()


def _exp_each(x: np.ndarray) -> np.ndarray:
    """``fast_exp32`` of each element, compiled (in a Numba loop) unless the JIT is off."""
    if not JIT:
        return np.array([FE.fast_exp32(v) for v in x], np.float32)
    import numba

    @numba.njit
    def each(x, out):
        for i in range(x.size):
            out[i] = FE.fast_exp32(x[i])

    out = np.empty_like(x)
    each(x, out)
    return out


def _sweep() -> np.ndarray:
    """Float32 inputs in [-104, 89]: evenly spaced ones and random ones (1M of each with the JIT)."""
    n = 1_000_000 if JIT else 20_000
    rng = np.random.default_rng(0)
    return np.concatenate([np.linspace(-104, 89, n, dtype=np.float32),
                           rng.uniform(-104, 89, n).astype(np.float32)])


@pytest.mark.parametrize("which", ["compiled", "numpy_ref"])
def test_fast_exp_is_within_3e_7_relative_of_np_exp(which):
    # The claim: max relative error vs np.exp below 3e-7 (about 2.5 float32 ulps at worst, ~1
    # typically) wherever np.exp(x) is a finite normal float32 (-87.33 <= x <= 88.72). Above that
    # both are inf; below it the result is a denormal, whose own spacing is 2^-149: there the
    # error must stay within two such steps (its rounding and np.exp's).
    x = _sweep()
    got = _exp_each(x) if which == "compiled" else FE.fast_exp32_ref(x)
    with np.errstate(over="ignore"):
        want = np.exp(x)
    normal = (want >= np.finfo(np.float32).tiny) & np.isfinite(want)
    rel = np.abs(got[normal].astype(np.float64) - want[normal]) / want[normal]
    assert rel.max() < 3e-7, rel.max()
    assert (got[np.isinf(want)] == np.inf).all()
    low = want < np.finfo(np.float32).tiny
    assert np.abs(got[low].astype(np.float64) - want[low]).max() <= 2.0 ** -148


def test_fast_exp_special_values():
    x = np.array([-np.inf, np.inf, np.nan, 0.0, 88.72, 88.8, 89.0, 100.0, 1e30, -104.0, -1e30, 1.0],
                 np.float32)
    for got in (_exp_each(x), FE.fast_exp32_ref(x)):
        assert got[0] == 0 and got[1] == np.inf and np.isnan(got[2])
        assert got[3] == 1.0  # exactly
        assert np.isfinite(got[4]) and np.all(got[5:9] == np.inf)  # overflow: inf
        assert np.all(got[9:11] == 0)  # underflow: 0
        assert abs(got[11] - np.e) <= 2.5e-7 * np.e
        assert got.dtype == np.float32


WIDTHS = [1, 15, 16, 17, 100, 10000]


def _rows(cols: int, special: bool) -> np.ndarray:
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((6, cols)) * 4).astype(np.float32)
    if special:
        x[1, cols // 2] = np.nan
        x[2, cols - 1] = np.inf
        x[3] = -np.inf
        x[4, ::2] = -np.inf  # some -inf (for one column: the whole row)
    return x


def _close(got: np.ndarray, want: np.ndarray) -> None:
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-5)  # float32: other summation orders


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("cols", WIDTHS)
@pytest.mark.parametrize("name", ["log_softmax_rows_parallel", "softmax_rows_parallel", "log_softmax_rows_vector",
                                  "softmax_rows_vector"])
def test_forward_kernels_match_their_references(name, cols, special):
    x = _rows(cols, special)
    got, want = np.empty_like(x), np.empty_like(x)
    getattr(SM, name)(x, got)
    getattr(SM, name + "_ref")(x, want)
    _close(got, want)
    ref = SM.log_softmax_rows_ref if name.startswith("log") else SM.softmax_rows_ref
    _close(got, ref(x))
    if special:  # the rule every path keeps
        assert np.isnan(got[1:4]).all()
        assert np.isfinite(got[0]).all() and np.isfinite(got[5]).all()
        if cols > 1:
            assert (got[4, ::2] == (-np.inf if name.startswith("log") else 0)).all()


@pytest.mark.parametrize("special", [False, True])
@pytest.mark.parametrize("cols", WIDTHS)
@pytest.mark.parametrize("name", ["log_softmax_backward_rows_parallel", "log_softmax_backward_rows_vector"])
def test_backward_kernels_match_their_reference(name, cols, special):
    y = SM.log_softmax_rows_ref(_rows(cols, special))
    g = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    got, want = np.empty_like(y), np.empty_like(y)
    getattr(SM, name)(y, g, got)
    getattr(SM, name + "_ref")(y, g, want)
    _close(got, want)
    with np.errstate(invalid="ignore"):
        _close(got, g - np.exp(y) * g.sum(-1, keepdims=True))


def test_small_float32_gradients_take_the_vectorised_rows(monkeypatch):
    """A language model's log-softmax over a few dozen letters or words, one row a step: its gradient
    takes ``log_softmax_backward_rows_vector`` on this thread; narrow rows and float64 NumPy's formula."""
    from minigrad.kernels._jit import jit_disabled

    called = []
    original = SM.log_softmax_backward_rows_vector
    monkeypatch.setattr(SM, "log_softmax_backward_rows_vector", lambda *a: called.append(a[0].shape) or original(*a))
    rng = np.random.default_rng(4)
    for shape, dtype in [((1, 59), np.float32), ((3, 2, 40), np.float32), ((2, 8), np.float32), ((1, 59), np.float64)]:
        y = SM.log_softmax_rows_ref(rng.standard_normal(shape).astype(dtype))
        g = rng.standard_normal(shape).astype(dtype)
        got = SM.log_softmax_rows_backward(y, g)
        assert got.shape == shape and got.dtype == dtype
        _close(got, g - np.exp(y) * g.sum(-1, keepdims=True))
        strided = np.asarray(g[..., ::-1])  # (a reversed view: copied into rows first)
        _close(SM.log_softmax_rows_backward(y, g[..., ::-1]), g[..., ::-1] - np.exp(y) * strided.sum(-1, keepdims=True))
    assert called == ([] if jit_disabled() else [(1, 59), (1, 59), (6, 40), (6, 40)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1000), (2, 300), (3, 1000), (2, 3, 700), (40, 3000)])
def test_public_wrappers_give_what_the_numpy_paths_give(dtype, shape):
    rng = np.random.default_rng(2)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    g = rng.standard_normal(shape).astype(dtype)
    y = SM.log_softmax_rows(x)
    assert y.dtype == dtype and y.shape == shape
    _close(y, SM.log_softmax_rows_large(x))
    _close(SM.softmax_rows(x), SM.softmax_rows_large(x))
    _close(SM.log_softmax_rows_backward(y, g), g - np.exp(y) * g.sum(-1, keepdims=True))
    strided = x[..., ::2]  # not contiguous: copied into rows first
    _close(SM.log_softmax_rows(strided), SM.log_softmax_rows_large(strided))
    if dtype == np.float64 and x.size > SM.EXP_KERNEL_MAX_SIZE:  # big float64 keeps the NumPy path: the same numbers
        np.testing.assert_array_equal(y, SM.log_softmax_rows_large(x))


def test_without_threads_big_float32_rows_take_the_vectorised_rows(monkeypatch):
    """One core (or MINIGRAD_NUM_THREADS=1): rows of VECTOR_MIN_COLS or more take ``*_rows_vector`` on
    this thread (2-3x NumPy's blocks), narrower ones NumPy's blocks; the numbers are the same."""
    from minigrad.kernels._jit import jit_disabled

    monkeypatch.setattr(SM, "threads_usable", lambda: False)
    called = []
    for name in ("softmax_rows_vector", "log_softmax_rows_vector", "softmax_rows_large"):
        original = getattr(SM, name)
        monkeypatch.setattr(SM, name, lambda *a, _f=original, _n=name: called.append(_n) or _f(*a))
    x = (np.random.default_rng(3).standard_normal((40, 300)) * 3).astype(np.float32)
    _close(SM.softmax_rows(x), SM.softmax_rows_ref(x))
    _close(SM.log_softmax_rows(x), SM.log_softmax_rows_ref(x))
    narrow = np.ones((3000, 8), np.float32)
    _close(SM.softmax_rows(narrow), np.full((3000, 8), 0.125, np.float32))
    expected = ["softmax_rows_large"] * 2 if jit_disabled() else [
        "softmax_rows_vector", "log_softmax_rows_vector", "softmax_rows_large"]
    assert [c for c in called if c != "log_softmax_rows_large"] == expected


@pytest.mark.parametrize("shape", [(40, 3000), (700, 10000)])
def test_log_softmax_forward_backward_match_torch(torch, shape):
    import minigrad as mg

    rng = np.random.default_rng(3)
    x = (rng.standard_normal(shape) * 3).astype(np.float32)
    g = rng.standard_normal(shape).astype(np.float32)
    xm = mg.tensor(x, requires_grad=True)
    ym = mg.nn.functional.log_softmax(xm, dim=1)
    ym.backward(mg.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.log_softmax(xt, 1)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(ym.detach().numpy(), yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-5)
