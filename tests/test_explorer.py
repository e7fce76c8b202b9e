"""mg.viz.explore: the page's frames against autograd, the views, refusals, and the self-contained file."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from explorer_truth import engine_values, lstm_truth, summary

import minigrad as mg
from minigrad.viz import GraphTooLargeError

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed (CI installs it)")
F64 = mg.float64


def make_lstm(impl: str, seed: int = 0, T: int = 6, layers: int = 2):
    mg.manual_seed(seed)
    lstm = mg.nn.LSTM(3, 4, num_layers=layers, impl=impl, dtype=F64)
    x = np.random.default_rng(seed).standard_normal((T, 2, 3))
    head = np.random.default_rng(seed + 1).standard_normal((T, 2, 4))

    def loss_of(out):
        return (out * mg.tensor(head)).tanh().sum()

    return lstm, x, loss_of


@needs_dot
@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_cells_view_frames_match_a_hand_written_loop(impl: str) -> None:
    lstm, x, loss_of = make_lstm(impl)
    with mg.viz.record():  # the engine keeps no forward values unless asked
        out, _ = lstm(mg.tensor(x))
    ex = mg.viz.explore(loss_of(out), params=lstm, view="cells")
    truth = lstm_truth(lstm, x, loss_of, with_c=True)
    assert ex.view == "cells" and ex.model.steps == 6 and not ex.model.notes
    cells = [f for f in ex.frames if f.cell is not None]
    assert [f.phase for f in cells] == ["forward"] * 12 + ["backward"] * 12  # 2 layers x 6 steps, each pass
    loss_ops = [ex.model.nodes[f.node].label for f in ex.frames if f.cell is None]
    assert loss_ops == ["mul", "tanh", "sum", "sum", "tanh", "mul"]
    for f in cells:
        layer = int(f.cell[0][-1][1:])
        h_norm, g_norm, c_norm, gc_norm = truth[(layer, f.cell[1])]
        assert f.value == pytest.approx(h_norm, rel=1e-5)
        assert f.c_value == pytest.approx(c_norm, rel=1e-5)
        if f.phase == "backward":
            assert f.grad_norm == pytest.approx(g_norm, rel=1e-5)
            assert f.c_grad_norm == pytest.approx(gc_norm, rel=1e-5)
        else:
            assert f.grad_norm is None and f.c_grad_norm is None
    # forward in time order per layer; backward: the last step of the top layer first
    assert [f.cell[1] for f in cells[:12] if f.cell[0][-1] == "l0"] == list(range(6))
    assert cells[12].cell == (("lstm", "l1"), 5)


@needs_dot
def test_frames_say_what_their_numbers_are_norms_of() -> None:
    """A step's frame names its state (h_3, c_3 in the ops view); the head's and the loss's frames name none."""
    mg.manual_seed(3)
    lstm, head = mg.nn.LSTM(2, 3, impl="reference"), mg.nn.Linear(3, 1)
    with mg.viz.record():
        out, _ = lstm(mg.randn(3, 1, 2))
        loss = head(out).pow(2).sum()
    cells = mg.viz.explore(loss, None, params=lstm, view="cells")
    assert {f.quantity for f in cells.frames if f.cell is not None} == {"h_1", "h_2", "h_3"}
    assert {f.quantity for f in cells.frames if f.cell is None} == {""}
    ops = mg.viz.explore(loss, None, params=lstm, view="ops")
    named = {f.quantity for f in ops.frames}
    assert {"h_1", "h_2", "h_3", "c_1", "c_2", "c_3", ""} <= named
    for f in ops.frames:
        if f.quantity:
            assert ops.model.nodes[f.node].label.endswith(f" = {f.quantity}")


def test_ops_view_frames_match_the_engine() -> None:
    lstm, x, loss_of = make_lstm("reference", T=3, layers=1)
    loss, engine = engine_values(lambda: loss_of(lstm(mg.tensor(x))[0]))
    ex = mg.viz.explore(loss, params=lstm, view="ops")
    n_ops = len(engine.grads)
    assert [f.phase for f in ex.frames] == ["forward"] * n_ops + ["backward"] * n_ops, (n_ops, len(ex.frames))
    for f in ex.frames:
        assert f.value == pytest.approx(summary(engine.outputs[f.fn]), rel=1e-5, abs=1e-12)
        if f.phase == "backward":
            assert f.grad_norm == pytest.approx(summary([g for g in engine.grads[f.fn] if g is not None])
                                                if any(g is not None for g in engine.grads[f.fn]) else 0.0,
                                                rel=1e-5, abs=1e-12)
    # the engine's own backward order
    assert [f.fn for f in ex.frames if f.phase == "backward"] == list(engine.grads)
    labels = [ex.model.nodes[f.node].label for f in ex.frames]
    assert "mul = h_3" in labels and "add = c_2" in labels


@needs_dot
def test_page_is_self_contained_and_saves(tmp_path) -> None:
    lstm, x, loss_of = make_lstm("fused", T=4, layers=1)
    with mg.viz.record():  # the engine keeps no forward values unless asked
        out, _ = lstm(mg.tensor(x))
    ex = mg.viz.explore(loss_of(out), tmp_path / "bptt.html", params=lstm)
    text = (tmp_path / "bptt.html").read_text(encoding="utf-8")
    assert ex.path == tmp_path / "bptt.html" and text == ex.html
    assert not re.search(r"https?:|//cdn|<link|src=", text, re.I)
    assert "window.minigradExplorer" in text and "<svg" in text
    assert "srcdoc=" in ex._repr_html_()
    assert set(ex.weights) == {"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"}
    lstm.zero_grad()
    loss_of(out).backward()  # the graph is still there, and .grad was not touched by explore
    np.testing.assert_allclose(sum(ex.weights["weight_hh_l0"]), lstm.weight_hh_l0.grad.numpy(), atol=1e-10)


@needs_dot
def test_auto_view_window_and_refusal() -> None:
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(2, 3, impl="reference")
    out, _ = lstm(mg.randn(30, 1, 2))
    loss = out.sum()
    assert mg.viz.explore(loss).view == "cells"
    ex = mg.viz.explore(loss, view="ops", window=(29, 30))
    assert {f.cell[1] for f in ex.frames if f.cell is not None} == {28, 29}
    with pytest.raises(GraphTooLargeError, match="view='cells'.*window="):
        mg.viz.explore(loss, view="ops", max_nodes=300)
    with pytest.raises(GraphTooLargeError, match="window=.*max_nodes"):
        mg.viz.explore(loss, view="cells", max_nodes=10)
    with pytest.raises(ValueError, match="view must be one of"):
        mg.viz.explore(loss, view="graph")
    with pytest.raises(ValueError, match="window must be"):
        mg.viz.explore(loss, window=(3, 1))


@needs_dot
@pytest.mark.parametrize("T", [2, 3, 5])
def test_hand_loop_with_a_running_loss_finds_h(T: int) -> None:
    """Issue 21's first repro (examples/bptt_by_hand.py): y_t and the running loss inside each step."""
    W = mg.tensor([[0.5, -0.3], [0.2, 0.9]], dtype=F64, requires_grad=True)
    U = mg.tensor([[1.0, -0.5]], dtype=F64, requires_grad=True)
    h = mg.zeros(1, 2, dtype=F64)
    loss = mg.zeros((), dtype=F64)
    hs = []
    with mg.viz.record():  # the values the explorer shows
        for t in range(T):
            with mg.scope(f"t{t + 1}"):
                h = (h @ W + mg.tensor([[0.3 * t, -0.2]], dtype=F64)).tanh()
                h.retain_grad()
                hs.append(h)
                y = h @ U.T
                loss = loss + 0.5 * ((y - 0.7) ** 2).sum()
    ex = mg.viz.explore(loss, params={"W": W, "U": U}, view="cells")
    loss.backward(retain_graph=True)
    back = {f.cell[1]: f for f in ex.frames if f.phase == "backward" and f.cell is not None}
    if T == 2:  # no step in the middle to tell the state from the running loss: said, not guessed
        assert "cannot tell which is h_t" in ex.model.notes[0]
        assert all(f.grad_norm is None for f in back.values())
        return
    assert not ex.model.notes
    for t in range(T):
        assert back[t].value == pytest.approx(float(np.linalg.norm(hs[t].detach().numpy())), rel=1e-5)
        assert back[t].grad_norm == pytest.approx(float(np.linalg.norm(hs[t].grad.numpy())), rel=1e-5)
    np.testing.assert_allclose(sum(ex.weights["W"]), W.grad.numpy(), atol=1e-12)


@needs_dot
def test_two_states_of_a_hand_written_cell_are_not_guessed() -> None:
    W = mg.tensor([[0.5, -0.3], [0.2, 0.9]], requires_grad=True)
    h, c = mg.zeros(1, 2), mg.zeros(1, 2)
    for t in range(4):
        with mg.scope(f"t{t + 1}"):
            c = 0.5 * c + (h @ W + 1).tanh()
            h = c.tanh() * 0.9
    ex = mg.viz.explore(h.sum(), params={"W": W}, view="cells")
    assert ex.model.notes and "cannot tell which is h_t" in ex.model.notes[0]
    assert all(f.value is None and f.grad_norm is None for f in ex.frames if f.cell is not None)
    assert "cannot tell which is h_t" in ex.html
    np.testing.assert_allclose(sum(ex.weights["W"]), mg.autograd.grad(h.sum(), W)[0].numpy(), atol=1e-6)


@needs_dot
@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_rnn_cell_loop_with_head_inside_the_step(impl: str) -> None:
    """Issue 21's second and third repros: the true ||dL/dh_t||, not the head's output."""
    mg.manual_seed(3)
    cell, head = mg.nn.RNNCell(2, 3, dtype=F64, impl=impl), mg.nn.Linear(3, 1, dtype=F64)
    xs = mg.randn(5, 1, 2, dtype=F64)
    h, hs = None, []
    with mg.viz.record():  # the values the explorer shows
        for t in range(5):
            with mg.scope(f"t{t + 1}"):
                h = cell(xs[t], h)
                h.retain_grad()
                hs.append(h)
                y = head(h)
    loss = (y * y).sum()
    ex = mg.viz.explore(loss, view="cells")
    loss.backward(retain_graph=True)
    back = {f.cell[1]: f.grad_norm for f in ex.frames if f.phase == "backward" and f.cell is not None}
    for t in range(5):
        assert back[t] == pytest.approx(float(np.linalg.norm(hs[t].grad.numpy())), rel=1e-5)


@needs_dot
def test_truncated_bptt_cut_is_marked() -> None:
    mg.manual_seed(1)
    lstm = mg.nn.LSTM(2, 3)
    _, state = lstm(mg.randn(4, 1, 2))
    state = mg.nn.utils.detach_state(state)
    out, _ = lstm(mg.randn(4, 1, 2), state)
    ex = mg.viz.explore(out.sum(), params=lstm)
    cuts = [n for n in ex.model.nodes.values() if n.kind == "cut"]
    assert len(cuts) == 1 and "previous\nwindow" in cuts[0].label
    assert any(style == "cut" for _, _, style in ex.model.edges)
    assert 'style=dashed' in ex.dot


def test_errors_name_the_fix() -> None:
    w = mg.ones(2, requires_grad=True)
    loss = (w * 2).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="before loss.backward"):
        mg.viz.explore(loss)
    with pytest.raises(ValueError, match="no graph"):
        mg.viz.explore(mg.ones(1))
    with pytest.raises(TypeError, match="params must be"):
        mg.viz.explore((w * 3).sum(), params=3)


@needs_dot
def test_slides_and_cli(tmp_path, capsys) -> None:
    pytest.importorskip("PIL", reason="Pillow is not installed (the 'slides' extra)")
    from PIL import Image

    from minigrad.viz.__main__ import main

    assert main(["explore", "rnn", "--steps", "4", "--out", str(tmp_path / "b.html"), "--gif",
                 str(tmp_path / "b.gif")]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "b.html").exists()
    with Image.open(tmp_path / "b.gif") as gif:
        assert gif.n_frames == 5  # 4 steps + the loss's sum, backward
    mg.manual_seed(0)
    gru = mg.nn.GRU(2, 3)
    out, _ = gru(mg.randn(3, 1, 2))
    ex = mg.viz.explore(out.sum(), params=gru)
    paths = ex.save_frames(tmp_path / "frames", phase="both")
    assert [p.name for p in paths][:2] == ["frame_0001.png", "frame_0002.png"] and len(paths) == ex.length
    with pytest.raises(ValueError, match="max_frames"):
        ex.save_gif(tmp_path / "x.gif", max_frames=2)
    assert main(["explore", "lstm", "--steps", "50", "--view", "ops", "--impl", "reference", "--max-nodes", "100",
                 "--out", str(tmp_path / "c.html")]) == 2
    assert "window=" in capsys.readouterr().err


@needs_dot
def test_slides_without_pillow_name_the_extra(tmp_path, monkeypatch) -> None:
    import sys

    out, _ = mg.nn.RNN(2, 2)(mg.randn(2, 1, 2))
    ex = mg.viz.explore(out.sum())
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"minigrad\[slides\]"):
        ex.save_gif(tmp_path / "a.gif")


def test_a_huge_graph_is_refused_before_any_work() -> None:
    import time

    W = mg.tensor([[0.5]], requires_grad=True)
    h = mg.zeros(1, 1)
    for t in range(30_000):
        with mg.scope(f"t{t + 1}"):
            h = (h @ W).tanh()
    started = time.perf_counter()
    with pytest.raises(GraphTooLargeError, match="window="):
        mg.viz.explore(h.sum())
    assert time.perf_counter() - started < 5


@needs_dot
def test_recorded_build_order_and_truncated_flag() -> None:
    mg.manual_seed(4)
    rnn = mg.nn.RNN(2, 3, impl="reference")
    with mg.viz.record_forward() as rec:
        out, _ = rnn(mg.randn(3, 1, 2), mg.randn(1, 1, 3))  # a non-zero h_0, e.g. from an earlier window
        loss = out.sum()
    ex = mg.viz.explore(loss, params=rnn, view="ops", truncated=True)
    forward = [f.fn for f in ex.frames if f.phase == "forward"]
    assert forward == [fn for fn in rec.order if fn in set(forward)]
    assert [n.kind for n in ex.model.nodes.values()].count("cut") == 1
    assert mg.viz.explore(loss, params=rnn, view="ops").model.nodes  # without the flag: no cut claimed
    assert "cut" not in [n.kind for n in mg.viz.explore(loss, params=rnn).model.nodes.values()]


@needs_dot
@pytest.mark.parametrize("impl", ["fused", "reference"])
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_layer_weights_are_named_without_params(kind: str, impl: str) -> None:
    m = getattr(mg.nn, kind)(2, 3, num_layers=2, bidirectional=True, impl=impl)
    out, _ = m(mg.randn(3, 1, 2))
    ex = mg.viz.explore(out.sum(), view="cells")
    named = dict(m.named_parameters())
    assert set(ex.weights) == set(named)
    out.sum().backward()
    for name, parts in ex.weights.items():  # the right weight behind each name
        np.testing.assert_allclose(sum(parts), named[name].grad.numpy(), rtol=1e-5, atol=1e-6)
