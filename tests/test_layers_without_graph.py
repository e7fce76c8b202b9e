"""Under ``no_grad`` a recurrent module's fused layers run on arrays, with no graph nodes at all.

A call that records nothing (``no_grad``, no anomaly mode, no dropout between layers while
training) whose input rows lie in time-major order runs each layer's forward directly on arrays, in
one direction or both (``RNNBase._forward_without_graph``, ``fused_layers_without_graph``): what a
sampling loop does on every character, and an evaluation pass on every batch. Its values must be
the textbook path's (``impl='reference'``, float64), the graph-recording path's bit for bit
(float32) and PyTorch's (live when torch is installed), with the same errors for bad arguments.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ShapeError
from minigrad.nn.fused_rnn import FusedRNNLayer

MODES = {"rnn_tanh": dict(cls="RNN"), "rnn_relu": dict(cls="RNN", nonlinearity="relu"),
         "lstm": dict(cls="LSTM"), "gru": dict(cls="GRU")}
# (batch_first, B, T): the layouts whose rows are time-major already.
LAYOUTS = [(False, 3, 4), (True, 1, 5), (True, 3, 1), (False, 1, 1)]


def make(mode: str, impl: str = "fused", *, batch_first: bool = False, layers: int = 2, bias: bool = True,
         dropout: float = 0.0, dtype: mg.dtype = mg.float64, bidirectional: bool = False) -> mg.nn.Module:
    opts = dict(MODES[mode])
    cls = getattr(mg.nn, opts.pop("cls"))
    mg.manual_seed(3)
    return cls(3, 4, num_layers=layers, batch_first=batch_first, bias=bias, dropout=dropout, dtype=dtype,
               impl=impl, bidirectional=bidirectional, **opts)


def call(module: mg.nn.Module, x: np.ndarray, states: list[np.ndarray] | None) -> list[np.ndarray]:
    """output, h_n (and c_n) of one call, as arrays."""
    hx = None if states is None else tuple(mg.tensor(s) for s in states)
    out, hidden = module(mg.tensor(x), hx if hx is None or len(hx) == 2 else hx[0])
    finals = list(hidden) if isinstance(hidden, tuple) else [hidden]
    return [t.detach().numpy() for t in (out, *finals)]


def inputs(mode: str, layout: tuple, layers: int, with_hx: bool, dtype: type = np.float64,
           directions: int = 1) -> tuple:
    batch_first, B, T = layout
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3)).astype(dtype)
    count = 2 if mode == "lstm" else 1
    states = [rng.standard_normal((layers * directions, B, 4)).astype(dtype) for _ in range(count)] if with_hx else None
    return x, states


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
def test_without_graph_equals_the_textbook_path(mode: str, layout: tuple, layers: int, with_hx: bool,
                                                bias: bool, bidirectional: bool) -> None:
    x, states = inputs(mode, layout, layers, with_hx, directions=2 if bidirectional else 1)
    fused = make(mode, batch_first=layout[0], layers=layers, bias=bias, bidirectional=bidirectional)
    reference = make(mode, "reference", batch_first=layout[0], layers=layers, bias=bias,
                     bidirectional=bidirectional)
    with mg.no_grad():
        got, expected = call(fused, x, states), call(reference, x, states)
    assert [a.shape for a in got] == [a.shape for a in expected]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
def test_without_graph_equals_the_recording_path_bit_for_bit(mode: str, layout: tuple, bidirectional: bool) -> None:
    x, states = inputs(mode, layout, 2, True, np.float32, directions=2 if bidirectional else 1)
    module = make(mode, batch_first=layout[0], dtype=mg.float32, bidirectional=bidirectional)
    module.eval()
    recorded = call(module, x, states)
    with mg.no_grad():
        unrecorded = call(module, x, states)
    for a, b in zip(unrecorded, recorded):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_the_call_makes_no_node(monkeypatch: pytest.MonkeyPatch, bidirectional: bool) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a node was made")

    lstm = make("lstm", dropout=0.5, bidirectional=bidirectional)
    lstm.eval()  # (dropout acts only while training)
    x = mg.randn(6, 2, 3, dtype=mg.float64, requires_grad=True)
    monkeypatch.setattr(FusedRNNLayer, "apply", refuse)
    with mg.no_grad():
        out, (h_n, c_n) = lstm(x)
    D = 2 if bidirectional else 1
    assert out.shape == (6, 2, 4 * D) and h_n.shape == c_n.shape == (2 * D, 2, 4)
    assert not out.requires_grad and out.grad_fn is None and h_n.grad_fn is None
    with pytest.raises(AssertionError, match="a node was made"):
        lstm(x)  # (grad on: the recording path)


def test_dropout_while_training_keeps_the_recording_path() -> None:
    gru = make("gru", dropout=0.9, layers=3)
    x = mg.randn(5, 4, 3, dtype=mg.float64)
    with mg.no_grad():
        gru.eval()
        plain = gru(x)[0].numpy()
        gru.train()
        dropped = [gru(x)[0].numpy() for _ in range(2)]
    assert not np.allclose(dropped[0], plain) and not np.allclose(dropped[0], dropped[1])


def test_anomaly_mode_keeps_its_check() -> None:
    rnn = make("rnn_tanh")
    x = mg.full((2, 1, 3), float("nan"), dtype=mg.float64)
    with mg.no_grad(), mg.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="produced nan"):
        rnn(x)


def test_bad_states_and_weights_give_the_same_errors() -> None:
    gru = make("gru")
    x = mg.randn(5, 2, 3, dtype=mg.float64)
    with mg.no_grad():
        with pytest.raises(ShapeError, match=r"expected hx of shape \(2, 2, 4\), got \(1, 2, 4\)"):
            gru(x, mg.zeros(1, 2, 4, dtype=mg.float64))
        with pytest.raises(ValueError, match="dtype"):
            gru(x, mg.zeros(2, 2, 4, dtype=mg.float32))
        gru.weight_hh_l1 = mg.nn.Parameter(mg.zeros(12, 5, dtype=mg.float64))
        with pytest.raises(ShapeError, match=r"weight_hh must be \(3\*H, H\), got shape \(12, 5\)"):
            gru(x)


CELLS = {"rnn_tanh": dict(cls="RNNCell"), "rnn_relu": dict(cls="RNNCell", nonlinearity="relu"),
         "lstm": dict(cls="LSTMCell"), "gru": dict(cls="GRUCell")}


def make_cell(mode: str, impl: str, bias: bool) -> mg.nn.Module:
    opts = dict(CELLS[mode])
    cls = getattr(mg.nn, opts.pop("cls"))
    mg.manual_seed(5)
    return cls(3, 4, bias=bias, dtype=mg.float64, impl=impl, **opts)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("batch", [None, 1, 3])  # None: an unbatched (I,) input
@pytest.mark.parametrize("mode", CELLS)
def test_a_cell_without_graph_equals_the_textbook_step(mode: str, batch: int | None, with_hx: bool,
                                                        bias: bool) -> None:
    rng = np.random.default_rng(2)
    lead = () if batch is None else (batch,)
    x = mg.tensor(rng.standard_normal(lead + (3,)))
    hx = None
    if with_hx:
        states = [mg.tensor(rng.standard_normal(lead + (4,))) for _ in range(2 if mode == "lstm" else 1)]
        hx = tuple(states) if mode == "lstm" else states[0]
    with mg.no_grad():
        got, expected = (make_cell(mode, impl, bias)(x, hx) for impl in ("fused", "reference"))
    got, expected = (list(r) if isinstance(r, tuple) else [r] for r in (got, expected))
    for a, b in zip(got, expected):
        assert a.shape == b.shape == lead + (4,) and a.grad_fn is None
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)


def test_a_cell_without_graph_makes_no_node(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a node was made")

    cell = make_cell("gru", "fused", True)
    x = mg.randn(2, 3, dtype=mg.float64, requires_grad=True)
    monkeypatch.setattr(FusedRNNLayer, "apply", refuse)
    with mg.no_grad():
        assert cell(x).shape == (2, 4)
        with pytest.raises(ShapeError, match=r"expected hx of shape \(2, 4\)"):
            cell(x, mg.zeros(3, 4, dtype=mg.float64))
    with pytest.raises(AssertionError, match="a node was made"):
        cell(x)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
def test_without_graph_matches_torch_live(mode: str, layout: tuple, bidirectional: bool, torch: Any) -> None:
    x, states = inputs(mode, layout, 2, True, directions=2 if bidirectional else 1)
    ours = make(mode, batch_first=layout[0], bidirectional=bidirectional)
    opts = dict(MODES[mode])
    theirs = getattr(torch.nn, opts.pop("cls"))(3, 4, num_layers=2, batch_first=layout[0], bidirectional=bidirectional,
                                                **opts).double()
    theirs.load_state_dict({name: torch.from_numpy(p.detach().numpy().copy()) for name, p in ours.named_parameters()})
    with mg.no_grad():
        got = call(ours, x, states)
    with torch.no_grad():
        hx = tuple(torch.from_numpy(s) for s in states)
        out, hidden = theirs(torch.from_numpy(x), hx if len(hx) == 2 else hx[0])
    expected = [t.numpy() for t in (out, *(hidden if isinstance(hidden, tuple) else (hidden,)))]
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("mode", CELLS)
def test_a_cell_without_graph_matches_torch_live(mode: str, torch: Any) -> None:
    ours = make_cell(mode, "fused", True)
    opts = dict(CELLS[mode])
    theirs = getattr(torch.nn, opts.pop("cls"))(3, 4, **opts).double()
    theirs.load_state_dict({name: torch.from_numpy(p.detach().numpy().copy()) for name, p in ours.named_parameters()})
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 3))
    states = [rng.standard_normal((2, 4)) for _ in range(2 if mode == "lstm" else 1)]
    with mg.no_grad():
        got = ours(mg.tensor(x), tuple(mg.tensor(s) for s in states) if mode == "lstm" else mg.tensor(states[0]))
    with torch.no_grad():
        hx = tuple(torch.from_numpy(s) for s in states)
        expected = theirs(torch.from_numpy(x), hx if mode == "lstm" else hx[0])
    got, expected = (list(r) if isinstance(r, tuple) else [r] for r in (got, expected))
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
