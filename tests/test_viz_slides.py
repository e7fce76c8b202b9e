"""mg.viz for slides and lessons: time counts t = 1..T, true numbers only, options for figures."""

from __future__ import annotations

import re
import shutil
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz import diagram
from minigrad.viz.walk import walk

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (CI installs it)")
F64 = mg.float64


def _numbers(dot: str, what: str) -> dict[int, float]:
    """``{t: value}`` of every ``||dL/d<what>_t|| value`` line written in a drawing."""
    return {int(t): float(v) for t, v in re.findall(rf"\|\|dL/d{what}_(\d+)\|\| ([-+.e\d]+)<", dot)}


def _lstm_pair(T: int = 5, seed: int = 0):
    """A fused LSTM layer and an LSTMCell loop with the same weights; the loop keeps dL/dh_t and dL/dc_t."""
    mg.manual_seed(seed)
    layer = mg.nn.LSTM(3, 4, dtype=F64)
    cell = mg.nn.LSTMCell(3, 4, dtype=F64, impl="reference")
    for a, b in (("weight_ih", "weight_ih_l0"), ("weight_hh", "weight_hh_l0"), ("bias_ih", "bias_ih_l0"),
                 ("bias_hh", "bias_hh_l0")):
        getattr(cell, a).data[...] = getattr(layer, b).data
    x = mg.randn(T, 2, 3, dtype=F64)
    return layer, cell, x


# ------------------------------------------------------------------------------------------------
# One notation for time: scopes t1..tT, nodes h_3, c_3, x_3, initial state h_0
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_layers_name_their_steps_t1_to_tT(impl: str) -> None:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, impl=impl)
    out, _ = lstm(mg.randn(3, 1, 3))
    if impl == "fused":
        scopes = {out.grad_fn.step_scope(t) for t in range(3)}
    else:
        scopes = {fn.scope for fn in walk([out.sum()])[0] if "/t" in fn.scope}
    assert scopes == {"lstm/l0/t1", "lstm/l0/t2", "lstm/l0/t3"}


@pytest.mark.parametrize("view", ["ops", "cells"])
def test_nodes_are_named_for_their_step_and_the_initial_state_is_h0(view: str) -> None:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4)
    with mg.viz.record():
        out, _ = lstm(mg.randn(3, 1, 3))
        out[-1].sum().backward()
    dot = mg.viz.to_dot(out, params=lstm, view=view)
    assert "t = 0" not in dot and "h_{t-1}" not in dot
    if view == "ops":
        for text in (
                "<B>x_1</B>", "<B>h_0</B>", "<B>c_0</B>", "<B>h_3</B>", "<B>c_2</B>", "W_ih x_2 + b_ih + W_hh h_1"):
            assert text in dot, text
    else:
        for text in ("<B>h_0, c_0</B>", "<B>h_1, c_1</B>", "<B>h_3, c_3</B>"):
            assert text in dot, text


# ------------------------------------------------------------------------------------------------
# Deliver 1: the true ||dL/dh_t|| and ||dL/dc_t||, or nothing
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("view", ["ops", "cells"])
def test_cell_and_head_inside_each_step_draw_the_true_gradients(impl: str, view: str) -> None:
    """Issue 21's second and third repros: RNNCell + Linear head in each step, the loss on the last."""
    mg.manual_seed(4)
    cell, head = mg.nn.RNNCell(3, 4, impl=impl, dtype=F64), mg.nn.Linear(4, 1, dtype=F64)
    x, h, hs = mg.randn(6, 2, 3, dtype=F64), mg.zeros(2, 4, dtype=F64), []
    with mg.viz.record():
        for t in range(1, 7):
            with mg.scope(f"t{t}"):
                h = cell(x[t - 1], h)
                h.retain_grad()
                hs.append(h)
                y = head(h)
        loss = (y ** 2).sum()
        loss.backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every step is known: no warning either
        dot = mg.viz.to_dot(loss, view=view)
    got = _numbers(dot, "h")
    assert sorted(got) == [1, 2, 3, 4, 5, 6]
    for t, value in got.items():
        assert value == pytest.approx(float(np.linalg.norm(hs[t - 1].grad.numpy())), rel=5e-3)  # 3 digits shown


@pytest.mark.parametrize("view", ["ops", "cells"])
def test_lstm_draws_dl_dc_next_to_dl_dh_both_true(view: str) -> None:
    layer, cell, x = _lstm_pair()
    with mg.viz.record():
        out, _ = layer(x)
        (out[-1] ** 2).sum().backward()
    dot = mg.viz.to_dot(out, params=layer, view=view)
    h, c, hs, cs = None, None, [], []
    for t in range(5):  # the truth: the same LSTM by hand, dL/dh_t and dL/dc_t kept by retain_grad
        h, c = cell(x[t], None if h is None else (h, c))
        h.retain_grad()
        c.retain_grad()
        hs.append(h)
        cs.append(c)
    (h ** 2).sum().backward()
    for what, truth in (("h", hs), ("c", cs)):
        got = _numbers(dot, what)
        assert sorted(got) == [1, 2, 3, 4, 5], what
        for t, value in got.items():
            assert value == pytest.approx(float(np.linalg.norm(truth[t - 1].grad.numpy())), rel=5e-3), (what, t)


def test_reference_lstm_draws_dl_dc_of_its_marked_c() -> None:
    mg.manual_seed(1)
    lstm = mg.nn.LSTM(3, 4, impl="reference")
    with mg.viz.record():
        out, _ = lstm(mg.randn(4, 2, 3))
        out[-1].sum().backward()
    cells = mg.viz.to_dot(out, params=lstm, view="cells")
    assert sorted(_numbers(cells, "c")) == [1, 2, 3, 4] and sorted(_numbers(cells, "h")) == [1, 2, 3, 4]


# ------------------------------------------------------------------------------------------------
# Slide-ready options
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_gates_are_named_in_every_step(impl: str) -> None:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, impl=impl)
    with mg.viz.record():
        out, _ = lstm(mg.randn(3, 1, 3, requires_grad=True))
        out[-1].sum().backward()
    dot = mg.viz.to_dot(out, params=lstm, view="ops")
    for t in (1, 2, 3):
        names = re.findall(rf"<B>([ifgo])_{t}  [a-z ]+</B>", dot)
        assert names == ["i", "f", "g", "o"], (t, names)  # one box per step, its rows in the cell's order


def test_shape_only_plumbing_is_hidden_unless_asked_for() -> None:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, impl="reference")
    with mg.viz.record():
        out, _ = lstm(mg.randn(3, 1, 3))
        out[-1].sum().backward()
    hidden = mg.viz.to_dot(out, params=lstm, view="ops")
    shown = mg.viz.to_dot(out, params=lstm, view="ops", show_plumbing=True)
    assert "<B>permute</B>" not in hidden and "<B>split</B>" not in hidden
    assert "<B>permute</B>" in shown and "<B>split</B>" in shown
    assert "<B>weight_hh_l0</B>" in hidden  # the weights feed the matmuls directly


@pytest.mark.parametrize("view", ["ops", "cells"])
def test_labels_show_what_each_step_reads(view: str) -> None:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4)
    with mg.viz.record():
        out, _ = lstm(mg.randn(4, 1, 3))
        out[-1].sum().backward()
    dot = mg.viz.to_dot(out, params=lstm, view=view, labels="Beau")
    assert "x_1 = &#x27;B&#x27;" in dot and "x_4 = &#x27;u&#x27;" in dot
    with pytest.raises(TypeError, match="labels"):
        mg.viz.to_dot(out, params=lstm, labels=3)


def test_used_twice_draws_two_arrows() -> None:
    d = mg.tensor([1.0, 2.0], requires_grad=True)
    d.name = "d"
    dot = mg.viz.to_dot((d * d).sum())
    mul = re.search(r"(\w+) \[label=<<B>mul</B>", dot).group(1)
    leaf = re.search(r"(\w+) \[label=<<B>d</B>", dot).group(1)
    assert len(re.findall(rf"\t{leaf} -> {mul}\b", dot)) == 2


def test_size_and_a_fixed_colour_scale() -> None:
    mg.manual_seed(0)
    rnn = mg.nn.RNN(3, 4)
    drawings = []
    for T in (3, 30):
        with mg.viz.record():
            out, _ = rnn(mg.randn(T, 1, 3))
            out[-1].sum().backward()
        drawings.append((out, mg.viz.draw_graph(out, params=rnn, view="cells", size="slide",
                                                scale=(1e-9, 10.0))))
    legends = [re.search(r"legend \[.*\]", g.source).group(0) for _, g in drawings]
    assert legends[0] == legends[1] and "from 1.00e-09 to 10" in legends[0]
    assert 'size="13.333,7.5"' in drawings[0][1].source
    again = mg.viz.draw_graph(drawings[1][0], params=rnn, view="cells", scale=drawings[0][1].scale)
    assert re.search(r"legend \[.*\]", again.source).group(0) == legends[0]
    for bad in ((10.0, 1.0), (0.0, 1.0), "big"):
        with pytest.raises(ValueError, match="scale"):
            mg.viz.to_dot(out, scale=bad)
    with pytest.raises(ValueError, match="size"):
        mg.viz.to_dot(out, size=(0, 3))


def test_norms_in_one_decade_still_span_the_colours() -> None:
    from minigrad.viz.colors import GradientScale

    scale = GradientScale([1.3, 2.0, 4.0], exact=None)
    assert scale.color(1.3) != scale.color(4.0)
    assert scale.lo == pytest.approx(np.log10(1.3)) and scale.hi == pytest.approx(np.log10(4.0))
    assert "from 1.3 to 4" in scale.legend_label()


@needs_dot
def test_render_leaves_no_dot_file(tmp_path) -> None:
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    path = mg.viz.draw_graph((x * 3).sum()).render(str(tmp_path / "name"), format="svg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["name.svg"] and path.endswith("name.svg")


# ------------------------------------------------------------------------------------------------
# The conceptual cell diagram
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind,gates", [("lstm", ["forget", "input", "candidate", "output"]),
                                        ("gru", ["reset", "update", "candidate"])])
def test_cell_diagram_highlights_one_gate_at_a_time(kind: str, gates: list[str]) -> None:
    plain = mg.viz.cell_diagram(kind).source
    assert "#c0392b" not in plain  # nothing highlighted
    for gate in gates:
        src = mg.viz.cell_diagram(kind, highlight=gate).source
        box = diagram.GATES[kind][gate][0]
        assert re.search(rf'\t{box} \[[^\]]*color="#c0392b"', src), gate  # its box
        assert f"{box}_t = " in src  # its equation
        others = [GATE[0] for name, GATE in diagram.GATES[kind].items() if name != gate]
        for other in others:
            assert not re.search(rf'\t{other} \[[^\]]*color="#c0392b"', src)
    with pytest.raises(ValueError, match="highlight"):
        mg.viz.cell_diagram(kind, highlight="forgot")
    with pytest.raises(ValueError, match="kind"):
        mg.viz.cell_diagram("transformer")


# ------------------------------------------------------------------------------------------------
# Truncated BPTT: the previous window greyed, the cut marked
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["ops", "cells"])
@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_truncated_bptt_greys_the_previous_window_and_marks_the_cut(view: str, impl: str) -> None:
    from minigrad.nn.utils import detach_state

    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, impl=impl)
    xs = mg.randn(6, 1, 3)
    with mg.viz.record():  # one scope per window: the reference path's steps are told apart by scope
        with mg.scope("window_1"):
            out1, state1 = lstm(xs[:3])
        out1[-1].sum().backward()
        with mg.scope("window_2"):
            out2, _ = lstm(xs[3:], detach_state(state1))
        loss = out2[-1].sum()
        loss.backward()
    if impl == "reference":  # its detached state is no graph node: said, not drawn
        with pytest.warns(UserWarning, match="the cut is not marked"):
            dot = mg.viz.to_dot(loss, params=lstm, view=view, previous=state1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            dot = mg.viz.to_dot(loss, params=lstm, view=view, previous=state1)
        assert dot.count("cut: detach_state") >= 1 and "from the previous window, detached" in dot
    assert "previous window: not part of this backward pass" in dot
    alone = mg.viz.to_dot(loss, params=lstm, view=view)
    assert _numbers(dot, "h") == _numbers(alone, "h")  # the current window's numbers, unchanged
    with pytest.raises(TypeError, match="previous"):
        mg.viz.to_dot(loss, previous=3)


def test_graphs_recorded_in_separate_blocks_are_all_coloured() -> None:
    """docs/visualization.md's comparison: three models, three record() blocks, one drawing."""
    mg.manual_seed(0)
    x = mg.randn(5, 1, 3)
    losses, truth = [], []
    for name, model in (("a", mg.nn.RNN(3, 4)), ("b", mg.nn.LSTM(3, 4)), ("c", mg.nn.GRU(3, 4))):
        with mg.viz.record(), mg.scope(name):
            out, _ = model(x)
            loss = out[-1].sum()
            loss.backward(retain_graph=True)
        truth.append([float(np.linalg.norm(out.grad_fn.step_grad_h(t))) for t in range(5)])
        losses.append(loss)
    model, _ = __import__("minigrad.viz.graph", fromlist=["build_model"]).build_model(losses, view="cells")
    for (layer, t), g in model.step_grads.items():
        assert g == pytest.approx(truth["abc".index(layer[0])][t - 1], rel=1e-6)
    assert len(model.step_grads) == 15


@pytest.mark.parametrize("view", ["ops", "cells"])
@pytest.mark.parametrize("T", [2, 4, 8])
def test_bptt_by_hand_loop_draws_the_true_dl_dh(view: str, T: int) -> None:
    """Issue 21's first repro, the loop of examples/bptt_by_hand.py: y_t and the running loss inside
    each step's scope, nothing marked. Every step drawn shows the true ||dL/dh_t||; a step that
    cannot be told (T = 2: no step shows which result is the running loss) is refused, with a warning."""
    rng = np.random.default_rng(0)
    P = {k: mg.tensor(rng.normal(0, 0.5, s), requires_grad=True)
         for k, s in (("W_ih", (5, 3)), ("W_hh", (5, 5)), ("b_ih", (5,)), ("b_hh", (5,)), ("W_hy", (2, 5)),
                      ("b_y", (2,)))}
    xs, targets = rng.normal(size=(T, 3)), rng.normal(size=(T, 2))
    h = [mg.tensor(rng.normal(0, 0.5, 5), requires_grad=True)]
    loss = mg.tensor(0.0, dtype=F64)
    with mg.viz.record():
        for t in range(1, T + 1):
            with mg.scope(f"t{t}"):
                a_t = P["W_ih"] @ mg.tensor(xs[t - 1]) + P["b_ih"] + P["W_hh"] @ h[t - 1] + P["b_hh"]
                h_t = a_t.tanh()
                h_t.retain_grad()
                h.append(h_t)
                y_t = P["W_hy"] @ h_t + P["b_y"]
                loss = loss + 0.5 * ((y_t - mg.tensor(targets[t - 1])) ** 2).sum()
        loss.backward()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dot = mg.viz.to_dot(loss, params=P, view=view)
    got = _numbers(dot, "h")
    if T == 2:
        assert not got and any("mark_state" in str(w.message) for w in caught)
        return
    assert sorted(got) == list(range(1, T + 1)) and not caught
    for t, value in got.items():
        assert value == pytest.approx(float(np.linalg.norm(h[t].grad.numpy())), rel=5e-3)


def test_cli_slide_options(tmp_path) -> None:
    from minigrad.viz import __main__ as cli

    out = tmp_path / "l.dot"
    assert cli.main(["lstm", "--steps", "3", "--grads", "--labels", "abc", "--slide", "--out", str(out)]) == 0
    dot = out.read_text()
    assert "x_2 = &#x27;b&#x27;" in dot and 'size="13.333,7.5"' in dot


def test_reference_steps_draw_their_inputs_that_need_no_gradient() -> None:
    """x_t, h_0 and c_0 of a reference LSTM are no graph nodes (no grad), yet every matmul shows both inputs."""
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, impl="reference")
    with mg.viz.record():
        out, _ = lstm(mg.randn(3, 1, 3))
        out[-1].sum().backward()
    dot = mg.viz.to_dot(out, params=lstm, view="ops", labels="abc")
    for text in ("<B>x_1 = &#x27;a&#x27;</B>", "<B>x_3 = &#x27;c&#x27;</B>", "<B>h_0</B>", "<B>c_0</B>"):
        assert dot.count(text) == 1, text
