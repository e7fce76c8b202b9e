"""kernels/selection.py: ``topk``'s one pass per row against its definition (a stable sort, then the
first ``k``), with ties, NaN and integers; and ``mg.topk`` on that path against PyTorch and gradcheck.

Small sizes: CI runs this folder again with NUMBA_DISABLE_JIT=1 (the kernel as plain Python).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck
from minigrad.kernels import selection as S

DTYPES = [np.float32, np.float64, np.int32, np.int64]


def _rows(dtype, rows: int, n: int, seed: int, *, ties: bool, nans: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(-3, 4, (rows, n)) if ties else rng.standard_normal((rows, n)) * 100
    x = x.astype(dtype)
    if nans:
        x[rng.random((rows, n)) < 0.1] = np.nan
    return x


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("largest", [True, False])
@pytest.mark.parametrize("ties, nans", [(False, False), (True, False), (False, True), (True, True)],
                         ids=["distinct", "ties", "nan", "ties+nan"])
def test_kernel_matches_reference(dtype, largest, ties, nans):
    if nans and np.dtype(dtype).kind != "f":
        pytest.skip("integers have no NaN")
    for seed, (rows, n) in enumerate([(1, 1), (3, 7), (4, 40), (2, 130)]):
        x = _rows(dtype, rows, n, seed, ties=ties, nans=nans)
        for k in sorted({0, 1, min(2, n), min(5, n), n}):
            got = np.empty((rows, k), dtype), np.empty((rows, k), np.int64)
            want = np.empty((rows, k), dtype), np.empty((rows, k), np.int64)
            S.top_k_rows_kernel(x, k, largest, *got)
            S.top_k_rows_kernel_ref(x, k, largest, *want)
            np.testing.assert_array_equal(got[1], want[1], err_msg=f"indices, {rows}x{n}, k={k}")
            np.testing.assert_array_equal(got[0], want[0], err_msg=f"values, {rows}x{n}, k={k}")


@pytest.mark.parametrize("largest", [True, False])
def test_top_k_indices_along_any_axis_and_for_views(largest):
    x = _rows(np.float32, 6, 200, 7, ties=True, nans=True).reshape(3, 2, 200)
    for a in (x, np.moveaxis(x, 2, 0), np.moveaxis(x, 2, 1), x[:, :, ::2]):  # the rows along each axis
        for axis in range(3):
            n = a.shape[axis]
            for k in sorted({0, 1, min(3, n), n // 8, n}):
                want = np.take(S.stable_order(a, axis, descending=largest), np.arange(k), axis=axis)
                got = S.top_k_indices(a, k, axis, largest)
                assert got.dtype == np.int64 and got.flags.c_contiguous
                np.testing.assert_array_equal(got, want, err_msg=f"shape {a.shape}, axis {axis}, k={k}")


def test_one_pass_is_taken_for_small_k_only(monkeypatch):
    calls = []
    kernel = S.top_k_rows_kernel
    monkeypatch.setattr(S, "top_k_rows_kernel", lambda *args: calls.append(args[1]) or kernel(*args))
    monkeypatch.setattr(S, "jit_disabled", lambda: False)  # the rule, whatever the environment
    x = np.zeros((2, 100), np.float32)
    for k in (0, 1, 12, 13, 64):
        S.top_k_indices(x, k, 1, True)
    S.top_k_indices(np.zeros((2, 1000), np.float32), 65, 1, True)
    S.top_k_indices(np.zeros((2, 100), np.float16), 2, 1, True)
    assert calls == [1, 12]  # not k = 0; 13 * 8 > 100, 64 * 8 > 100, 65 > ONE_PASS_MAX_K; float16


def test_topk_on_the_one_pass_path_is_pytorchs_live(torch):
    a = np.random.default_rng(3).permutation(3 * 4 * 90).reshape(3, 4, 90).astype(np.float32)  # no ties
    for dim, k, largest in [(-1, 5, True), (-1, 3, False), (0, 1, False), (2, 11, True)]:
        t = torch.tensor(a).topk(k, dim=dim, largest=largest)
        m = mg.tensor(a).topk(k, dim=dim, largest=largest)
        np.testing.assert_array_equal(m.values.numpy(), t.values.numpy())
        np.testing.assert_array_equal(m.indices.numpy(), t.indices.numpy())


def test_topk_of_nothing():
    for shape, dim in [((2, 100), 1), ((100, 3), 0), ((0, 50), 1)]:
        values, indices = mg.zeros(*shape).topk(0, dim=dim)
        expected = tuple(0 if d == dim else n for d, n in enumerate(shape))
        assert values.shape == expected and indices.shape == expected and indices.dtype == mg.int64


def test_topk_gradient_on_the_one_pass_path():
    rng = np.random.default_rng(4)
    x = mg.tensor(rng.permutation(2 * 60).reshape(2, 60) / 7.0, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda t: t.topk(4, dim=1).values * mg.arange(1.0, 5.0, dtype=mg.float64), [x])
    wide = mg.tensor(rng.permutation(60 * 2).reshape(60, 2) / 7.0, dtype=mg.float64, requires_grad=True)
    assert gradcheck(lambda t: t.T.topk(3, dim=1, largest=False).values.exp(), [wide])  # a transposed view
