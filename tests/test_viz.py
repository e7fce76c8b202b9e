"""mg.viz: drawings of the unrolled graph (DOT text always; SVG where Graphviz's dot exists)."""

from __future__ import annotations

import gc
import re
import shutil
import time
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import Function
from minigrad.nn.recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from minigrad.viz import __main__ as cli
from minigrad.viz.graph import GraphTooLargeError, build_model, split_scope, walk

LAYERS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
CELLS = {"rnn": RNNCell, "lstm": LSTMCell, "gru": GRUCell}
HAVE_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed (CI installs it)")

_NODE = re.compile(r"^\t+(\w+) \[", re.M)
_EDGE = re.compile(r"^\t+\w+ -> \w+", re.M)


def counts(dot: str) -> tuple[int, int]:
    """(nodes, edges) of DOT text written by mg.viz (cluster 'graph [...]' lines are not nodes)."""
    nodes = [n for n in _NODE.findall(dot) if n not in ("graph", "node", "edge")]
    return len(nodes), len(_EDGE.findall(dot))


CELL = r'<B>h_\d+(?:, c_\d+)?</B>[^\n]*shape="box"'  # a cell of the cells view (inputs are ellipses)


def step_clusters(dot: str) -> int:
    return len(re.findall(r'subgraph cluster_\w+ \{\n\t+graph \[[^\]]*label="t = \d+"', dot))


def run_layer(kind: str, impl: str, T: int, layers: int = 1, bidirectional: bool = False, grads: bool = True,
              hidden: int = 4, batch: int = 2, seed: int = 0):
    mg.manual_seed(seed)
    layer = LAYERS[kind](3, hidden, num_layers=layers, bidirectional=bidirectional, impl=impl)
    with mg.viz.record():  # what the drawings show: values and gradient norms
        out, _ = layer(mg.randn(T, batch, 3))
        if grads:
            out[-1].sum().backward(retain_graph=True)
    return layer, out


# ------------------------------------------------------------------------------------------------
# Structure: exact linear growth, one cluster per step, names
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_drawings_grow_exactly_linearly_with_T(kind, impl):
    for view in ("ops", "cells"):
        sizes = []
        for T in (2, 3, 4):
            layer, out = run_layer(kind, impl, T)
            sizes.append(counts(mg.viz.to_dot(out, params=layer, view=view)))
        (n2, e2), (n3, e3), (n4, e4) = sizes
        assert n3 - n2 == n4 - n3 > 0, (view, sizes)
        assert e3 - e2 == e4 - e3 > 0, (view, sizes)


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers,bidirectional", [(1, False), (2, False), (2, True)])
def test_one_cluster_per_layer_direction_and_step(kind, impl, layers, bidirectional):
    T = 3
    layer, out = run_layer(kind, impl, T, layers, bidirectional)
    dot = mg.viz.to_dot(out, params=layer, view="ops")
    directions = 2 if bidirectional else 1
    assert step_clusters(dot) == T * layers * directions
    for k in range(layers):
        assert f'label="{kind}/l{k}' in dot
        if bidirectional:
            assert f'label="{kind}/l{k}_reverse' in dot
    for name, _ in layer.named_parameters():
        assert name in dot
    # the cells view is the small picture
    cells = mg.viz.to_dot(out, params=layer, view="cells")
    assert counts(cells)[0] < counts(dot)[0]
    assert len(re.findall(CELL, cells)) == T * layers * directions


def test_reverse_direction_is_mirrored_and_steps_are_ordered():
    layer, out = run_layer("lstm", "fused", 3, 1, True)
    dot = mg.viz.to_dot(out, params=layer, view="ops")
    assert 'dir="back"' in dot  # the reverse direction's arrows point right to left
    assert "style=invis" in dot or 'style="invis"' in dot  # step t is kept left of step t+1
    assert "{rank=same;" in dot  # step t of both directions starts in the same column


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_fused_and_reference_show_the_same_steps(impl):
    layer, out = run_layer("lstm", impl, 3)
    dot = mg.viz.to_dot(out, params=layer, view="ops")
    for t in (1, 2, 3):  # time counts t = 1..T; both name the gates alike in every step
        for text in (f"i_{t}  input gate", f"f_{t}  forget gate", f"g_{t}  candidate", f"o_{t}  output gate"):
            assert dot.count(text) == 1, text
    if impl == "fused":  # the fused layer is expanded into its equations
        for text in ("f_2 * c_1 + i_2 * g_2", "o_3 * tanh(c_3)", "x_1", "<B>h_0</B>", "<B>c_0</B>"):
            assert text in dot
    else:  # every primitive op, and h_t / c_t found in each step
        assert "matmul" in dot and "= h_3" in dot and "= c_1" in dot
        assert dot.count("= h_") == 3 and dot.count("= c_") == 3


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_hand_written_cell_loop_gets_one_cluster_per_step(kind, impl):
    mg.manual_seed(0)
    cell = CELLS[kind](3, 4, impl=impl)
    x = mg.randn(5, 2, 3)
    h = mg.zeros(2, 4)
    c = mg.zeros(2, 4)
    outs = []
    with mg.viz.record():
        for t in range(5):
            with mg.scope(f"t{t + 1}"):
                if kind == "lstm":
                    h, c = cell(x[t], (h, c))
                else:
                    h = cell(x[t], h)
                outs.append(h)
        loss = mg.stack(outs).sum()
        loss.backward(retain_graph=True)
    dot = mg.viz.to_dot(loss, params=cell, view="ops")
    assert step_clusters(dot) == 5
    assert "weight_hh" in dot
    cells = mg.viz.to_dot(loss, params=cell, view="cells")
    assert len(re.findall(CELL, cells)) == 5
    assert cells.count('color="#1f4e9c"') >= 4  # h flows from each step to the next


def test_scopes_become_nested_clusters():
    assert split_scope("lstm/l0/t3") == (("lstm", "l0", "t3"), 3)
    assert split_scope("t7/lstm_cell") == (("t7",), 7)
    assert split_scope("encoder/block") == (("encoder", "block"), None)
    assert split_scope("") == ((), None)
    W = mg.tensor([[0.5]], requires_grad=True)
    h = mg.ones(1, 1)
    with mg.scope("encoder"):
        for t in range(3):
            with mg.scope(f"t{t + 1}"):
                h = (h @ W).tanh()
    dot = mg.viz.to_dot(h, params={"W": W})
    assert 'label="encoder"' in dot and step_clusters(dot) == 3 and "<B>W</B>" in dot


def test_parameter_names_from_the_modules_in_the_graph_never_the_callers_variables():
    """Issue 18: names come from params= or from the modules holding the graph's parameters."""
    mg.manual_seed(0)
    lstm = LSTM(3, 4)
    out, _ = lstm(mg.randn(3, 1, 3))
    dot = mg.viz.to_dot(out)  # no params=: the LSTM holding the parameters names them
    assert "<B>weight_ih_l0</B>" in dot and "<B>bias_hh_l0</B>" in dot and "lstm.weight" not in dot

    class Model(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm, self.head = LSTM(3, 4), mg.nn.Linear(4, 1)

        def forward(self, x):
            return self.head(self.lstm(x)[0][-1])

    model = Model()
    dot = mg.viz.to_dot(model(mg.randn(3, 1, 3)).sum())  # the outermost module gives the name
    assert "<B>lstm.weight_ih_l0</B>" in dot and "<B>head.weight</B>" in dot
    W = mg.randn(2, 2, requires_grad=True)
    x = mg.randn(1, 2, requires_grad=True)
    dot = mg.viz.to_dot((x @ W).sum())  # plain tensors: no name unless given one
    assert "<B>W</B>" not in dot and "<B>x</B>" not in dot
    W.name = "W"
    assert "<B>W</B>" in mg.viz.to_dot((x @ W).sum())
    encoder, decoder = mg.nn.Linear(2, 2), mg.nn.Linear(2, 2)  # two unrelated modules: prefixed by class
    dot = mg.viz.to_dot(decoder(encoder(x)).sum())
    assert "<B>linear.weight</B>" in dot and "<B>linear_2.weight</B>" in dot


def test_one_layer_called_twice_gets_two_sets_of_clusters():
    mg.manual_seed(0)
    lstm = LSTM(3, 4)
    x = mg.randn(3, 1, 3)
    with mg.viz.record():
        out1, state = lstm(x)
        out2, _ = lstm(x, state)  # the second window continues from the first: one graph, same scopes
        loss = out2.sum()
        loss.backward(retain_graph=True)
    dot = mg.viz.to_dot(loss, params=lstm)
    assert 'label="lstm/l0"' in dot and 'label="lstm/l0 (2)"' in dot and step_clusters(dot) == 6
    assert "parameters: a dashed copy" in dot


def test_params_argument_forms():
    W = mg.randn(2, 2, requires_grad=True)
    y = (W * 2).sum()
    assert "<B>weight</B>" in mg.viz.to_dot(y, params={"weight": W})
    assert "<B>weight</B>" in mg.viz.to_dot(y, params=[("weight", W)])
    with pytest.raises(TypeError, match="params"):
        mg.viz.to_dot(y, params=42)


# ------------------------------------------------------------------------------------------------
# Values and gradients
# ------------------------------------------------------------------------------------------------


def test_gradient_colouring_shows_vanishing_gradients():
    layer, out = run_layer("rnn", "fused", 30, hidden=8, batch=1)
    dot = mg.viz.to_dot(out, params=layer, view="cells")
    assert "gradient colouring" in dot and "colour = log10" in dot
    fills = re.findall(r'<B>h_\d+(?:, c_\d+)?</B>[^\n]*shape="box"[^\n]*?fillcolor="(#[0-9a-f]{6})"', dot)
    assert len(fills) == 30 and len(set(fills)) > 5  # a real range of colours, not one
    norms = [np.linalg.norm(out.grad_fn.step_grad_h(t)) for t in range(30)]
    assert norms[0] < 1e-3 * norms[-1]  # it does vanish: the picture is telling the truth
    lo, hi = (int(e) for e in re.search(r"from min 1e(-?\d+) to max 1e(-?\d+)", dot).groups())
    assert lo <= np.log10(min(norms)) and hi >= np.log10(max(norms))


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_grad_norms_in_ops_view_and_none_without_backward(impl):
    layer, out = run_layer("gru", impl, 3)
    dot = mg.viz.to_dot(out, params=layer, view="ops")
    assert "||grad||" in dot and "gradient colouring" in dot
    layer, out = run_layer("gru", impl, 3, grads=False)
    dot = mg.viz.to_dot(out, params=layer, view="ops")
    assert "||grad||" not in dot and "gradient colouring" not in dot
    dot = mg.viz.to_dot(out, params=layer, view="ops", show_grads=False)
    assert "gradient colouring" not in dot


def test_reference_step_gradient_is_the_grad_of_h_t():
    """The rule for the reference path: ||dL/dh_t|| is the grad norm of the op that makes h_t."""
    mg.manual_seed(0)
    rnn = RNN(2, 3, impl="reference")
    with mg.viz.record() as rec:
        out, _ = rnn(mg.randn(4, 1, 2))
        hs = []  # h_t of each step, retained by hand
        fn = out.grad_fn  # stack of the h_t
        for e in fn.next_functions:
            hs.append(e[0])
        out[-1].sum().backward(retain_graph=True)
    model, _ = build_model(out, params=rnn, view="cells")
    got = sorted(model.step_grads.items(), key=lambda kv: kv[0][1])
    want = [rec.grad_norms(f)[0] for f in hs]
    np.testing.assert_allclose([g for _, g in got], want, rtol=1e-6)


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_show_values(impl):
    mg.manual_seed(0)
    layer = LSTM(2, 2, impl=impl)
    with mg.viz.record():
        out, _ = layer(mg.randn(3, 1, 2))
    dot = mg.viz.to_dot(out, params=layer, view="ops", show_values=True)
    h = out._array[1, 0]
    assert f"[{mg.viz.colors.fmt(h[0])}, {mg.viz.colors.fmt(h[1])}]" in dot  # 2 numbers: shown as numbers
    assert "min " in dot and "mean " in dot  # the weights (8 x 2): shown as min / mean / max
    cells = mg.viz.to_dot(out, params=layer, view="cells", show_values=True)
    assert f"[{mg.viz.colors.fmt(h[0])}, {mg.viz.colors.fmt(h[1])}]" in cells


def test_values_after_the_graph_was_released():
    mg.manual_seed(0)
    layer = LSTM(2, 2)
    out, _ = layer(mg.randn(3, 1, 2))
    out.sum().backward()  # no retain_graph: saved values are gone
    dot = mg.viz.to_dot(out, params=layer, view="ops", show_values=True)
    assert step_clusters(dot) == 3 and "gradient colouring" not in dot


# ------------------------------------------------------------------------------------------------
# A fused layer is recognised by its declared step interface (declares_steps), not by its class
# ------------------------------------------------------------------------------------------------


class FakeFusedRNN(Function):
    """The smallest Function declaring the fused step interface: an Elman RNN over all steps."""

    name = "fake_rnn_layer"
    declares_steps = True
    input_roles = ("x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
    output_roles = ("output", "h_n")

    def forward(self, x, h0, c0, w_ih, w_hh, b_ih, b_hh):
        self.mode, self.reverse, self.num_steps, self.hidden_size = "rnn_tanh", False, x.shape[0], w_hh.shape[1]
        hs = [h0]
        for t in range(x.shape[0]):
            hs.append(np.tanh(x[t] @ w_ih.T + b_ih + hs[-1] @ w_hh.T + b_hh))
        self.hs, self.x, self.dh = hs, x, None
        out = np.stack(hs[1:])
        return out, hs[-1]

    def backward(self, g_out, g_h):  # enough for drawing: record dL/dh_t, pass nothing on
        self.dh = g_out
        return None, None, None, None, None, None, None

    @property
    def layer_scope(self):
        return self.scope

    def step_scope(self, t):
        return f"{self.scope}/t{t}"

    def step_values(self, t):
        return {"x_t": self.x[t], "h_prev": self.hs[t], "h": self.hs[t + 1]}

    def step_grad_h(self, t):
        return None if self.dh is None else self.dh[t]


def test_duck_typed_fused_function_is_expanded():
    mg.manual_seed(0)
    w_ih, w_hh = mg.randn(3, 2, requires_grad=True), mg.randn(3, 3, requires_grad=True)
    b_ih, b_hh = mg.zeros(3, requires_grad=True), mg.zeros(3, requires_grad=True)
    with mg.viz.record(), mg.scope("fake"), mg.scope("l0"):
        out, h = FakeFusedRNN.apply(mg.randn(4, 1, 2), mg.zeros(1, 3), None, w_ih, w_hh, b_ih, b_hh)
        out.sum().backward(retain_graph=True)
    names = {"W_ih": w_ih, "W_hh": w_hh, "b_ih": b_ih, "b_hh": b_hh}
    dot = mg.viz.to_dot(out, params=names, view="ops", show_values=True)
    assert step_clusters(dot) == 4 and dot.count("tanh(W_ih x_") == 4 and "W_hh" in dot
    assert "gradient colouring" in dot
    cells = mg.viz.to_dot([out, h], params=names, view="cells")
    assert len(re.findall(CELL, cells)) == 4 and cells.count("doubleoctagon") == 2


# ------------------------------------------------------------------------------------------------
# Large graphs, no Graphviz, rendering, Jupyter
# ------------------------------------------------------------------------------------------------


def test_100k_node_chain_is_refused_quickly_and_walked_without_recursion():
    x = mg.tensor([1.0], requires_grad=True)
    one = mg.tensor([1.0])
    y = x
    gc.disable()  # building 100k nodes is 4x faster without the cycle collector rescanning them
    try:
        with mg.scope("chain"):
            for _ in range(100_000):
                y = y * one
    finally:
        gc.enable()
    gc.collect()  # pay for the collector's scan of 100k new objects here, not inside the timing
    start = time.perf_counter()
    with pytest.raises(ValueError, match="view='cells'"):
        mg.viz.to_dot(y, max_nodes=3000)
    refused_in = time.perf_counter() - start
    fns, leaves = walk([y])  # the full walk: an explicit stack, no RecursionError
    assert len(fns) == 100_000 and len(leaves) == 1
    with pytest.raises(GraphTooLargeError):  # no time steps here: the cells view is just as big
        mg.viz.to_dot(y, view="cells")
    print(f"100k chain refused in {refused_in * 1e3:.1f} ms")


def test_auto_view_falls_back_to_cells_with_a_warning():
    layer, out = run_layer("lstm", "reference", 6)
    with pytest.warns(UserWarning, match="view='cells'"):
        dot = mg.viz.to_dot(out, params=layer, view="auto", max_nodes=100)
    assert len(re.findall(CELL, dot)) == 6
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert step_clusters(mg.viz.to_dot(out, params=layer, view="auto")) == 6


@pytest.mark.slow
def test_cells_view_of_a_1000_step_lstm():
    mg.manual_seed(0)
    lstm = LSTM(4, 8)
    out, _ = lstm(mg.randn(1000, 2, 4))
    out[-1].sum().backward(retain_graph=True)
    start = time.perf_counter()
    g = mg.viz.draw_graph(out, params=lstm, view="cells")
    built_in = time.perf_counter() - start
    assert len(re.findall(CELL, g.source)) == 1000
    with pytest.raises(ValueError, match="view='cells'"):
        mg.viz.to_dot(out, params=lstm, view="ops")
    print(f"1000-step LSTM cells view built in {built_in:.2f} s")
    if HAVE_DOT:
        start = time.perf_counter()
        svg = g.pipe(format="svg")
        print(f"... rendered to SVG in {time.perf_counter() - start:.2f} s")
        assert b"<svg" in svg


def test_dot_text_needs_no_graphviz(monkeypatch):
    layer, out = run_layer("lstm", "fused", 3)
    monkeypatch.setenv("PATH", "")
    assert shutil.which("dot") is None
    dot = mg.viz.to_dot(out, params=layer)
    assert dot.startswith("digraph minigrad {") and "weight_hh_l0" in dot
    g = mg.viz.draw_graph(out, params=layer)
    assert g.source == dot
    bundle = g._repr_mimebundle_()  # what Jupyter calls: falls back to the DOT text
    assert "text/plain" in bundle and "digraph" in bundle["text/plain"]


@needs_dot
def test_svg_rendering_shows_the_gradients():
    layer, out = run_layer("lstm", "fused", 4)
    g = mg.viz.draw_graph(out, params=layer, view="ops")
    svg = g.pipe(format="svg").decode()
    assert svg.lstrip().startswith("<?xml") or "<svg" in svg
    assert "gradient colouring" in svg and "||dL/dh_4||" in svg and "weight_hh_l0" in svg
    cells = mg.viz.draw_graph(out, params=layer, view="cells").pipe(format="svg").decode()
    assert "||dL/dh_t||" in cells and "h_3, c_3" in cells and "||dL/dc_3||" in cells


@needs_dot
def test_jupyter_gets_svg():
    layer, out = run_layer("gru", "fused", 2)
    g = mg.viz.draw_graph(out, params=layer)
    assert isinstance(g, __import__("graphviz").Digraph)
    assert "image/svg+xml" in g._repr_mimebundle_()


def test_bad_arguments():
    layer, out = run_layer("rnn", "fused", 2)
    with pytest.raises(ValueError, match="view"):
        mg.viz.to_dot(out, view="steps")
    with pytest.raises(ValueError, match="rankdir"):
        mg.viz.to_dot(out, rankdir="XY")
    with pytest.raises(ValueError, match="max_nodes"):
        mg.viz.to_dot(out, max_nodes=0)
    with pytest.raises(TypeError, match="Tensor"):
        mg.viz.to_dot("out")
    assert 'rankdir="TB"' in mg.viz.to_dot(out, rankdir="TB") or "rankdir=TB" in mg.viz.to_dot(out, rankdir="TB")


def test_leaf_root_and_plain_graph_without_scopes():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    dot = mg.viz.to_dot(x)
    assert counts(dot) == (2, 1)  # the leaf and the output node
    with mg.viz.record():
        y = (x * x).sum()
        y.backward()
    dot = mg.viz.to_dot(y, show_values=True)
    assert "mul" in dot and "sum" in dot and "[1, 2]" in dot and "step" not in dot


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------


def test_cli_writes_dot_without_graphviz(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", "")
    out = tmp_path / "lstm.dot"
    assert cli.main(["lstm", "--steps", "3", "--layers", "2", "--bidirectional", "--grads", "--out", str(out)]) == 0
    dot = out.read_text()
    assert step_clusters(dot) == 12 and "gradient colouring" in dot
    assert cli.main(["gru", "--out", str(tmp_path / "gru.svg")]) == 2
    assert "dot` was not found" in capsys.readouterr().err


@needs_dot
@pytest.mark.parametrize("fmt", ["svg", "png", "pdf"])
def test_cli_renders(tmp_path, fmt):
    out = tmp_path / f"rnn.{fmt}"
    args = ["rnn", "--steps", "3", "--view", "cells", "--grads", "--values", "--impl", "reference", "--out", str(out)]
    assert cli.main(args) == 0
    assert out.stat().st_size > 1000


def test_cli_rejects_unknown_format_and_too_large(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["rnn", "--out", str(tmp_path / "x.jpg")])
    assert cli.main(["lstm", "--steps", "50", "--impl", "reference", "--max-nodes", "200",
                     "--out", str(tmp_path / "x.dot")]) == 2
    assert "view='cells'" in capsys.readouterr().err
