"""Core kernels agree with their NumPy references (float32/float64; contiguous, transposed, sliced)."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import scatter as S
from minigrad.kernels import softmax as SM

DTYPES = [np.float32, np.float64]


def layouts(a: np.ndarray):
    """The same kind of data as contiguous, transposed and strided-slice arrays (made contiguous by the caller)."""
    yield "contiguous", a
    yield "transposed", a.T
    yield "sliced", a[::2, 1::2]


def tol(dtype):
    return dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_rows(dtype, which):
    kernel = getattr(SM, f"{which}_rows_kernel")
    ref = getattr(SM, f"{which}_rows_ref")
    rng = np.random.default_rng(2)
    base = (rng.standard_normal((10, 9)) * 50).astype(dtype)
    base[3] = -np.inf  # a fully masked row: nan in both, as in PyTorch (never an exception)
    base[4, 2] = -np.inf
    for name, x in layouts(base):
        xc = np.ascontiguousarray(x)
        out = np.empty_like(xc)
        with np.errstate(divide="ignore", invalid="ignore"):
            kernel(xc, out)
            expected = ref(xc)
        np.testing.assert_allclose(out, expected, **tol(dtype), err_msg=name)


def special_rows(dtype) -> np.ndarray:
    """Rows with a NaN, a +inf, both, only -inf, some -inf, and two plain rows."""
    x = np.array([[0.5, np.nan, 1.0], [np.inf, 0.0, 2.0], [np.nan, np.inf, 1.0], [-np.inf] * 3,
                  [-np.inf, 1.0, 2.0], [1.0, 2.0, 3.0], [-1.0, 0.0, 50.0]], dtype)
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
def test_softmax_paths_make_nan_rows(dtype, which):
    """Kernel, reference and large path agree on special rows: NaN or +inf anywhere (or only -inf) is a NaN row."""
    x = special_rows(dtype)
    kernel = getattr(SM, f"{which}_rows_kernel")
    out = np.empty_like(x)
    with np.errstate(all="ignore"):  # NUMBA_DISABLE_JIT runs the kernel on NumPy scalars, which warn
        kernel(x, out)
    results = {"kernel": out, "ref": getattr(SM, f"{which}_rows_ref")(x),
               "large": getattr(SM, f"{which}_rows_large")(x), "public": getattr(SM, f"{which}_rows")(x)}
    for name, y in results.items():
        assert np.isnan(y[:4]).all(), name
        assert not np.isnan(y[4:]).any(), name
        np.testing.assert_allclose(y, results["ref"], **tol(dtype), err_msg=name)
    masked = results["kernel"][4, 0]
    assert masked == (0.0 if which == "softmax" else -np.inf)


def test_nan_rows_is_in_place_and_leaves_finite_rows():
    y = np.array([[0.1, 0.2], [np.nan, 0.3], [0.4, -np.inf]])
    assert SM.nan_rows(y) is y
    assert np.isnan(y[1]).all() and y[0].tolist() == [0.1, 0.2] and y[2, 1] == -np.inf
    assert np.isnan(SM.nan_rows(np.array(np.nan)))  # 0-d


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_rows_backward_small_path(dtype):
    """One block (no slicing) gives the formula too, NaN rows included."""
    rng = np.random.default_rng(6)
    y = SM.log_softmax_rows_ref(rng.standard_normal((3, 7)).astype(dtype))
    g = rng.standard_normal((3, 7)).astype(dtype)
    y[1, 2] = np.nan
    with np.errstate(invalid="ignore"):
        want = g - np.exp(y) * g.sum(axis=-1, keepdims=True)
    got = SM.log_softmax_rows_backward(y, g)
    assert got.dtype == y.dtype
    np.testing.assert_allclose(got, want, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("which", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(700, 37), (3, 2, 5000), (1, 70000), (4000, 1)])
def test_softmax_rows_large_path(dtype, which, shape):
    """The NumPy path for big inputs (blocks of rows) equals the reference, masked and NaN rows included."""
    large = getattr(SM, f"{which}_rows_large")
    ref = getattr(SM, f"{which}_rows_ref")
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 20).astype(dtype)
    if x.size:
        rows = x.reshape(-1, shape[-1])
        rows[0] = -np.inf  # fully masked
        rows[-1, -1] = np.nan
        rows[len(rows) // 2, 0] = np.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_allclose(large(x), ref(x), **tol(dtype))
        np.testing.assert_allclose(large(x[..., ::2]), ref(x[..., ::2]), **tol(dtype))  # strided
    assert large(x).shape == x.shape and large(x).dtype == x.dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_softmax_rows_backward_is_the_formula(dtype):
    rng = np.random.default_rng(5)
    y = SM.log_softmax_rows_ref(rng.standard_normal((300, 1000)).astype(dtype))
    g = rng.standard_normal((300, 1000)).astype(dtype)
    want = g - np.exp(y) * g.sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(SM.log_softmax_rows_backward(y, g), want, **tol(dtype))
    np.testing.assert_allclose(SM.log_softmax_rows_backward(y[:, ::3], g[:, ::3]),
                               g[:, ::3] - np.exp(y[:, ::3]) * g[:, ::3].sum(axis=-1, keepdims=True), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_scatter_add_rows_accumulates_duplicates(dtype):
    rng = np.random.default_rng(3)
    idx = np.array([4, 0, 4, 4, 2, 0], dtype=np.int64)
    for name, src in layouts(rng.standard_normal((12, 6)).astype(dtype)):
        src = np.ascontiguousarray(src)[: len(idx)]
        if src.shape[0] < len(idx):
            continue
        out_k = np.zeros((5, src.shape[1]), dtype=dtype)
        out_r = np.zeros_like(out_k)
        S.scatter_add_rows_kernel(out_k, idx, src)
        S.scatter_add_rows_ref(out_r, idx, src)
        np.testing.assert_allclose(out_k, out_r, **tol(dtype), err_msg=name)
        np.testing.assert_allclose(out_k[4], src[0] + src[2] + src[3], **tol(dtype))


@pytest.mark.parametrize("shape", [(3, 5), (64, 128)])  # below and above EXP_KERNEL_MAX_SIZE
def test_dispatchers_match_references(shape):
    """Whichever path the public wrappers pick, the results do not change."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(SM.softmax_rows(x.T), SM.softmax_rows_ref(x.T), rtol=1e-12)
    np.testing.assert_allclose(SM.log_softmax_rows(x), SM.log_softmax_rows_ref(x), rtol=1e-12)


def test_kernels_are_not_compiled_at_import():
    import subprocess
    import sys

    code = ("import minigrad, minigrad.kernels.softmax as S, sys; "
            "assert S.softmax_rows_kernel._compiled is None; assert 'numba' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_backward_rows(dtype):
    """y * (g - sum(g * y)) per row: the kernel, its reference and the public function (any layout of g,
    rows of any shape, half precision through NumPy) agree with the formula."""
    rng = np.random.default_rng(5)
    y = SM.softmax_rows_ref((rng.standard_normal((6, 4, 33)) * 3).astype(dtype))
    g = rng.standard_normal((6, 4, 33)).astype(dtype)
    expected = y * (g - (g.astype(np.float64) * y).sum(-1, keepdims=True))
    y2, g2 = y.reshape(24, 33), g.reshape(24, 33)
    out, want = np.empty_like(y2), np.empty_like(y2)
    SM.softmax_backward_rows_kernel(y2, g2, out)
    SM.softmax_backward_rows_kernel_ref(y2, g2, want)
    np.testing.assert_allclose(out, want, **tol(dtype))
    layouts_of_g = [("contiguous", g), ("strided", np.asfortranarray(g)),
                    ("broadcast", np.broadcast_to(g[:1], g.shape))]
    for name, grad in layouts_of_g:
        want = y * (grad - (grad.astype(np.float64) * y).sum(-1, keepdims=True))
        got = SM.softmax_rows_backward(y, grad)
        assert got.dtype == dtype and got.shape == y.shape
        np.testing.assert_allclose(got, want, **tol(dtype), err_msg=name)
    np.testing.assert_allclose(SM.softmax_rows_backward(y, g), expected, **tol(dtype))
    half = SM.softmax_rows_backward(y.astype(np.float16), g.astype(np.float16))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, expected, rtol=2e-2, atol=2e-3)
