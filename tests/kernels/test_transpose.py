"""The blocked transpose (minigrad/kernels/transpose.py) agrees with NumPy's.

``contiguous_transpose`` behaves as ``np.ascontiguousarray(a.T)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import transpose as KT

SIDES = [1, 7, 8, 9, 16, 23, 64, 130]  # below, at and past whole blocks of 8


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", SIDES)
@pytest.mark.parametrize("m", SIDES)
def test_kernel_agrees_with_its_reference(dtype, n, m):
    a = np.random.default_rng(n * 1000 + m).standard_normal((n, m)).astype(dtype)
    out, expected = np.full((m, n), np.nan, dtype), np.full((m, n), np.nan, dtype)
    KT.transpose_kernel(a, out)
    KT.transpose_kernel_ref(a, expected)
    np.testing.assert_array_equal(out, expected)  # a copy: bit for bit, every element written
    np.testing.assert_array_equal(out, a.T)


@pytest.mark.parametrize("shape", [(512, 128), (150, 50), (256, 64), (2, 3)], ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_contiguous_transpose_is_numpys(shape, dtype):
    a = (np.random.default_rng(0).standard_normal(shape) * 100).astype(dtype)
    t = KT.contiguous_transpose(a)
    assert t.flags.c_contiguous and t.dtype == a.dtype
    np.testing.assert_array_equal(t, a.T)
    assert not np.shares_memory(t, a)  # a copy: writing the transpose leaves a alone


def test_views_and_transposed_layouts():
    a = np.random.default_rng(1).standard_normal((300, 200)).astype(np.float32)
    np.testing.assert_array_equal(KT.contiguous_transpose(a[::2, 1::3]), a[::2, 1::3].T)  # strided: NumPy's copy
    f_order = np.asfortranarray(a)
    view = KT.contiguous_transpose(f_order)  # its transpose is C-contiguous already: no copy, as NumPy's
    assert np.shares_memory(view, f_order) and view.flags.c_contiguous
    np.testing.assert_array_equal(view, a.T)


def test_nan_and_inf_move_as_they_are():
    a = np.random.default_rng(2).standard_normal((200, 100))
    a[3, 5], a[150, 99], a[199, 0] = np.nan, np.inf, -np.inf
    t = KT.contiguous_transpose(a)
    assert np.isnan(t[5, 3]) and t[99, 150] == np.inf and t[0, 199] == -np.inf
