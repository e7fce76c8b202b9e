"""Numerical robustness: saturating functions stay finite and silent at +-1000, float32 training stays finite.

The textbook formulas overflow: ``log(sum(exp(x)))`` overflows for logits of 100 in float32,
``log(sigmoid(x))`` is ``log(0)`` for x = -1000. Every op below must give finite (and right) values
and gradients, and *no* floating-point warning — we run with warnings as errors and
``np.errstate(all='raise')`` (except underflow, which is the harmless flush of exp(-1000) to 0).
Where an overflow is harmless, the op lets it happen quietly: ``1 / (1 + exp(-x))`` computes
``exp(1000) = inf`` and then ``1 / inf = 0``, the right value (PyTorch's formula, ``ops/grad_math.py``).

Both sizes are covered: rows of up to 4096 elements go through the Numba kernels (``softmax.py``),
larger ones through NumPy's vectorised ``exp``; the fused losses and recurrent layers always use
their kernels (``loss.py``, ``rnn.py``).
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator

import numpy as np
import pytest

import minigrad as mg
from minigrad.kernels._jit import jit_disabled
from minigrad.nn.utils import clip_grad_norm_, detach_state

F = mg.nn.functional
DTYPES = [mg.float32, mg.float64]
BIG = 4096  # arrays larger than this take the NumPy path, smaller ones the Numba kernels


@contextlib.contextmanager
def strict() -> Iterator[None]:
    """Warnings are errors; NumPy overflow / invalid / divide-by-zero raise FloatingPointError."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise", under="ignore"):
            yield


def tol(dtype: np.dtype) -> dict[str, float]:
    """Tolerances for values of magnitude up to ~1000: float32 resolves 1000 only to ~6e-5.

    Gradients like ``sigmoid(30) * (1 - sigmoid(30))`` are 0 in float32 (sigmoid(30) rounds to
    1), as in PyTorch; the absolute tolerance accepts that.
    """
    return {"rtol": 2e-4, "atol": 2e-4} if dtype == np.float32 else {"rtol": 1e-7, "atol": 1e-12}


def extremes(dtype: np.dtype, n: int) -> np.ndarray:
    """n values cycling through -1000, -100, -30, -1, 0, 1, 30, 100, 1000 in ``dtype``."""
    base = np.array([-1000.0, -100.0, -30.0, -1.0, 0.0, 1.0, 30.0, 100.0, 1000.0])
    return np.resize(base, n).astype(dtype)


def run(fn: Callable[[mg.Tensor], mg.Tensor], data: np.ndarray, grad_out: np.ndarray | None = None):
    """Value and gradient of ``fn`` at ``data`` under ``strict()``; both must be finite."""
    x = mg.tensor(data, requires_grad=True)
    with strict():
        y = fn(x)
        y.backward(mg.tensor(np.ones(y.shape, y.dtype) if grad_out is None else grad_out))
    assert y.dtype == x.dtype, f"dtype changed from {x.dtype} to {y.dtype}"
    assert np.isfinite(y._array).all(), f"non-finite values: {y._array[~np.isfinite(y._array)][:5]}"
    assert np.isfinite(x.grad._array).all(), f"non-finite gradients: {x.grad._array[~np.isfinite(x.grad._array)][:5]}"
    return y._array.astype(np.float64), x.grad._array.astype(np.float64)


def _sigmoid64(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("n", [9, BIG + 3])
def test_sigmoid(dtype: np.dtype, n: int) -> None:
    x = extremes(dtype, n)
    y, g = run(mg.sigmoid, x)
    s = _sigmoid64(x)
    np.testing.assert_allclose(y, s, **tol(dtype))
    np.testing.assert_allclose(g, s * (1 - s), **tol(dtype))
    assert y[x == 1000].min() == 1.0 and y[x == -1000].max() == 0.0


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("n", [9, BIG + 3])
def test_tanh(dtype: np.dtype, n: int) -> None:
    x = extremes(dtype, n)
    y, g = run(mg.tanh, x)
    t = np.tanh(x.astype(np.float64))
    np.testing.assert_allclose(y, t, **tol(dtype))
    np.testing.assert_allclose(g, 1 - t * t, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_softplus(dtype: np.dtype, beta: float) -> None:
    x = extremes(dtype, 9)
    y, g = run(lambda t: mg.softplus(t, beta=beta), x)
    x64 = x.astype(np.float64)
    expected = np.logaddexp(0, beta * x64) / beta
    np.testing.assert_allclose(y, expected, **tol(dtype))
    np.testing.assert_allclose(g, _sigmoid64(beta * x64), **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("shape", [(3, 9), (BIG // 8, 9)])
def test_log_softmax_and_softmax(dtype: np.dtype, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = (rng.choice([-1000.0, -30.0, 0.0, 30.0, 1000.0], size=shape)).astype(dtype)
    x[0] = 1000.0  # a row of equal huge logits
    x[1] = -1000.0  # and of equal tiny ones
    w = rng.standard_normal(shape).astype(dtype)
    y, g = run(lambda t: t.log_softmax(-1), x, w)
    x64 = x.astype(np.float64)
    lse = x64.max(-1, keepdims=True) + np.log(np.exp(x64 - x64.max(-1, keepdims=True)).sum(-1, keepdims=True))
    np.testing.assert_allclose(y, x64 - lse, **tol(dtype))
    p = np.exp(x64 - lse)
    np.testing.assert_allclose(g, w - p * w.sum(-1, keepdims=True), **tol(dtype))
    y, _ = run(lambda t: t.softmax(-1), x, w)
    np.testing.assert_allclose(y, p, **tol(dtype))
    y, _ = run(lambda t: t.logsumexp(-1), x)
    np.testing.assert_allclose(y, lse[:, 0], **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("rows", [4, BIG // 4])
def test_cross_entropy(dtype: np.dtype, label_smoothing: float, rows: int) -> None:
    x = np.zeros((rows, 4), dtype)
    x[:, 0], x[:, 1], x[:, 2], x[:, 3] = 1000.0, -1000.0, 0.0, 999.0
    target = np.arange(rows) % 4
    y, g = run(lambda t: F.cross_entropy(t, mg.tensor(target), label_smoothing=label_smoothing,
                                         reduction="none"), x)
    x64 = x.astype(np.float64)
    lse = 1000.0 + np.log1p(np.exp(-1.0))  # the same for every row
    nll = lse - x64[np.arange(rows), target]
    smooth = (lse - x64).mean(-1)
    np.testing.assert_allclose(y, (1 - label_smoothing) * nll + label_smoothing * smooth, **tol(dtype))
    p = np.exp(x64 - lse)
    onehot = np.eye(4)[target]
    np.testing.assert_allclose(g, (1 - label_smoothing) * (p - onehot) + label_smoothing * (p - 0.25),
                               **tol(dtype))
    # Mean reduction too, through the module.
    x_t = mg.tensor(x, requires_grad=True)
    with strict():
        loss = mg.nn.CrossEntropyLoss()(x_t, mg.tensor(target))
        loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x_t.grad._array).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_bce_with_logits(dtype: np.dtype) -> None:
    x = extremes(dtype, 18)
    target = np.resize([0.0, 1.0], 18).astype(dtype)
    for pos_weight in (None, 3.0):
        pw = None if pos_weight is None else mg.tensor(np.array([pos_weight], dtype))
        y, g = run(lambda t, pw=pw: F.binary_cross_entropy_with_logits(t, mg.tensor(target), reduction="none",
                                                                         pos_weight=pw), x)
        x64, t64 = x.astype(np.float64), target.astype(np.float64)
        p = 1.0 if pos_weight is None else pos_weight
        # -[p y log s(x) + (1 - y) log(1 - s(x))], with log s(x) = -softplus(-x).
        expected = p * t64 * np.logaddexp(0, -x64) + (1 - t64) * np.logaddexp(0, x64)
        np.testing.assert_allclose(y, expected, **tol(dtype))
        s = _sigmoid64(x64)
        np.testing.assert_allclose(g, (1 - t64) * s - p * t64 * (1 - s), **tol(dtype))
    assert y.max() == pytest.approx(3000.0)  # x = -1000 with target 1 and pos_weight 3


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_recurrent_layers_saturate_quietly(dtype: np.dtype, impl: str, kind: str) -> None:
    """Inputs of +-1000 saturate every gate; outputs and gradients stay finite, no warnings."""
    mg.manual_seed(0)
    layer = getattr(mg.nn, kind)(4, 5, impl=impl, dtype=dtype)
    x = mg.tensor(extremes(dtype, 6 * 3 * 4).reshape(6, 3, 4), requires_grad=True)
    with strict():
        out, _ = layer(x)
        out.sum().backward()
    assert np.isfinite(out._array).all() and np.abs(out._array).max() <= 1.0
    assert np.isfinite(x.grad._array).all()
    assert all(np.isfinite(p.grad._array).all() for p in layer.parameters())


def test_float32_lstm_training_stays_finite() -> None:
    """1,000 steps of float32 LSTM training with a high learning rate, spikes in the data and clipping.

    (150 steps under NUMBA_DISABLE_JIT=1, where the fused kernels run as plain Python.)
    """
    steps = 150 if jit_disabled() else 1000
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 16, num_layers=2)
    head = mg.nn.Linear(16, 1)
    params = list(lstm.parameters()) + list(head.parameters())
    opt = mg.optim.Adam(params, lr=0.05)
    rng = np.random.default_rng(0)
    state = None
    norms = []
    with strict():
        for step in range(steps):
            x = rng.standard_normal((8, 4, 3)).astype(np.float32)
            if step % 100 == 50:
                x *= 1e4  # a burst of garbage data
            y = np.cumsum(x[..., :1], axis=0).astype(np.float32) * 0.1
            out, state = lstm(mg.tensor(x), state)
            loss = F.mse_loss(head(out), mg.tensor(y))
            opt.zero_grad()
            loss.backward()
            norms.append(float(clip_grad_norm_(params, 1.0)))
            opt.step()
            state = detach_state(state)
            assert np.isfinite(loss.item()), f"step {step}: loss is {loss.item()}"
    assert all(np.isfinite(p._array).all() for p in params)
    assert all(p.dtype == np.float32 for p in params)
    assert np.isfinite(norms).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("op", ["linear", "matmul", "outer", "batched"])
def test_products_meeting_inf_are_nan_quietly(dtype: np.dtype, op: str) -> None:
    """``inf * 0`` inside a product is nan without a warning, as in PyTorch, forward and backward.

    (NumPy's BLAS products warn "invalid value encountered in dot"; every product runs in ``quiet()``.)
    """
    x = mg.tensor(np.array([[np.inf, 1.0], [2.0, 3.0]], dtype), requires_grad=True)
    w = mg.tensor(np.array([[0.0, 1.0], [1.0, 0.0]], dtype), requires_grad=True)
    products = {
        "linear": lambda: F.linear(x, w),
        "matmul": lambda: x @ w,
        "outer": lambda: x[:, :1] @ w[:1, :],  # an inner dimension of 1: a broadcast multiply
        "batched": lambda: (x.unsqueeze(0) @ w.unsqueeze(0)).squeeze(0),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = products[op]()
        y.sum().backward()
    assert np.isnan(y._array[0]).any() and np.isfinite(y._array[1]).all()
    assert np.isnan(w.grad._array).any() or np.isinf(w.grad._array).any()


OVERFLOWING_OPS: dict[str, Callable] = {
    "sum": lambda L, x: x.sum(),
    "mean": lambda L, x: x.mean(),
    "mul": lambda L, x: x * 10,
    "add": lambda L, x: x + x,
    "square": lambda L, x: x * x,
    "exp": lambda L, x: x.exp(),
    "pow": lambda L, x: x ** 2,
    "cumsum": lambda L, x: x.cumsum(0),
    "norm": lambda L, x: x.norm(),
    "div_by_zero": lambda L, x: x / (x - x),
    "log_of_negative": lambda L, x: (-x).log(),
    "matmul": lambda L, x: x.reshape(2, 2) @ x.reshape(2, 2),
}
# inf - inf inside one dot product: nan in PyTorch's BLAS; OpenBLAS's fused multiply-add keeps the
# second product exact, so inf + (-6e76) stays inf there. Both are IEEE results; only quietness is compared.
VALUES_DIFFER_BY_BLAS = {"matmul"}


@pytest.mark.parametrize("name", list(OVERFLOWING_OPS))
def test_ops_meeting_overflow_are_quiet_like_pytorch(name: str) -> None:
    """Values past float32's range give PyTorch's inf/nan, forward and backward, and NumPy never warns.

    (Every op's forward and backward run inside ``quiet()``: ``Function.apply`` and the engine.)
    """
    data = np.array([3e38, 2e38, 1.0, -3e38], np.float32)
    op = OVERFLOWING_OPS[name]
    x = mg.tensor(data, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = op(mg, x)
        y.sum().backward()
    assert not np.isfinite(y._array).all()
    if name in VALUES_DIFFER_BY_BLAS:
        return
    try:
        import torch
    except ImportError:  # (the values themselves: live PyTorch only)
        return
    tx = torch.tensor(data, requires_grad=True)
    ty = op(torch, tx)
    ty.sum().backward()
    np.testing.assert_array_equal(np.isnan(y._array), np.isnan(ty.detach().numpy()))
    np.testing.assert_array_equal(np.isinf(y._array), np.isinf(ty.detach().numpy()))
    np.testing.assert_array_equal(np.isnan(x.grad._array), np.isnan(tx.grad.numpy()))
