"""One pool of threads per train step (``kernels/products.py``): once Numba's pool has run in a process,
every float32 product big enough for BLAS to start its own threads runs in our kernels instead.

Both pools spin-wait for work after each call; awake together on the same cores, each slows the other
down (docs/performance.md, "One pool of threads"). The check: a train step of models that
mix every kind of product (``Linear`` on one row and on many, ``bmm``, a GRU fed one step at a time, an
LSTM on one row) calls NumPy's products only below ``SMALL_PRODUCT`` multiply-adds. Before Numba's pool
has run, mid-sized products stay in BLAS (its threads are then the one pool).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.kernels import _jit
from minigrad.kernels import products as P
from minigrad.kernels.products import PARALLEL_MIN_PRODUCT, SMALL_PRODUCT, num_threads

pytestmark = pytest.mark.skipif(num_threads() < 2, reason="needs Numba's threads (two or more)")


def _multiply_adds(a, b) -> int:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 0 or b.ndim == 0:
        return 0
    rows = a.shape[-2] if a.ndim >= 2 else 1
    cols = b.shape[-1] if b.ndim >= 2 else 1
    return rows * a.shape[-1] * cols


@pytest.fixture
def numpy_products(monkeypatch):
    """Every ``np.matmul`` / ``np.dot`` call's size (multiply-adds of one matrix product), as a list;
    Numba's pool awake, as after any parallel kernel."""
    monkeypatch.setattr(_jit, "_pool_awake", True)
    sizes = []

    def watched(real):
        def product(a, b, *args, **kwargs):
            sizes.append(_multiply_adds(a, b))
            return real(a, b, *args, **kwargs)
        return product

    monkeypatch.setattr(np, "matmul", watched(np.matmul))
    monkeypatch.setattr(np, "dot", watched(np.dot))
    return sizes


def _attention_decoder_step() -> None:
    """The seq2seq tutorial's Bahdanau decoder, smaller: batch 32, hidden 128, 4 steps, 600 words."""
    nn, F = mg.nn, mg.nn.functional
    mg.manual_seed(0)
    hidden, words, batch, steps = 128, 600, 32, 4
    embedding, out = nn.Embedding(words, hidden), nn.Linear(hidden, words)
    gru = nn.GRU(2 * hidden, hidden, batch_first=True)
    wa, ua, va = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, 1)
    keys = mg.randn(batch, 10, hidden)
    h = mg.randn(1, batch, hidden)
    tokens = mg.randint(0, words, (batch, steps))
    outputs = []
    for t in range(steps):
        scores = va(mg.tanh(wa(h.permute(1, 0, 2)) + ua(keys))).squeeze(2).unsqueeze(1)
        context = mg.bmm(F.softmax(scores, dim=-1), keys)
        o, h = gru(mg.cat((embedding(tokens[:, t:t + 1]), context), dim=2), h)
        outputs.append(out(o))
    loss = F.nll_loss(F.log_softmax(mg.cat(outputs, dim=1), dim=-1).view(-1, words), tokens.view(-1))
    loss.backward()


def _one_row_language_model_step() -> None:
    """A batch of one sentence: ``LSTM(300)`` (a matrix-vector product per step) and a 5000-word decoder."""
    mg.manual_seed(0)
    lstm, decoder = mg.nn.LSTM(64, 300), mg.nn.Linear(300, 5000)
    output, _ = lstm(mg.randn(6, 1, 64))
    mg.nn.functional.cross_entropy(decoder(output).view(-1, 5000), mg.zeros(6, dtype=mg.long)).backward()


@pytest.mark.parametrize("step", [_attention_decoder_step, _one_row_language_model_step])
def test_a_float32_train_step_leaves_big_products_to_numbas_threads(numpy_products, step):
    step()
    assert all(size < SMALL_PRODUCT for size in numpy_products)


def test_the_watch_sees_small_products_go_to_numpy(numpy_products):
    """The check above is not vacuous: a small product is seen, in NumPy."""
    mg.ones(2, 3) @ mg.ones(3, 4)
    assert numpy_products == [24]


def test_batched_products_take_numbas_threads_too(numpy_products):
    a, b = mg.randn(3, 64, 128, requires_grad=True), mg.randn(128, 96, requires_grad=True)
    (a @ b).sum().backward()
    np.testing.assert_allclose((a @ b).detach().numpy(), a.detach().numpy() @ b.detach().numpy(), rtol=1e-4, atol=1e-4)
    assert all(size < SMALL_PRODUCT for size in numpy_products)


def test_a_parallel_kernel_wakes_the_pool(monkeypatch):
    monkeypatch.setattr(_jit, "_pool_awake", False)
    a = np.ones((64, 256), np.float32)
    P.matmul2d(a, np.ones((256, 256), np.float32))  # 4 Mi multiply-adds: Numba's threads
    assert 64 * 256 * 256 >= PARALLEL_MIN_PRODUCT and _jit.pool_awake()


def test_a_product_asked_not_to_wake_the_pool_goes_to_blas_while_it_sleeps(monkeypatch, numpy_products):
    """A stacked weight gradient (autograd/stacked_products.py) is big, but must not move the step's
    mid-sized products to Numba's threads: while the pool sleeps it goes to BLAS; once awake, to the pool."""
    monkeypatch.setattr(_jit, "_pool_awake", False)
    a, b = np.ones((256, 1120), np.float32), np.ones((1120, 256), np.float32)
    assert 256 * 1120 * 256 >= PARALLEL_MIN_PRODUCT
    np.testing.assert_array_equal(P.matmul2d(a, b, wake_pool=False), np.full((256, 256), 1120, np.float32))
    assert numpy_products == [256 * 1120 * 256] and not _jit.pool_awake()
    monkeypatch.setattr(_jit, "_pool_awake", True)
    np.testing.assert_array_equal(P.matmul2d(a, b, wake_pool=False), np.full((256, 256), 1120, np.float32))
    assert numpy_products == [256 * 1120 * 256], "with the pool awake: Numba's threads, as any big product"


def test_a_stacked_weight_gradient_leaves_the_pool_asleep(monkeypatch):
    monkeypatch.setattr(_jit, "_pool_awake", False)
    W = mg.zeros(256, 256, requires_grad=True)
    h = mg.ones(32, 256)
    loss = sum(((h * (t + 1)) @ W).sum() for t in range(35))  # 35 terms of 32 rows: 73 Mi multiply-adds stacked
    loss.backward()
    np.testing.assert_allclose(W.grad.numpy(), np.full((256, 256), 32 * 35 * 36 / 2), rtol=1e-6)
    assert not _jit.pool_awake()


def test_mid_sized_products_stay_in_blas_while_the_pool_sleeps(monkeypatch, numpy_products):
    """A script whose products are all mid-sized (LSTMCells of 51 units, batch 97) never wakes Numba's pool."""
    monkeypatch.setattr(_jit, "_pool_awake", False)
    a, b = np.ones((97, 51), np.float32), np.ones((51, 204), np.float32)
    assert SMALL_PRODUCT <= 97 * 51 * 204 < PARALLEL_MIN_PRODUCT
    np.testing.assert_array_equal(P.matmul2d(a, b), np.full((97, 204), 51, np.float32))
    assert numpy_products == [97 * 51 * 204] and not _jit.pool_awake()


def test_narrow_outputs_take_our_narrow_tile_for_b_in_rows_and_blas_bands_for_w_t(monkeypatch, numpy_products):
    """Like d2l's character model, ``H @ W_hq`` (28 letters with AVX-512): 512 units, an output half
    the register tile wide (a tile of mostly padding). With ``b`` in rows, our narrow tile on the
    calling thread reads it in place; ``Linear``'s ``x @ W.T``, and an output narrower than a vector,
    go to BLAS in bands on the calling thread."""
    taken = []
    real = P.parallel_matmul
    monkeypatch.setattr(P, "parallel_matmul", lambda a, b, out, n=None: taken.append(n) or real(a, b, out, n))
    rng = np.random.default_rng(0)
    n = P.tile_shape(np.float32)[1] // 2  # 32 with AVX-512, 12 with AVX2
    a, b = rng.random((40 * 32 // n, 512), np.float32), rng.random((512, n), np.float32)
    assert SMALL_PRODUCT <= a.shape[0] * 512 * n < P.AWAKE_PARALLEL_MIN_PRODUCT and P.narrow_output(512, n, np.float32)
    np.testing.assert_allclose(P.matmul2d(a, b), a.astype(np.float64) @ b, rtol=1e-5)
    assert taken == [1] and numpy_products == []
    out = np.empty((a.shape[0], n), np.float32)
    assert P.matmul2d(a, b, out=out) is out and taken == [1, 1]  # into the caller's out, the same route
    np.testing.assert_allclose(P.matmul2d(a, np.ascontiguousarray(b.T).T), a.astype(np.float64) @ b, rtol=1e-5)
    lanes = P.vector_lanes(np.float32)
    np.testing.assert_allclose(P.matmul2d(a, b[:, :lanes - 1].copy()), a.astype(np.float64) @ b[:, :lanes - 1],
                               rtol=1e-5)
    assert taken == [1, 1] and len(numpy_products) > 2 and all(size < SMALL_PRODUCT for size in numpy_products)


def test_which_outputs_are_narrow():
    lanes = P.tile_shape(np.float32)[1]  # 64 with AVX-512, 24 with AVX2
    assert P.narrow_output(512, lanes // 2, np.float32) and not P.narrow_output(512, lanes // 2 + 1, np.float32)
    assert not P.narrow_output(2000, 28, np.float32)  # a band of 8 rows would reach BLAS's threads


# (rows, inner, cols, b transposed, BLAS slow on a transposed b) -> bands_pay
BANDS_TABLE = [
    (32, 28, 512, False, False, False),    # one-hot X @ W_xh of d2l's character models: our tile, b in place
    (28, 32, 512, False, False, False),    # its weight gradient X^T @ dL/dZ
    (120, 32, 100, False, False, True),    # b in rows, a short inner dim, many rows: cut along the rows
    (120, 51, 64, False, False, False),    # ... an inner dimension past BANDS_MAX_INNER
    (63, 50, 100, False, False, False),    # ... fewer rows than BANDS_MIN_ROWS
    (32, 60, 256, True, False, True),      # x @ W.T just under BANDS_MAX_PRODUCT
    (32, 64, 256, True, False, False),     # BANDS_MAX_PRODUCT itself: our tile
    (16, 1000, 30, False, False, False),   # 2 bands of 15 columns: too thin for BLAS
    (32, 28, 512, True, False, True),      # x @ W.T where BLAS runs it at speed
    (32, 28, 512, True, True, False),      # ... and where it does not (kernels/blas.py), with a short inner dim
    (32, 500, 65, True, True, True),       # Linear(500, 65) on 32 rows there: BLAS's bands still beat the tile
    (32, 512, 65, True, True, False),      # ... Linear(512, 65): AWAKE_PARALLEL_MIN_PRODUCT, our tile on all threads
    (24, 256, 160, True, True, True),      # ... past BANDS_MAX_PRODUCT too, the slow case's own bounds
    (48, 256, 200, True, True, False),     # ... up to AWAKE_PARALLEL_MIN_PRODUCT: our tile on all threads
    (49, 256, 80, True, True, False),      # more rows than SLOW_BANDS_MAX_ROWS
    (32, 128, 200, True, True, False),     # a shorter inner dimension than SLOW_BANDS_MIN_INNER
    (5, 3776, 14, True, True, False),      # bands of 7 columns: thinner than SLOW_BANDS_MIN_SIDE
]


@pytest.mark.parametrize(("rows", "inner", "cols", "b_transposed", "slow", "expected"), BANDS_TABLE)
def test_which_mid_sized_products_go_to_blas_bands(monkeypatch, rows, inner, cols, b_transposed, slow, expected):
    monkeypatch.setattr(P, "transposed_b_is_slow", lambda dtype: slow)
    assert SMALL_PRODUCT <= rows * inner * cols < PARALLEL_MIN_PRODUCT
    assert P.bands_pay(rows, inner, cols, np.float32, b_transposed) is expected


def test_bands_cut_the_longer_side_evenly():
    assert P.band_plan(120, 32, 100) == (True, 60)   # 2 bands of 60 rows
    assert P.band_plan(32, 28, 512) == (False, 256)  # 2 bands of 256 columns
    assert P.band_plan(40, 512, 28, rows_only=True) == (True, 14)  # a narrow output: rows, 3 bands


@pytest.mark.parametrize(("rows", "inner", "cols"), [(32, 28, 512), (512, 32, 100), (120, 32, 100), (17, 100, 301)])
def test_blas_bands_compute_the_product_each_on_one_thread(numpy_products, rows, inner, cols):
    """Every band stays under SMALL_PRODUCT (BLAS runs it on the calling thread); together they are the product."""
    rng = np.random.default_rng(0)
    a, b = rng.random((rows, inner), np.float32), rng.random((inner, cols), np.float32)
    expected = a.astype(np.float64) @ b
    np.testing.assert_allclose(P.blas_in_bands(a, b), expected, rtol=1e-5)
    out = np.full((rows, cols), np.nan, np.float32)
    assert P.blas_in_bands(a.T.copy().T, b, out) is out  # a transposed a, into a given out
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    assert len(numpy_products) >= 4 and all(size < SMALL_PRODUCT for size in numpy_products)
    assert sum(numpy_products) == 2 * rows * inner * cols


def test_a_one_hot_product_runs_in_our_tile_on_the_calling_thread_once_the_pool_is_awake(monkeypatch, numpy_products):
    """d2l's ``X @ W_xh`` (a one-hot batch of 32 by 28 letters, 512 units): our tile reads W_xh in place."""
    taken = []
    real = P.parallel_matmul
    monkeypatch.setattr(P, "parallel_matmul", lambda a, b, out, n=None: taken.append(n) or real(a, b, out, n))
    rng = np.random.default_rng(0)
    x, w = rng.random((32, 28), np.float32), rng.random((28, 512), np.float32)
    np.testing.assert_allclose(P.matmul2d(x, w), x.astype(np.float64) @ w, rtol=1e-5)
    assert taken == [1] and numpy_products == []


@pytest.mark.parametrize(("rows", "cols", "transposed"), [(1600, 256, True), (1600, 256, False), (700, 400, True)])
def test_an_outer_product_runs_on_numbas_threads_not_in_numpys_loop(monkeypatch, numpy_products, rows, cols,
                                                                   transposed):
    """An inner dimension of 1 (``nn.LSTM(1, H)``'s input projection, ``x @ W_ih.T`` of a one-feature series)
    from SMALL_PRODUCT up, the pool awake: our kernel on all threads. ``np.matmul`` in bands would run
    it in NumPy's own loop instead of BLAS, ten times slower."""
    threads = []
    real = P.parallel_matmul
    monkeypatch.setattr(P, "parallel_matmul", lambda a, b, out, n=None: threads.append(n) or real(a, b, out, n))
    rng = np.random.default_rng(0)
    x = rng.random((rows, 1), np.float32)
    w = rng.random((cols, 1), np.float32).T if transposed else rng.random((1, cols), np.float32)
    assert rows * cols >= SMALL_PRODUCT
    out = np.full((rows, cols), np.nan, np.float32)
    assert P.matmul2d(x, w, out=out) is out
    np.testing.assert_allclose(out, x.astype(np.float64) * w, rtol=1e-6)
    assert threads == [None] and numpy_products == []  # all threads, and no NumPy product at all


@pytest.mark.parametrize(("rows", "inner", "cols", "threads"), [
    (32, 128, 1000, None),  # a decoder's Linear(128, 1000) on a batch of 32: 4.1 Mi, all threads
    (32, 128, 384, None),   # a GRU step's x @ W_ih.T (1.5 Mi)
    (32, 64, 384, 1),       # 0.75 Mi: below AWAKE_PARALLEL_MIN_PRODUCT, the calling thread alone
])
def test_mid_sized_products_take_all_threads_from_a_size_once_the_pool_is_awake(monkeypatch, numpy_products, rows,
                                                                                 inner, cols, threads):
    """Once a parallel kernel has woken the pool, a product from ``AWAKE_PARALLEL_MIN_PRODUCT`` up runs on
    all its threads (the other thread would only wait); below that, on the calling thread alone."""
    taken = []
    real = P.parallel_matmul
    monkeypatch.setattr(P, "parallel_matmul", lambda a, b, out, n=None: taken.append(n) or real(a, b, out, n))
    rng = np.random.default_rng(0)
    x, w = rng.random((rows, inner), np.float32), rng.random((cols, inner), np.float32)
    assert SMALL_PRODUCT <= rows * inner * cols < PARALLEL_MIN_PRODUCT
    assert not P.bands_pay(rows, inner, cols, np.float32, True) and not P.narrow_output(inner, cols, np.float32)
    np.testing.assert_allclose(P.matmul2d(x, w.T), x.astype(np.float64) @ w.T, rtol=1e-5)
    assert taken == [threads] and numpy_products == []
