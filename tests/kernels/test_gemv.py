"""``matmul_few_rows`` (minigrad/kernels/gemv.py), the product of a few rows by a big matrix, against NumPy.

Small shapes on purpose: CI runs this folder again with NUMBA_DISABLE_JIT=1 (plain Python loops).
"""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import gemv as V
from minigrad.kernels import products as P

DTYPES = [np.float32, np.float64]


def _tol(dtype) -> dict:
    return {"rtol": 1e-5, "atol": 1e-5} if np.dtype(dtype) == np.float32 else {"rtol": 1e-12, "atol": 1e-12}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("b_transposed", [False, True])
@pytest.mark.parametrize("shape", [(1, 7, 9), (2, 5, 13), (3, 4, 1), (4, 9, 70), (1, 0, 6), (0, 3, 5), (2, 3, 0)])
@pytest.mark.parametrize("parts", [1, 2, 5])
def test_matmul_few_rows_matches_numpy(shape, b_transposed, parts, dtype):
    """Every column of every share written (``out`` starts as NaN); groups of four and the rest, in K and N."""
    m, k, n = shape
    rng = np.random.default_rng(m * 100 + k * 10 + n)
    a = rng.standard_normal((m, k)).astype(dtype)
    b = rng.standard_normal((n, k) if b_transposed else (k, n)).astype(dtype)
    ours, ref = np.full((m, n), np.nan, dtype), np.empty((m, n), dtype)
    V.matmul_few_rows(a, b, b_transposed, ours, parts)
    V.matmul_few_rows_ref(a, b, b_transposed, ref, parts)
    np.testing.assert_allclose(ours, ref, **_tol(dtype))


@pytest.mark.parametrize("b_transposed", [False, True])
def test_matmul_few_rows_propagates_nan_and_inf(b_transposed):
    a = np.array([[1.0, np.nan, 2.0, 0.0, 1.0], [np.inf, 1.0, 1.0, 1.0, 1.0]], np.float32)
    b = np.ones((6, 5) if b_transposed else (5, 6), np.float32)
    out = np.empty((2, 6), np.float32)
    V.matmul_few_rows(a, b, b_transposed, out, 2)
    assert np.isnan(out[0]).all() and np.isposinf(out[1]).all()


@pytest.mark.parametrize("rows", [1, 2, V.FEW_ROWS])
def test_parallel_matmul_takes_the_few_rows_kernel(monkeypatch, rows):
    """A product of up to FEW_ROWS rows runs as matrix-vector products; a weight given as ``W.T`` is not copied."""
    seen = []

    def spy(a, b, t, out, parts):
        seen.append((b, t))
        V.matmul_few_rows_ref(a, b, t, out, parts)

    spy.serial = spy  # (one thread: parallel_matmul calls the kernel's serial variant)
    monkeypatch.setattr(P, "matmul_few_rows", spy)
    rng = np.random.default_rng(rows)
    a, w = rng.standard_normal((rows, 30)).astype(np.float32), rng.standard_normal((70, 30)).astype(np.float32)
    out = P.parallel_matmul(a, w.T, np.empty((rows, 70), np.float32))
    np.testing.assert_allclose(out, a @ w.T, rtol=1e-5, atol=1e-5)
    assert len(seen) == 1 and seen[0][1] and np.shares_memory(seen[0][0], w)
