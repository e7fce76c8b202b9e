"""``products.product_route``: where ``matmul2d`` runs a product, as a table (``matmul2d`` and
``gathers_transposed_b`` both ask it; ``tests/test_one_thread_pool.py`` checks the routes taken)."""

from __future__ import annotations

import numpy as np
import pytest

from minigrad.kernels import _jit
from minigrad.kernels import products as P

# (m, k, n, b is W.T, pool awake, wake_pool) -> route, and whether a W.T of that shape is gathered into
# panels (gathers_transposed_b); for float32 on Numba's threads and a BLAS slow at x @ W.T
ROUTES = [
    (2, 3, 4, False, True, True, P.BLAS, False),                 # under SMALL_PRODUCT: BLAS on one thread
    (64, 1024, 1024, False, False, True, P.ALL_THREADS, True),   # PARALLEL_MIN_PRODUCT: wakes the pool
    (64, 1024, 1024, False, False, False, P.BLAS, True),         # ... unless asked not to (a once-a-step product)
    (32, 256, 256, False, False, True, P.BLAS, False),           # mid-sized, the pool asleep: BLAS's threads
    (32, 256, 256, False, True, True, P.ALL_THREADS, True),      # awake, from AWAKE_PARALLEL_MIN_PRODUCT
    (32, 128, 128, False, True, True, P.ONE_THREAD, True),       # awake, below it: the calling thread
    (4, 512, 512, True, True, True, P.ALL_THREADS, False),       # FEW_ROWS: a matrix-vector product, W.T in place
    (1000, 1, 1000, False, True, True, P.ALL_THREADS, True),     # an outer product
    (20, 256, 64, True, True, True, P.BANDS, False),             # Linear(256, 64) on 20 rows: bands_pay
]


@pytest.mark.parametrize(("m", "k", "n", "b_transposed", "awake", "wake_pool", "route", "gathers"), ROUTES)
def test_product_route(monkeypatch, m, k, n, b_transposed, awake, wake_pool, route, gathers) -> None:
    monkeypatch.setattr(P, "use_tiled_threads", lambda dtype: np.dtype(dtype) == np.float32)
    monkeypatch.setattr(P, "transposed_b_is_slow", lambda dtype: True)
    monkeypatch.setattr(_jit, "_pool_awake", awake)
    assert P.product_route(m, k, n, np.float32, b_transposed, wake_pool) == route
    assert P.product_route(m, k, n, np.float64, b_transposed, wake_pool) == P.BLAS  # float64: NumPy's BLAS
    assert P.gathers_transposed_b(m, k, n, np.float32) is gathers
