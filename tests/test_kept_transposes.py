"""A weight's transpose copied once per backward pass (autograd/kept_transposes.py): same gradients, one copy."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import kept_transposes as K
from minigrad.autograd.modes import _mode


def rnn_loss(w_x: mg.Tensor, w_h: mg.Tensor, xs: list[mg.Tensor], batch: int) -> mg.Tensor:
    """d2l's RNN from scratch, stepped in Python: ``h = tanh(x_t @ W_x + h @ W_h)``."""
    h = mg.zeros(batch, w_h.shape[0], dtype=w_h.dtype)
    loss = mg.zeros((), dtype=w_h.dtype)
    for x in xs:
        h = mg.tanh(x @ w_x + h @ w_h)
        loss = loss + (h * h).sum()
    return loss


def weights_and_inputs(batch: int = 8, hidden: int = 64, steps: int = 6, dtype=np.float64):
    rng = np.random.default_rng(0)
    w_x = mg.tensor(rng.standard_normal((5, hidden)).astype(dtype) * 0.3, requires_grad=True)
    w_h = mg.tensor(rng.standard_normal((hidden, hidden)).astype(dtype) * 0.1, requires_grad=True)
    xs = [mg.tensor(rng.standard_normal((batch, 5)).astype(dtype)) for _ in range(steps)]
    return w_x, w_h, xs


@pytest.fixture(autouse=True)
def products_gather(monkeypatch) -> None:
    """Every product would gather its transposed weight (our kernels' route: ``gathers_transposed_b``,
    tested against ``matmul2d`` below, from ``products`` itself), so that the copies are taken in
    float64 and on any machine."""
    monkeypatch.setattr(K, "gathers_transposed_b", lambda rows, inner, cols, dtype: True)


def gradients(monkeypatch, copies: bool, **shape) -> tuple[np.ndarray, np.ndarray]:
    monkeypatch.setattr(K, "ROWS_MAX", K.ROWS_MAX if copies else 0)
    w_x, w_h, xs = weights_and_inputs(**shape)
    rnn_loss(w_x, w_h, xs, xs[0].shape[0]).backward()
    return w_x.grad.numpy(), w_h.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_loop_gets_the_gradients_it_gets_without_copies_and_one_copy_per_weight(monkeypatch, dtype) -> None:
    made = []
    real = K.contiguous_transpose
    monkeypatch.setattr(K, "contiguous_transpose", lambda b: made.append(b.shape) or real(b))
    with_copies = gradients(monkeypatch, True, dtype=dtype)
    assert made == [(64, 64)]  # W_h alone: W_x's transpose is needed by nobody (the inputs need no gradient)
    without = gradients(monkeypatch, False, dtype=dtype)
    assert made == [(64, 64)]
    tolerance = 1e-12 if dtype == np.float64 else 1e-5  # float32: the sums' order differs, the copy's numbers do not
    for ours, expected in zip(with_copies, without):
        np.testing.assert_allclose(ours, expected, rtol=tolerance, atol=tolerance * np.abs(expected).max())
    assert _mode.transposes is None  # the store is dropped with the walk


def test_the_gradients_pass_finite_differences() -> None:
    """float64, batch 8 (copies taken), through ``gradcheck`` (every weight perturbed, the loop run again)."""
    w_x, w_h, xs = weights_and_inputs(hidden=64, steps=4)
    assert mg.autograd.gradcheck(lambda a, b: rnn_loss(a, b, xs, 8), (w_x, w_h))


def test_copies_live_for_one_pass_only(monkeypatch) -> None:
    """Train steps change the weight in place between passes: each pass copies the weight it reads."""
    def train(copies: bool) -> np.ndarray:
        monkeypatch.setattr(K, "ROWS_MAX", K.ROWS_MAX if copies else 0)
        w_x, w_h, xs = weights_and_inputs(steps=5)
        for _ in range(3):
            rnn_loss(w_x, w_h, xs, 8).backward()
            with mg.no_grad():
                w_h -= 0.05 * w_h.grad
                w_x -= 0.05 * w_x.grad
            w_h.grad = w_x.grad = None
        return w_h.detach().numpy()

    ours, expected = train(True), train(False)
    # (a copy kept from an earlier pass would be off by a step of 0.05 times a gradient, not by rounding)
    np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12 * np.abs(expected).max())


def test_a_backward_inside_a_hook_keeps_its_own_store() -> None:
    w_x, w_h, xs = weights_and_inputs()
    stores = []

    def hook(grad: mg.Tensor) -> None:
        outer = _mode.transposes
        inner_w = mg.ones(64, 64, dtype=mg.float64, requires_grad=True)
        with mg.enable_grad():  # (a hook runs inside the walk, where grad mode is off)
            (mg.ones(8, 64, dtype=mg.float64) @ inner_w).sum().backward()
        stores.append((outer, _mode.transposes))

    h = mg.zeros(8, 64, dtype=mg.float64) + 0
    hs = []
    for x in xs:
        h = mg.tanh(x @ w_x + h @ w_h)
        hs.append(h)
    hs[2].register_hook(hook)
    sum((t * t).sum() for t in hs).backward()
    outer, after_inner = stores[0]
    assert type(outer) is dict and after_inner is outer  # the inner walk's store was its own and is gone
    assert _mode.transposes is None


def test_under_create_graph_products_read_the_view_and_differentiate_again() -> None:
    w_x, w_h, xs = weights_and_inputs(steps=3)
    (g,) = mg.autograd.grad(rnn_loss(w_x, w_h, xs, 8), w_h, create_graph=True)
    (gg,) = mg.autograd.grad(g.sum(), w_h)
    assert gg.shape == (64, 64) and np.isfinite(gg.numpy()).all()


W = np.ones((64, 64), np.float32)


# (rows of the gradient, the weight) -> does the product read a copy (after COPY_AT_USE - 1 views)?
COPY_TABLE = [
    (32, W, True),                                   # a batch of 32: d2l's step
    (K.ROWS_MAX, W, True),                           # ROWS_MAX rows
    (K.ROWS_MAX + 1, W, False),                      # more: one gathering serves them all
    (32, np.asfortranarray(W), False),               # its transpose is C-contiguous already
    (32, np.ones(4096, np.float32), False),          # not a matrix
]


@pytest.mark.parametrize(("rows", "weight", "copied"), COPY_TABLE)
def test_which_products_read_a_copy(rows: int, weight: np.ndarray, copied: bool) -> None:
    with K.kept_transposes():
        views = [K.transposed(weight, rows) for _ in range(K.COPY_AT_USE - 1)]
        last = K.transposed(weight, rows)
        assert (K.transposed(weight, K.ROWS_MAX + 1) is last) is copied  # once made, every product reads the copy
    assert all(v.base is weight for v in views)
    assert (last.base is None and last.flags.c_contiguous) is copied
    np.testing.assert_array_equal(last, weight.T)


def test_no_copy_where_the_product_reads_the_view_as_it_is(monkeypatch) -> None:
    monkeypatch.setattr(K, "gathers_transposed_b", lambda rows, inner, cols, dtype: False)
    with K.kept_transposes():
        assert all(K.transposed(W, 32).base is W for _ in range(K.COPY_AT_USE + 1))


def test_the_store_keeps_no_array_alive_and_knows_a_new_array_under_an_old_id() -> None:
    import weakref

    with K.kept_transposes():
        activation = np.ones((64, 64), np.float32)
        K.transposed(activation, 32)
        gone = weakref.ref(activation)
        del activation
        assert gone() is None  # an activation read once is freed with its node, as without the store
        w = np.ones((64, 64), np.float32)
        _mode.transposes[id(w)] = [gone, 0, np.zeros((64, 64), np.float32), 32, True]  # a freed array's entry
        assert K.transposed(w, 32).base is w  # w is judged afresh: the freed array's copy is not w's


def test_outside_a_walk_the_view() -> None:
    for _ in range(K.COPY_AT_USE + 1):
        assert K.transposed(W, 32).base is W


class GatherSpy:
    """Stands in for ``products.matmul_blocks`` (and its ``.serial``): notes whether it was handed a transposed b."""

    def __init__(self, real) -> None:
        self.real, self.gathered = real, []
        self.serial = self._recording(real.serial)

    def _recording(self, kernel):
        def run(a, a_transposed, b, b_transposed, *rest):
            self.gathered.append(bool(b_transposed))
            return kernel(a, a_transposed, b, b_transposed, *rest)
        return run

    def __call__(self, *args):
        return self._recording(self.real)(*args)


# (rows, inner, cols) of x @ W.T with W (cols x inner): d2l's per-step g @ W_hh^T and its neighbours
ROUTE_SHAPES = [(32, 512, 512), (32, 256, 256), (32, 28, 512), (32, 512, 28), (4, 512, 512), (5, 512, 512),
                (20, 200, 200), (64, 256, 256), (8, 64, 64), (48, 300, 300), (16, 1024, 256)]


@pytest.mark.parametrize("awake", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gathers_transposed_b_says_what_matmul2d_routes_do(monkeypatch, awake: bool, dtype) -> None:
    from minigrad.kernels import _jit
    from minigrad.kernels import products as P

    monkeypatch.setattr(_jit, "_pool_awake", awake)
    rng = np.random.default_rng(0)
    for rows, inner, cols in ROUTE_SHAPES:
        spy = GatherSpy(P.matmul_blocks)
        monkeypatch.setattr(P, "matmul_blocks", spy)
        x, w = rng.standard_normal((rows, inner)).astype(dtype), rng.standard_normal((cols, inner)).astype(dtype)
        np.testing.assert_allclose(P.matmul2d(x, w.T), x @ w.T, rtol=1e-4, atol=1e-3)
        assert any(spy.gathered) is P.gathers_transposed_b(rows, inner, cols, dtype), (rows, inner, cols)
