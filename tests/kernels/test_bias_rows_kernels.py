"""kernels/bias_rows.py: each kernel is its NumPy reference bit for bit, and each public function is
NumPy's own expression bit for bit on every kind of array (float32/float64 and others;
contiguous, transposed, sliced, broadcast; empty; special values: NaN, +-inf, -0.0)."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import bias_rows as B

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True, params=["small arrays by kernel", "from KERNEL_MIN_SIZE"])
def kernel_min_size(request, monkeypatch):
    """The public functions both ways: the tests' small arrays through the kernels, and as users get them."""
    if request.param == "small arrays by kernel":
        monkeypatch.setattr(B, "KERNEL_MIN_SIZE", 1)
SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e30, -1e30]


def values(dtype, shape, seed=0) -> np.ndarray:
    """Normal values at several scales, the special ones among them."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * rng.choice([1e-3, 1.0, 1e3], size=shape)).astype(dtype)
    flat = x.reshape(-1)
    n = min(flat.size, len(SPECIAL))
    flat[:n] = np.array(SPECIAL[:n], dtype)[rng.permutation(n)]
    return x


def same_bits(got: np.ndarray, want: np.ndarray) -> None:
    """Equal as numbers, NaN where NaN, and the sign of every zero the same."""
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 9), (5, 7), (32, 256), (3, 1000)])
def test_kernels_are_their_references_bit_for_bit(dtype, shape):
    x, b = values(dtype, shape, 3), values(dtype, shape[1], 4)
    with np.errstate(all="ignore"):  # NUMBA_DISABLE_JIT runs the loops on NumPy scalars, which warn
        out, want = np.empty_like(x), np.empty_like(x)
        B.add_row_kernel(x, b, out)
        B.add_row_kernel_ref(x, b, want)
        same_bits(out, want)
        y, y_want = x.copy(), x.copy()
        B.add_row_in_place_kernel(y, b)
        B.add_row_in_place_kernel_ref(y_want, b)
        same_bits(y, y_want)
        sums, sums_want = np.empty_like(b), np.empty_like(b)
        B.sum_rows_kernel(x, sums)
        B.sum_rows_kernel_ref(x, sums_want)
        same_bits(sums, sums_want)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_rows_adds_in_numpys_order(dtype):
    """Row by row, as NumPy sums a C-ordered array over axis 0: the same roundings, for many rows too."""
    rng = np.random.default_rng(5)
    for shape in [(2, 3), (37, 1000), (700, 200), (1120, 64), (4000, 3)]:
        g = (rng.standard_normal(shape) * 10.0 ** rng.integers(-4, 5, size=shape)).astype(dtype)
        same_bits(B.sum_rows(g), g.sum(axis=0))


@pytest.mark.parametrize("dtype", [*DTYPES, np.float16, np.int64])
def test_add_is_numpys_expression(dtype):
    """Any pair of arrays: the kernel where it can, NumPy elsewhere; always NumPy's numbers and dtype."""
    x = values(np.float64, (6, 8), 6).astype(dtype) if dtype != np.int64 else np.arange(48).reshape(6, 8)
    y = values(np.float64, (6, 8), 7).astype(dtype) if dtype != np.int64 else np.arange(48).reshape(6, 8) - 20
    pairs = [("rows + row", x, y[0]), ("row + rows", y[0], x), ("3-D rows + row", x.reshape(2, 3, 8), y[1]),
             ("row + 3-D rows", y[1], x.reshape(2, 3, 8)), ("transposed rows + row", x.T, y[0, :6]),
             ("sliced rows + row", x[::2], y[0]), ("rows + strided row", x, y[0, ::-1]),
             ("rows + column", x, y[:, :1]), ("same shape", x, y), ("row + row", x[0], y[0]),
             ("0-d + rows", np.array(x.flat[0]), y), ("empty rows + row", x[:0], y[0]),
             ("rows + row of another length", x[:, :1], y[0]),
             ("float32 rows + float64 row", x.astype(np.float32), y[0].astype(np.float64))]
    for name, a, b in pairs:
        with np.errstate(all="ignore"):
            got, want = B.add(a, b), a + b
        same_bits(got, want)
        assert got is not a and got is not b, name


@pytest.mark.parametrize("dtype", [*DTYPES, np.float16])
def test_add_in_place_is_numpys_in_place_add(dtype):
    b = values(np.float64, 8, 8).astype(dtype)
    for shape in [(5, 8), (2, 3, 8), (0, 8), (1, 8)]:
        y = values(np.float64, shape, 9).astype(dtype)
        want = y.copy()
        with np.errstate(all="ignore"):
            want += b
            before = y
            B.add_in_place(y, b)
        assert y is before
        same_bits(y, want)
    strided = values(np.float64, (6, 16), 10).astype(dtype)[:, ::2]  # not contiguous: NumPy's +=
    want = strided.copy()
    with np.errstate(all="ignore"):
        want += b
        B.add_in_place(strided, b)
    same_bits(strided, want)


def test_sum_rows_of_one_row_keeps_negative_zero_and_other_arrays_fall_back():
    same_bits(B.sum_rows(np.array([[-0.0, 5.0]], np.float32)), np.array([-0.0, 5.0], np.float32))
    for g in [np.zeros((0, 3), np.float32), np.zeros((4, 0)), np.ones((5, 3), np.float16), np.ones((6, 4)).T,
              np.arange(12).reshape(4, 3)]:
        same_bits(B.sum_rows(g), g.sum(axis=0))
