"""A one-layer, one-direction recurrent module call is ONE graph node on the user's own tensors.

When the input's rows lie in time-major order (time-major, or batch-first with one sequence or
one step, as a seq2seq decoder passes a token at a time), ``nn.RNN/LSTM/GRU`` hand the input and
the stacked ``(1, B, H)`` states to the fused layer as they are (``RNNBase._fused_in_time_order``):
no transpose, index or stack nodes around it. Values and every gradient must be those of the
textbook path (``impl='reference'``, float64); PyTorch parity of these layouts is in
``test_recurrent_parity.py`` (cases ``bf_b1_hx``, ``bf_t1_hx``, ``bf_b1_nobias``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import minigrad as mg
from minigrad.errors import ShapeError
from minigrad.nn.fused_rnn import FusedRNNLayer, fused_rnn_layer

MODES = {"rnn_tanh": dict(cls="RNN"), "rnn_relu": dict(cls="RNN", nonlinearity="relu"),
         "lstm": dict(cls="LSTM"), "gru": dict(cls="GRU")}
# (batch_first, B, T): the layouts whose rows are time-major already.
LAYOUTS = [(False, 3, 4), (True, 1, 5), (True, 3, 1), (False, 1, 1)]


def make(mode: str, impl: str, batch_first: bool, bias: bool = True) -> mg.nn.Module:
    opts = dict(MODES[mode])
    cls = getattr(mg.nn, opts.pop("cls"))
    mg.manual_seed(3)
    return cls(3, 4, batch_first=batch_first, bias=bias, dtype=mg.float64, impl=impl, **opts)


def run(module: mg.nn.Module, x: np.ndarray, states: list[np.ndarray] | None) -> dict[str, np.ndarray]:
    """Outputs and the gradients of a loss reading output, h_n (and c_n) against fixed weights."""
    xt = mg.tensor(x, requires_grad=True)
    st = None if states is None else [mg.tensor(s, requires_grad=True) for s in states]
    hx = None if st is None else (tuple(st) if len(st) == 2 else st[0])
    out, hidden = module(xt, hx)
    finals = list(hidden) if isinstance(hidden, tuple) else [hidden]
    rng = np.random.default_rng(0)
    loss = (out * mg.tensor(rng.standard_normal(out.shape))).sum()
    for f in finals:
        loss = loss + (f * mg.tensor(rng.standard_normal(f.shape))).sum()
    loss.backward()
    result = {"out": out.detach().numpy(), "dx": xt.grad.numpy()}
    result.update({f"final{k}": f.detach().numpy() for k, f in enumerate(finals)})
    if st is not None:
        result.update({f"dstate{k}": s.grad.numpy() for k, s in enumerate(st)})
    result.update({f"d{n}": p.grad.numpy() for n, p in module.named_parameters()})
    return result


@pytest.mark.parametrize("with_hx", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("mode", MODES)
def test_one_node_equals_the_textbook_path(mode: str, layout: tuple, with_hx: bool) -> None:
    batch_first, B, T = layout
    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, 3) if batch_first else (T, B, 3))
    states = [rng.standard_normal((1, B, 4)) for _ in range(2 if mode == "lstm" else 1)] if with_hx else None
    fused, reference = (run(make(mode, impl, batch_first), x, states) for impl in ("fused", "reference"))
    assert fused.keys() == reference.keys()
    for key in fused:
        assert fused[key].shape == reference[key].shape, key
        np.testing.assert_allclose(fused[key], reference[key], rtol=1e-10, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_the_call_is_one_node_in_its_scope(layout: tuple) -> None:
    batch_first, B, T = layout
    lstm = make("lstm", "fused", batch_first)
    x = mg.randn(*((B, T, 3) if batch_first else (T, B, 3)), dtype=mg.float64)
    out, (h_n, c_n) = lstm(x)
    node = out.grad_fn
    assert isinstance(node, FusedRNNLayer) and h_n.grad_fn is node and c_n.grad_fn is node
    assert node.scope == "lstm/l0" and node.param_names["weight_hh"] == "weight_hh_l0"
    assert out.shape == x.shape[:2] + (4,) and h_n.shape == c_n.shape == (1, B, 4)


def test_a_batch_first_batch_of_sequences_keeps_the_general_path() -> None:
    gru = make("gru", "fused", True)
    out, h_n = gru(mg.randn(2, 5, 3, dtype=mg.float64))  # (B, T) = (2, 5): a real transpose is needed
    assert not isinstance(out.grad_fn, FusedRNNLayer)
    assert h_n.shape == (1, 2, 4)


def test_second_derivatives_through_one_node() -> None:
    gru = make("gru", "fused", True)
    x = mg.randn(1, 3, 3, dtype=mg.float64, requires_grad=True)
    h0 = mg.randn(1, 1, 4, dtype=mg.float64, requires_grad=True)

    def f(x: mg.Tensor, h0: mg.Tensor) -> mg.Tensor:
        out, h_n = gru(x, h0)
        return (out * out).sum() + (h_n * h_n).sum()

    assert mg.autograd.gradcheck(f, (x, h0))
    assert mg.autograd.gradgradcheck(f, (x, h0))


def test_an_in_place_change_of_h_n_is_caught() -> None:
    gru = make("gru", "fused", True)
    out, h_n = gru(mg.randn(1, 4, 3, dtype=mg.float64))
    h_n.mul_(2)  # h_n shows the layer's saved state: backward would read the changed numbers
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_fused_rnn_layer_refuses_a_batch_first_x_that_needs_a_transpose() -> None:
    w_ih, w_hh = mg.randn(12, 3), mg.randn(12, 4)
    with pytest.raises(ShapeError, match=r"batch-first x runs here only when B or T is 1.*\(2, 5, 3\)"):
        fused_rnn_layer("gru", mg.randn(2, 5, 3), mg.zeros(1, 2, 4), None, w_ih, w_hh, None, None, batch_first=True)


def test_explorer_splits_a_batch_first_layer_by_step() -> None:
    lstm = make("lstm", "fused", True)
    x = mg.randn(1, 4, 3, dtype=mg.float64, requires_grad=True)
    out, _ = lstm(x)
    loss = out[:, -1].sum()
    parts = mg.viz.grad_contributions(loss, lstm.weight_ih_l0)
    x_parts = mg.viz.grad_contributions(loss, x)
    explorer: Any = mg.viz.explore(loss, None, params=lstm, view="cells")
    assert "t4" in explorer.html
    loss.backward()
    assert len(parts) == 4
    np.testing.assert_allclose(sum(parts), lstm.weight_ih_l0.grad.numpy(), atol=1e-12)
    for t, part in enumerate(x_parts):  # step t's share of dL/dx is x's step t alone, in x's (B, T, I) layout
        others = np.delete(part, t, axis=1)
        assert not others.any() and np.allclose(part[:, t], x.grad.numpy()[:, t])
