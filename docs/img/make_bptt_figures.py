"""Regenerate the pictures of docs/bptt.md (docs/img/bptt-*.svg). Needs Graphviz's ``dot``.

    python docs/img/make_bptt_figures.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import minigrad as mg
from minigrad.nn.utils import detach_state

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "examples"))

import vanishing_gradients  # noqa: E402


def render(graph, name: str) -> None:
    path = graph.render(filename=name, directory=str(HERE), format="svg", cleanup=True)
    print("wrote", path)


def rnn_ops() -> None:
    """A vanilla RNN over 3 steps with a loss on every output: the graph autograd walks backwards."""
    mg.manual_seed(1)
    rnn = mg.nn.RNN(2, 3, impl="reference")
    head = mg.nn.Linear(3, 1)
    with mg.viz.record():                        # the values and gradient norms the figure shows
        out, _ = rnn(mg.randn(3, 1, 2))
        loss = (head(out) ** 2).sum()
        loss.backward()
    params = dict(rnn.named_parameters()) | {f"head.{k}": v for k, v in head.named_parameters()}
    render(mg.viz.draw_graph(loss, params=params, view="ops"), "bptt-rnn-ops")


def lstm_cells() -> None:
    """An LSTM over 10 steps, loss on the last output only: ||dL/dh_t|| fades going back in time."""
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 8)
    with mg.viz.record():
        out, _ = lstm(mg.randn(10, 1, 3))
        loss = out[-1].sum()
        loss.backward()
    render(mg.viz.draw_graph(loss, params=lstm, view="cells"), "bptt-lstm-cells")


def truncated() -> None:
    """Two windows of truncated BPTT: the previous window greyed, the cut at the detached state marked."""
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 8)
    xs = mg.randn(8, 1, 3)
    with mg.viz.record():
        out, previous = lstm(xs[:4])             # window 1: steps 1..4
        out[-1].sum().backward()
        state = detach_state(previous)           # values kept, graph dropped: the cut
        out, state = lstm(xs[4:], state)         # window 2 starts from the detached state
        loss = out[-1].sum()
        loss.backward()                          # reaches window 2 only
    render(mg.viz.draw_graph(loss, params=lstm, view="cells", previous=previous), "bptt-truncated-window")


def vanishing_chart() -> None:
    norms = {}
    for v in vanishing_gradients.VARIANTS:
        kind, bias = v.split("_")[0], (2.0 if v.endswith("_open") else 0.0)
        norms[v] = vanishing_gradients.grad_norms(kind, 100, 8, 32, 0, bias, "fused")
    label = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU", "lstm_open": "LSTM b_f=2", "gru_open": "GRU b_z=2"}
    vanishing_gradients.svg_chart(norms, HERE / "bptt-vanishing.svg", "Gradient reaching step t from a loss on h_100",
                                  label)
    print("wrote", HERE / "bptt-vanishing.svg")


if __name__ == "__main__":
    rnn_ops()
    lstm_cells()
    truncated()
    vanishing_chart()
