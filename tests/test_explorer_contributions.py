"""mg.viz.grad_contributions: a shared weight's gradient split by time step (docs/bptt.md: sum over t).

The oracle: the same loop written with one *separate copy* of each weight per step. Autograd then
gives every copy exactly its own step's term, and those terms must equal the contributions the
explorer computes for the shared weight (fused and reference layers, cells in a user loop).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell, gru_step, lstm_step, rnn_step
from minigrad.viz.explorer.contributions import num_steps
from minigrad.viz.explorer.record import trace_backward

F64 = mg.float64
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
LAYERS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}
CELLS = {"lstm": LSTMCell, "gru": GRUCell, "rnn": RNNCell}


def per_step_oracle(kind: str, weights: dict[str, np.ndarray], x: np.ndarray, head: np.ndarray,
                    reverse: bool = False) -> dict[str, list[np.ndarray]]:
    """One layer by hand with a fresh leaf copy of every weight at every step: copy t's .grad is step t's term."""
    T, B, _ = x.shape
    H = weights["weight_hh"].shape[1]
    copies = {name: [mg.tensor(w.copy(), requires_grad=True) for _ in range(T)] for name, w in weights.items()}
    h = mg.zeros(B, H, dtype=F64)
    c = mg.zeros(B, H, dtype=F64)
    outs = [None] * T
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        w = {name: copies[name][t] for name in weights}
        blocks = {name: w[name].chunk(GATES[kind], 0) if GATES[kind] > 1 else (w[name],) for name in w}
        x_t = mg.tensor(x[t])
        if kind == "lstm":
            h, c = lstm_step(x_t, h, c, blocks["weight_ih"], blocks["weight_hh"], blocks["bias_ih"], blocks["bias_hh"])
        elif kind == "gru":
            h = gru_step(x_t, h, blocks["weight_ih"], blocks["weight_hh"], blocks["bias_ih"], blocks["bias_hh"])
        else:
            h = rnn_step(x_t, h, *blocks["weight_ih"], *blocks["weight_hh"], *blocks["bias_ih"], *blocks["bias_hh"])
        outs[t] = h
    loss = (mg.stack(outs, 0) * mg.tensor(head)).tanh().sum()
    loss.backward()
    return {name: [copy.grad.numpy() for copy in copies[name]] for name in weights}


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_layer_contributions_are_the_per_step_terms(kind: str, impl: str) -> None:
    mg.manual_seed(1)
    layer = LAYERS[kind](3, 4, impl=impl, dtype=F64)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    head = np.random.default_rng(1).standard_normal((5, 2, 4))
    out, _ = layer(mg.tensor(x))
    loss = (out * mg.tensor(head)).tanh().sum()
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    got = {n: mg.viz.grad_contributions(loss, getattr(layer, n + "_l0")) for n in names}
    want = per_step_oracle(kind, {n: getattr(layer, n + "_l0").detach().numpy() for n in names}, x, head)
    for n in names:
        assert len(got[n]) == 5
        for t in range(5):
            np.testing.assert_allclose(got[n][t], want[n][t], rtol=1e-9, atol=1e-12, err_msg=f"{n} t={t + 1}")
    loss.backward()
    for n in names:
        np.testing.assert_allclose(sum(got[n]), getattr(layer, n + "_l0").grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_stacked_bidirectional_lstm_sums_to_grad_and_fused_equals_reference(impl: str) -> None:
    mg.manual_seed(2)
    ref = LSTM(3, 4, num_layers=2, bidirectional=True, impl="reference", dtype=F64)
    other = LSTM(3, 4, num_layers=2, bidirectional=True, impl=impl, dtype=F64)
    other.load_state_dict(ref.state_dict())
    x = mg.randn(6, 2, 3, dtype=F64)
    results = []
    for model in (ref, other):
        out, (h_n, c_n) = model(x)
        loss = (out * out).sum() + h_n.sum()
        parts = {n: mg.viz.grad_contributions(loss, p) for n, p in model.named_parameters()}
        loss.backward()
        for n, p in model.named_parameters():
            assert len(parts[n]) == 6
            np.testing.assert_allclose(sum(parts[n]), p.grad.numpy(), rtol=0, atol=1e-10, err_msg=n)
        results.append(parts)
    for n in results[0]:
        for t in range(6):
            np.testing.assert_allclose(results[0][n][t], results[1][n][t], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_packed_bidirectional_fused_equals_reference(kind: str) -> None:
    mg.manual_seed(3)
    ref = LAYERS[kind](2, 3, num_layers=2, bidirectional=True, impl="reference", dtype=F64)
    fused = LAYERS[kind](2, 3, num_layers=2, bidirectional=True, impl="fused", dtype=F64)
    fused.load_state_dict(ref.state_dict())
    seqs = [mg.randn(n, 2, dtype=F64) for n in (2, 5, 3)]
    parts = []
    for model in (ref, fused):
        out, state = model(mg.nn.utils.rnn.pack_sequence(seqs, enforce_sorted=False))
        h_n = state[0] if isinstance(state, tuple) else state
        loss = (out.data ** 2).sum() + h_n.sum()
        parts.append({n: mg.viz.grad_contributions(loss, p) for n, p in model.named_parameters()})
        loss.backward()
        for n, p in model.named_parameters():
            np.testing.assert_allclose(sum(parts[-1][n]), p.grad.numpy(), rtol=0, atol=1e-10, err_msg=n)
    for n in parts[0]:
        for a, b in zip(parts[0][n], parts[1][n]):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=n)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_cells_in_a_user_loop(kind: str, impl: str) -> None:
    mg.manual_seed(4)
    cell = CELLS[kind](3, 4, impl=impl, dtype=F64)
    x = np.random.default_rng(5).standard_normal((4, 2, 3))
    head = np.random.default_rng(6).standard_normal((4, 2, 4))
    state = None
    outs = []
    for t in range(4):
        with mg.scope(f"t{t + 1}"):
            state = cell(mg.tensor(x[t]), state)
            outs.append(state[0] if kind == "lstm" else state)
    loss = (mg.stack(outs, 0) * mg.tensor(head)).tanh().sum()
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    got = {n: mg.viz.grad_contributions(loss, getattr(cell, n)) for n in names}
    want = per_step_oracle(kind, {n: getattr(cell, n).detach().numpy() for n in names}, x, head)
    for n in names:
        for t in range(4):
            np.testing.assert_allclose(got[n][t], want[n][t], rtol=1e-9, atol=1e-12, err_msg=f"{n} t={t + 1}")


def test_hand_written_rnn_loop_and_nothing_is_touched() -> None:
    W = mg.tensor([[0.5, -0.3], [0.2, 0.9]], dtype=F64, requires_grad=True)
    U = mg.tensor([[1.0, 0.0], [0.5, -1.0]], dtype=F64, requires_grad=True)
    h = mg.zeros(1, 2, dtype=F64)
    loss = mg.zeros((), dtype=F64)
    xs = mg.tensor(np.linspace(-1, 1, 10).reshape(5, 1, 2))
    for t in range(5):
        with mg.scope(f"t{t + 1}"):
            h = (xs[t] @ U + h @ W).tanh()
            loss = loss + (h * h).sum()
    parts = mg.viz.grad_contributions(loss, W)
    assert W.grad is None  # capture mode: .grad untouched, graph kept
    loss.backward()
    np.testing.assert_allclose(sum(parts), W.grad.numpy(), rtol=0, atol=1e-12)
    # the first step reads h_0 = 0: h_0 @ W contributes nothing
    assert np.abs(parts[0]).max() == 0 and np.abs(parts[1]).max() > 0


def test_clear_errors() -> None:
    lin = mg.nn.Linear(2, 1, dtype=F64)
    rnn = RNN(2, 2, dtype=F64)
    out, _ = rnn(mg.randn(3, 1, 2, dtype=F64))
    loss = lin(out[-1]).sum()
    with pytest.raises(ValueError, match="outside every time-step scope"):
        mg.viz.grad_contributions(loss, lin.weight)
    with pytest.raises(ValueError, match="gets no gradient"):
        mg.viz.grad_contributions(loss, mg.ones(2, requires_grad=True))
    with pytest.raises(ValueError, match="scalar loss"):
        mg.viz.grad_contributions(out, rnn.weight_hh_l0)
    with pytest.raises(TypeError, match="param must be a Tensor"):
        mg.viz.grad_contributions(loss, "weight")
    loss.backward()
    with pytest.raises(RuntimeError, match="before loss.backward"):
        mg.viz.grad_contributions(loss, rnn.weight_hh_l0)


def test_trace_counts_steps_of_fused_and_reference() -> None:
    for impl in ("fused", "reference"):
        out, _ = GRU(2, 3, impl=impl)(mg.randn(7, 1, 2))
        assert num_steps(trace_backward(out.sum())) == 7


def _minigrad_terms(arrays: dict[str, np.ndarray], impl: str) -> dict[str, list[np.ndarray]]:
    lstm = LSTM(2, 3, impl=impl, dtype=F64)
    with mg.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(lstm, name + "_l0").copy_(mg.tensor(arrays[name]))
    out, _ = lstm(mg.tensor(arrays["x"]))
    loss = (out * mg.tensor(arrays["head"])).tanh().sum()
    return {name: mg.viz.grad_contributions(loss, getattr(lstm, name + "_l0"))
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_contributions_match_pytorch_fixture(impl: str) -> None:
    from conftest import load_fixture

    arrays = load_fixture("explorer_contributions")
    for name, terms in _minigrad_terms(arrays, impl).items():
        np.testing.assert_allclose(np.stack(terms), arrays[f"terms__{name}"], rtol=1e-9, atol=1e-12, err_msg=name)


def test_contributions_match_pytorch_live(torch) -> None:
    from fixture_makers.explorer import inputs, torch_contributions

    arrays = inputs()
    want = torch_contributions(torch, arrays)
    for name, terms in _minigrad_terms(arrays, "fused").items():
        np.testing.assert_allclose(np.stack(terms), want[name], rtol=1e-9, atol=1e-12, err_msg=name)
