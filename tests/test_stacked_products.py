"""A weight's per-step gradients stacked into one product (autograd/stacked_products.py) give the same sum."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import stacked_products as S
from minigrad.kernels import _jit


def steps_of(rows: int, k: int, n: int, steps: int, dtype=np.float64, seed: int = 0):
    rng = np.random.default_rng(seed)
    return ([rng.standard_normal((rows, k)).astype(dtype) for _ in range(steps)],
            [rng.standard_normal((rows, n)).astype(dtype) for _ in range(steps)])


def test_rows_product_defers_few_rows_of_arrays_and_multiplies_the_rest_now() -> None:
    a, b = np.ones((1, 4)), np.ones((1, 5))
    term = S.rows_product(a, b)
    assert type(term) is S.TransposedProduct and term.shape == (4, 5) and term.dtype == np.float64
    np.testing.assert_array_equal(np.asarray(term), a.T @ b)
    many = S.ROWS_PER_TERM + 1
    now = S.rows_product(np.ones((many, 400)), np.ones((many, 500)))
    assert type(now) is np.ndarray
    np.testing.assert_array_equal(now, np.full((400, 500), float(many)))
    assert type(S.rows_product(np.ones((32, 28)), np.ones((32, 256)))) is np.ndarray  # the copy would not pay
    assert type(S.rows_product(np.ones((2, 3), np.int64), np.ones((2, 3), np.int64))) is np.ndarray
    tensors = S.rows_product(mg.ones(2, 3, dtype=mg.float64), mg.ones(2, 4, dtype=mg.float64))  # create_graph
    assert isinstance(tensors, mg.Tensor) and tensors.shape == (3, 4)


# (rows, k, n) of a term a.T @ b -> deferred? (benchmarks/products.py --scan stack times each region)
STACKING_TABLE = [
    (1, 4, 5, True),          # one row: an outer product, nothing to copy but the row
    (32, 256, 256, True),     # rows copied: a quarter of the matrix
    (64, 512, 512, True),     # ROWS_PER_TERM rows
    (65, 512, 512, False),    # more rows than that: the product runs at speed already
    (32, 28, 512, True),      # the gradient of d2l's one-hot X @ W_xh: the copy 1.2 times the matrix, a mid-sized term
    (32, 512, 28, True),      # ... and of H @ W_hq to 28 letters
    (16, 28, 1000, True),     # a mid-sized term, the copy 0.6 times the matrix
    (32, 28, 256, False),     # the copy 1.3 times the matrix, and under SMALL_PRODUCT
    (32, 64, 64, False),      # the copy as big as the matrix, under SMALL_PRODUCT
    (64, 28, 28, False),      # the copy 4.6 times the matrix
]


@pytest.mark.parametrize(("rows", "k", "n", "expected"), STACKING_TABLE)
def test_which_terms_are_stacked(monkeypatch, rows: int, k: int, n: int, expected: bool) -> None:
    """With Numba's pool awake and float32 products on its threads (d2l_scratch's step)."""
    monkeypatch.setattr(_jit, "_pool_awake", True)
    monkeypatch.setattr(S, "use_tiled_threads", lambda dtype: np.dtype(dtype) == np.float32)
    assert S.stacking_pays(rows, k, n, np.float32) is expected


def test_mid_sized_terms_are_stacked_only_where_one_by_one_they_would_run_on_one_thread(monkeypatch) -> None:
    """Where BLAS runs them on its own threads (Numba's pool asleep, float64), one by one is quicker."""
    monkeypatch.setattr(S, "use_tiled_threads", lambda dtype: np.dtype(dtype) == np.float32)
    monkeypatch.setattr(_jit, "_pool_awake", True)
    x, g = np.ones((32, 28), np.float32), np.ones((32, 512), np.float32)
    term = S.rows_product(x, g)
    assert type(term) is S.TransposedProduct
    np.testing.assert_array_equal(np.asarray(term), np.full((28, 512), 32, np.float32))
    assert not S.stacking_pays(32, 28, 512, np.float64)
    assert S.stacking_pays(32, 256, 256, np.float64)  # the copy a quarter of the matrix: stacked everywhere
    monkeypatch.setattr(_jit, "_pool_awake", False)
    assert type(S.rows_product(x, g)) is np.ndarray
    assert S.stacking_pays(32, 256, 256, np.float32)


@pytest.mark.parametrize("rows, steps", [(1, 1), (1, 7), (5, 3), (32, 35)])
def test_a_product_sum_equals_the_sum_of_the_products(rows: int, steps: int) -> None:
    xs, gs = steps_of(rows, 6, 4, steps)
    total = S.ProductSum(S.TransposedProduct(xs[0], gs[0]))
    for x, g in zip(xs[1:], gs[1:]):
        total.add(S.TransposedProduct(x, g))
    expected = sum(x.T @ g for x, g in zip(xs, gs))
    np.testing.assert_allclose(total.result(), expected, rtol=1e-12, atol=1e-12)


def test_plain_arrays_join_the_sum_and_are_never_written_into() -> None:
    xs, gs = steps_of(2, 3, 4, 2)
    plain = np.ones((3, 4))
    total = S.ProductSum(S.TransposedProduct(xs[0], gs[0]))
    total.add(plain)
    total.add(S.TransposedProduct(xs[1], gs[1]))
    total.add(plain)
    np.testing.assert_allclose(total.result(), xs[0].T @ gs[0] + xs[1].T @ gs[1] + 2)
    np.testing.assert_array_equal(plain, np.ones((3, 4)))


def test_past_the_byte_limit_the_stack_is_multiplied_and_starts_again(monkeypatch) -> None:
    xs, gs = steps_of(4, 3, 5, 10)
    monkeypatch.setattr(S, "STACK_BYTES", 3 * 4 * (3 + 5) * 8)  # three terms' rows
    total = S.ProductSum(S.TransposedProduct(xs[0], gs[0]))
    held = []
    for x, g in zip(xs[1:], gs[1:]):
        total.add(S.TransposedProduct(x, g))
        held.append(len(total.a))
    assert max(held) < 3, "the stack never holds more rows than the limit allows"
    np.testing.assert_allclose(total.result(), sum(x.T @ g for x, g in zip(xs, gs)), rtol=1e-12)


def test_one_row_is_an_outer_product_that_keeps_negative_zeros() -> None:
    x, g = np.array([[-0.0, 2.0]]), np.array([[1.0, 3.0]])
    out = np.asarray(S.TransposedProduct(x, g))
    assert np.signbit(out[0]).all() and (out[1] == [2.0, 6.0]).all()


def rnn_like(W: mg.Tensor, xs: list[np.ndarray], use_linear: bool) -> mg.Tensor:
    """A weight used at every step: ``h = tanh(x_t @ W + h * 0.5)``, or through ``F.linear`` (W.T)."""
    h = None
    for x in xs:
        z = mg.nn.functional.linear(mg.tensor(x), W) if use_linear else mg.tensor(x) @ W
        h = mg.tanh(z if h is None else z + h * 0.5)
    return h.sum()


@pytest.fixture
def stacks_made(monkeypatch) -> list[int]:
    """How many leaves' stacks the engine multiplied (``ProductSum.result`` calls)."""
    made: list[int] = []
    result = S.ProductSum.result

    def counted(self):
        made.append(1)
        return result(self)

    monkeypatch.setattr(S.ProductSum, "result", counted)
    return made


def without_stacking(run):
    saved, S.ROWS_PER_TERM = S.ROWS_PER_TERM, 0
    try:
        return run()
    finally:
        S.ROWS_PER_TERM = saved


@pytest.mark.parametrize("use_linear", [False, True])
@pytest.mark.parametrize("rows, size", [(1, 5), (2, 16), (8, 40), (S.ROWS_PER_TERM + 1, 5)])
def test_the_engine_gives_a_weight_used_at_every_step_its_whole_gradient(use_linear, rows, size, stacks_made) -> None:
    xs, _ = steps_of(rows, size, size, 12)
    w0 = np.random.default_rng(1).standard_normal((size, size)) * 0.3
    stacked = mg.tensor(w0, requires_grad=True)
    rnn_like(stacked, xs, use_linear).backward()
    assert len(stacks_made) == S.stacking_pays(rows, size, size)
    one_by_one = mg.tensor(w0, requires_grad=True)
    without_stacking(lambda: rnn_like(one_by_one, xs, use_linear).backward())
    np.testing.assert_allclose(stacked.grad.numpy(), one_by_one.grad.numpy(), rtol=1e-12, atol=1e-13)
    if size == 5:  # and the same again by finite differences, in float64
        assert mg.autograd.gradcheck(lambda W: rnn_like(W, xs[:3], use_linear), (mg.tensor(w0, requires_grad=True),))


def test_a_weight_with_terms_and_other_gradients_gets_their_sum(stacks_made) -> None:
    xs, _ = steps_of(2, 16, 16, 5)
    W = mg.tensor(np.eye(16), requires_grad=True)
    (rnn_like(W, xs, False) + (W * W).sum()).backward()  # an elementwise gradient too, among the terms
    assert stacks_made
    W2 = mg.tensor(np.eye(16), requires_grad=True)
    without_stacking(lambda: (rnn_like(W2, xs, False) + (W2 * W2).sum()).backward())
    np.testing.assert_allclose(W.grad.numpy(), W2.grad.numpy(), rtol=1e-12)


def test_hooks_grad_and_retain_graph_see_the_whole_sum(stacks_made) -> None:
    xs, _ = steps_of(2, 16, 16, 4)
    W = mg.tensor(np.eye(16) * 0.5, requires_grad=True)
    seen = []
    W.register_hook(lambda g: seen.append(g.numpy().copy()))
    loss = rnn_like(W, xs, False)
    (by_grad,) = mg.autograd.grad(loss, W, retain_graph=True)
    loss.backward(retain_graph=True)
    loss.backward()
    assert len(stacks_made) == 3 and len(seen) == 3, "the leaf's hook runs once per backward, with the total"
    expected = without_stacking(lambda: mg.autograd.grad(rnn_like(W, xs, False), W)[0])
    np.testing.assert_allclose(seen[0], expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(by_grad.numpy(), expected.numpy(), rtol=1e-12)
    np.testing.assert_allclose(W.grad.numpy(), 2 * expected.numpy(), rtol=1e-12)


def test_second_derivatives_and_anomaly_mode_still_work_through_terms() -> None:
    xs, _ = steps_of(2, 16, 16, 3)
    W = mg.tensor(np.eye(16) * 0.5, requires_grad=True)
    (g,) = mg.autograd.grad(rnn_like(W, xs, False), W, create_graph=True)  # Tensors: nothing stacked
    assert g.grad_fn is not None
    (plain,) = mg.autograd.grad(rnn_like(W, xs, False), W)
    np.testing.assert_allclose(g.detach().numpy(), plain.numpy(), rtol=1e-12)
    with mg.autograd.detect_anomaly():  # the engine checks each gradient for nan: terms are multiplied first
        rnn_like(W, xs, True).backward()
    (expected,) = mg.autograd.grad(rnn_like(W, xs, True), W)
    np.testing.assert_allclose(W.grad.numpy(), expected.numpy(), rtol=1e-12)


def test_matches_pytorch_on_a_stepped_linear_rnn() -> None:
    torch = pytest.importorskip("torch")
    xs, _ = steps_of(4, 24, 24, 9, dtype=np.float32)
    w0 = (np.random.default_rng(2).standard_normal((24, 24)) * 0.1).astype(np.float32)
    results = []
    for lib in (mg, torch):
        W = lib.tensor(w0, requires_grad=True)
        h = None
        for x in xs:
            z = lib.nn.functional.linear(lib.tensor(x), W) + lib.tensor(x) @ W
            h = lib.tanh(z if h is None else z + h)
        h.sum().backward()
        results.append(W.grad.numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-5, atol=1e-5)


def cell_loop(cell: mg.nn.Module, batch: int, steps: int) -> mg.Tensor:
    """The loss of a float64 cell stepped in Python over ``steps`` steps (the same inputs every time)."""
    xs = mg.tensor(np.random.default_rng(3).standard_normal((steps, batch, cell.input_size)))
    state = None
    for t in range(steps):
        state = cell(xs[t], state)
    h = state[0] if isinstance(state, tuple) else state
    return (h * h).sum()


@pytest.mark.parametrize("cell_type", [mg.nn.RNNCell, mg.nn.LSTMCell, mg.nn.GRUCell])
@pytest.mark.parametrize("batch", [1, 3])
def test_a_recurrent_cell_stepped_in_python_stacks_its_weight_gradients(cell_type, batch, stacks_made) -> None:
    """A cell called once per step (the fused layer, one step a call) hands its weight gradients to the
    engine, which stacks the loop's terms: the same sums as one by one, and as the reference cell's."""
    mg.manual_seed(3)
    cell = cell_type(16, 16).double()
    cell_loop(cell, batch, 7).backward()
    assert len(stacks_made) == 2, "W_ih and W_hh: each gets its 7 steps' terms as one product"
    stacked = [p.grad.numpy().copy() for p in cell.parameters()]
    cell.zero_grad()
    without_stacking(lambda: cell_loop(cell, batch, 7).backward())
    for got, expected in zip(stacked, [p.grad.numpy() for p in cell.parameters()]):
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-13)
    reference = cell_type(16, 16, impl="reference").double()  # the same equations in Tensor ops
    reference.load_state_dict(cell.state_dict())
    cell_loop(reference, batch, 7).backward()
    for got, expected in zip(stacked, [p.grad.numpy() for p in reference.parameters()]):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("steps, batch", [(3, 1), (20, 4)])
def test_a_layer_called_on_a_sequence_multiplies_its_weight_gradients_at_once(steps, batch, monkeypatch) -> None:
    """A call over a sequence (even of rows few enough to stack) makes no deferred term; a cell's call makes two."""
    terms: list[int] = []
    init = S.TransposedProduct.__init__

    def counted(self, a, b):
        terms.append(1)
        init(self, a, b)

    monkeypatch.setattr(S.TransposedProduct, "__init__", counted)
    lstm = mg.nn.LSTM(16, 16).double()
    out, _ = lstm(mg.randn(steps, batch, 16, dtype=mg.float64))  # its steps' rows are one product already
    out.sum().backward()
    assert not terms and all(p.grad is not None for p in lstm.parameters())
    cell = mg.nn.LSTMCell(16, 16).double()
    cell(mg.randn(1, 16, dtype=mg.float64))[0].sum().backward()  # one step: W_ih's and W_hh's terms
    assert len(terms) == 2
