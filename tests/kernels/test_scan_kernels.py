"""kernels/scan.py: running sums along any axis, forwards and from the end, agree with NumPy's
cumsum accumulated as PyTorch does (float32 in float64, each sum rounded once), bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import scan

SHAPES = [(7,), (5, 1), (6, 9), (9, 6), (3, 4, 5), (2, 1, 3, 4), (0, 3), (3, 0)]


def expected(x: np.ndarray, axis: int, reverse: bool) -> np.ndarray:
    wide = {np.dtype(np.float32): np.float64, np.dtype(np.float16): np.float32}.get(x.dtype, x.dtype)
    a = np.flip(x, axis) if reverse else x
    sums = np.cumsum(a, axis=axis, dtype=wide).astype(x.dtype)
    return np.flip(sums, axis) if reverse else sums


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int64])
@pytest.mark.parametrize("reverse", [False, True])
def test_running_sum_is_numpy_cumsum_bit_for_bit(dtype, reverse):
    """Every axis of every shape (rows in fours and the rows left over; empty arrays); views too."""
    rng = np.random.default_rng(0)
    for shape in SHAPES:
        x = (rng.standard_normal(shape) * 100).astype(dtype)
        for axis in range(len(shape)):
            for name, a in [("contiguous", x), ("reversed view", np.flip(x, axis))]:
                got = scan.running_sum(a, axis, reverse)
                assert got.dtype == a.dtype and got.shape == a.shape
                np.testing.assert_array_equal(got, expected(a, axis, reverse), err_msg=f"{shape} axis {axis} {name}")


@pytest.mark.parametrize("reverse", [False, True])
def test_kernel_agrees_with_reference(reverse):
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        for shape3 in [(9, 50, 1), (3, 20, 7), (1, 1, 1)]:
            x = rng.standard_normal(shape3).astype(dtype)
            out, want = np.empty_like(x), np.empty_like(x)
            scan.running_sum_kernel(x, reverse, out)
            scan.running_sum_kernel_ref(x, reverse, want)
            np.testing.assert_array_equal(out, want)


def test_float32_sums_pass_float32s_range_and_come_back():
    """3e38 + 2e38 overflows float32 but not the float64 accumulator: the next sum is finite again."""
    x = np.array([[3e38, 2e38, -3e38]] * 5, np.float32)  # five rows: four side by side and one after
    with np.errstate(over="ignore"):  # (the overflowing cast warns without the JIT; ops run quiet)
        results = (scan.running_sum(x, 1, False), scan.running_sum(x.T.copy(), 0, False).T)
    for got in results:
        assert got[:, 1].tolist() == [np.inf] * 5 and np.allclose(got[:, 2], 2e38)
    assert np.isnan(scan.running_sum(np.array([1.0, np.nan, 2.0], np.float32), 0, False)[1:]).all()


def test_a_broadcast_gradient_is_read_as_its_values():
    g = np.broadcast_to(np.float32(1), (4, 6))
    np.testing.assert_array_equal(scan.running_sum(g, 1, True), np.tile(np.arange(6, 0, -1, dtype=np.float32), (4, 1)))
