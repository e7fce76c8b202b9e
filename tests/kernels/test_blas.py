"""``kernels/blas.py``: which way of writing a product NumPy's BLAS gets, and that both ways agree."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from minigrad.kernels import blas
from minigrad.kernels.blas import blas_core, swap_pays, swapped_matmul
from minigrad.kernels.products import blas_matmul2d, matmul2d

# (dtype, rows, inner, cols, b transposed) -> swapped, on a BLAS with OpenBLAS's AVX-512 kernels.
SWAP_TABLE = [
    (np.float32, 32, 256, 256, True, True),     # dL/dH = dL/dZ @ W_hh^T of a batch of 32
    (np.float32, 8, 256, 256, True, True),      # 2,048 output elements
    (np.float32, 16, 100, 100, True, True),     # 1,600
    (np.float32, 48, 64, 2600, True, True),     # the largest batch, the smallest inner dimension
    (np.float32, 12, 256, 100, True, False),    # 1,200 output elements: the two ways run alike
    (np.float32, 4, 256, 256, True, False),     # 1,024
    (np.float32, 64, 256, 256, True, False),    # more rows than SWAP_MAX_ROWS
    (np.float32, 32, 32, 256, True, False),     # inner dimension below SWAP_MIN_INNER
    (np.float32, 32, 256, 64, True, False),     # fewer columns than SWAP_MIN_COLS
    (np.float32, 32, 256, 256, False, False),   # b in rows (H @ W): as written
    (np.float64, 32, 256, 256, True, False),    # double precision: as written
]


@pytest.mark.parametrize(("dtype", "rows", "inner", "cols", "b_transposed", "expected"), SWAP_TABLE)
def test_swap_pays_table(monkeypatch, dtype, rows, inner, cols, b_transposed, expected):
    monkeypatch.setattr(blas, "blas_core", lambda: "skylakex")
    assert swap_pays(dtype, rows, inner, cols, b_transposed) is expected


@pytest.mark.parametrize("core", ["haswell", "zen", ""])
def test_other_blas_kernels_get_the_product_as_written(monkeypatch, core):
    monkeypatch.setattr(blas, "blas_core", lambda: core)
    assert not swap_pays(np.float32, 32, 256, 256, True)


def test_blas_core_names_numpys_kernels():
    core = blas_core()
    assert core == core.strip().lower()
    if core:  # NumPy ships OpenBLAS beside it: the name is one of OpenBLAS's cores
        assert core.isidentifier()


def test_blas_core_honours_openblas_coretype():
    """OpenBLAS reads OPENBLAS_CORETYPE when it loads: the query reports the kernels it then runs."""
    if blas_core() in ("", "haswell"):
        pytest.skip("NumPy's BLAS cannot be asked here, or already runs its Haswell kernels")
    env = {**os.environ, "OPENBLAS_CORETYPE": "Haswell"}
    code = "from minigrad.kernels.blas import blas_core; print(blas_core())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "haswell"


@pytest.mark.parametrize(("rows", "inner", "cols"), [(32, 256, 256), (8, 100, 300), (1, 3, 2)])
def test_swapped_matmul_is_the_product(rows, inner, cols):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, inner)).astype(np.float32)
    w = rng.standard_normal((cols, inner)).astype(np.float32)
    out = np.full((rows, cols), np.nan, np.float32)
    got = swapped_matmul(x, w.T, out)
    assert got is out and out.flags.c_contiguous
    np.testing.assert_allclose(out, x.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("core", ["skylakex", "haswell"])
@pytest.mark.parametrize("given_out", [False, True])
def test_blas_matmul2d_either_way(monkeypatch, core, given_out):
    """Swapped or not, ``blas_matmul2d`` returns ``x @ W.T`` in a C-ordered array (its ``out`` when given)."""
    monkeypatch.setattr(blas, "blas_core", lambda: core)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((20, 200)).astype(np.float32)
    w = rng.standard_normal((800, 200)).astype(np.float32)
    out = np.empty((20, 800), np.float32) if given_out else None
    got = blas_matmul2d(x, w.T, out)
    assert got.flags.c_contiguous and got.dtype == np.float32
    assert got is out or not given_out
    np.testing.assert_allclose(got, x.astype(np.float64) @ w.T.astype(np.float64), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(matmul2d(x, w.T), got, rtol=1e-5, atol=1e-5)


def test_special_values_either_way(monkeypatch):
    """inf and NaN reach the same places whichever way the product is written."""
    x = np.ones((32, 128), np.float32)
    x[3, 5] = np.inf
    x[7, 0] = np.nan
    w = np.ones((128, 128), np.float32)
    monkeypatch.setattr(blas, "blas_core", lambda: "skylakex")
    swapped = blas_matmul2d(x, w.T)
    monkeypatch.setattr(blas, "blas_core", lambda: "haswell")
    written = blas_matmul2d(x, w.T)
    np.testing.assert_array_equal(np.isnan(swapped), np.isnan(written))
    np.testing.assert_array_equal(np.isinf(swapped), np.isinf(written))


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="needs Linux's /proc/self/maps")
def test_blas_core_loads_no_library():
    """It asks the OpenBLAS NumPy loaded, never loads one (a second OpenBLAS would start threads)."""
    code = ("import numpy\n"
            "def mapped(): return {line.split()[-1] for line in open('/proc/self/maps') if '.so' in line}\n"
            "before = mapped()\n"
            "from minigrad.kernels.blas import blas_core\n"
            "blas_core()\n"
            "print(sorted(p for p in mapped() - before if 'blas' in p.lower()))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
