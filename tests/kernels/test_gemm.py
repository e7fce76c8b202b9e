"""The register-tiled matmul of the sequence kernels (minigrad/kernels/gemm.py) against NumPy.

Shapes cover every path: full tiles, a partial last block of rows, columns left over after the
last full panel, fewer columns than one panel, one row, empty dimensions. Small on purpose: CI
runs this folder again with NUMBA_DISABLE_JIT=1 (plain Python loops).
"""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import gemm as G
from minigrad.kernels import rnn as K

DTYPES = [np.float32, np.float64]


def _tol(dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-5} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(8, 16, 64), (5, 7, 64), (3, 4, 130), (9, 3, 200), (1, 5, 64), (4, 6, 10),
                                   (2, 1, 65), (0, 3, 64), (3, 0, 64), (3, 4, 0)])
def test_matmul_matches_numpy(shape, dtype):
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((k, n)).astype(dtype)
    ours = np.full((m, n), np.nan, dtype)  # every element must be written
    ref = np.empty((m, n), dtype)
    G.matmul(a, b, ours)
    G.matmul_ref(a, b, ref)
    np.testing.assert_allclose(ours, ref, **_tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_matmul_column_ranges(dtype):
    """gemm_cols writes exactly the columns it is given (the rest of ``out`` stays as it was)."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((6, 5)).astype(dtype)
    b = rng.standard_normal((5, 150)).astype(dtype)
    out = np.full((6, 150), 7.0, dtype)
    G.matmul_cols(a, b, out, 20, 149)
    np.testing.assert_allclose(out[:, 20:149], a @ b[:, 20:149], **_tol(dtype))
    assert (out[:, :20] == 7).all() and (out[:, 149:] == 7).all()


def test_matmul_propagates_nan_and_inf():
    """FMA contraction changes rounding only: NaN and Inf come out where NumPy puts them."""
    a = np.ones((5, 3), np.float32)
    b = np.ones((3, 70), np.float32)
    a[1, 2], b[0, 5], b[2, 66] = np.nan, np.inf, -np.inf
    ours, ref = np.empty((5, 70), np.float32), a @ b
    G.matmul(a, b, ours)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_array_equal(ours[np.isinf(ref)], ref[np.isinf(ref)])


def test_tile_shape():
    rows, cols = G.tile_shape(np.float32)
    assert rows == G.TILE_ROWS and cols in (16, 32, 64)
    assert G.tile_shape(np.float64)[1] * 2 == cols


@pytest.mark.parametrize("mode", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_sequence_kernels_through_gemm(mode, direction):
    """float32 layers wide enough that the step matmul goes through gemm (4H = 64 columns for LSTM)."""
    name = f"{mode}_sequence_{direction}"
    hidden = {"lstm": 16, "gru": 22, "rnn": 64}[mode]
    args = K.example_args(name, np.float32, n_time=3, batch=5, hidden=hidden, lengths=[3, 1, 2, 3, 0])
    copy = lambda x: x.copy() if isinstance(x, np.ndarray) else x  # noqa: E731
    ours, ref = tuple(map(copy, args)), tuple(map(copy, args))
    getattr(K, name)(*ours)
    getattr(K, name + "_ref")(*ref)
    for i, (x, y) in enumerate(zip(ours, ref)):
        if isinstance(x, np.ndarray):
            np.testing.assert_allclose(x, y, rtol=2e-5, atol=2e-5, err_msg=f"{name}: argument {i}")
