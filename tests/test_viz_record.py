"""mg.viz.record(): drawings read recorded values; the engine keeps nothing for them."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
from minigrad.viz.graph import walk


def graph_nodes(root):
    return walk([root])[0]


@pytest.mark.parametrize("impl", ["fused", "reference"])
def test_a_train_step_with_retain_graph_stores_no_drawing_data(impl):
    """Issue 18: a plain train step with retain_graph=True keeps no per-node outputs or gradient norms."""
    mg.manual_seed(0)
    lstm = mg.nn.LSTM(3, 4, impl=impl)
    head = mg.nn.Linear(4, 1)
    opt = mg.optim.SGD(list(lstm.parameters()) + list(head.parameters()), lr=0.1)
    out, _ = lstm(mg.randn(5, 2, 3))
    loss = (head(out[-1]) ** 2).mean()
    opt.zero_grad()
    loss.backward(retain_graph=True)
    opt.step()
    fns = graph_nodes(loss)
    assert len(fns) > 3
    for fn in fns:
        assert not hasattr(fn, "output_data"), fn.name
        assert not hasattr(fn, "grad_norms"), fn.name
        assert getattr(fn, "step_grad_sink", None) is None, fn.name  # no recording asked for step gradients


def test_recording_keeps_outputs_norms_and_order():
    x = mg.tensor([3.0, 4.0], requires_grad=True)
    with mg.viz.record() as rec:
        y = x * 2
        z = (y * y).sum()
        z.backward()
    assert [fn.name for fn in rec.forward_order] == ["mul", "mul", "sum"]
    assert [fn.name for fn in rec.backward_order] == ["sum", "mul", "mul"]
    np.testing.assert_allclose(rec.outputs(y.grad_fn)[0], [6.0, 8.0])
    np.testing.assert_allclose(rec.grad_norms(y.grad_fn), [np.linalg.norm([12.0, 16.0])])
    assert rec.grad_norms(z.grad_fn) == (1.0,)
    # outputs are copies: what the drawing shows is the value when the node was built
    assert rec.outputs(y.grad_fn)[0] is not y._array


def test_fused_steps_recorded_without_retain_graph():
    mg.manual_seed(1)
    lstm = mg.nn.LSTM(2, 3)
    with mg.viz.record() as rec:
        out, _ = lstm(mg.randn(4, 1, 2))
        out[-1].sum().backward()  # the graph is freed: the recording still has every step
    node = out.grad_fn
    assert node.released
    assert set(rec.step_values(node, 2)) >= {"x_t", "h_prev", "h", "i", "f", "g", "o", "c", "c_prev"}
    grads = [np.linalg.norm(rec.step_grad_h(node, t)) for t in range(4)]
    assert all(g > 0 for g in grads)
    cells = mg.viz.to_dot(out, params=lstm, view="cells")
    assert "gradient colouring" in cells and len(re.findall(r'<B>h_\d+(?:, c_\d+)?</B>[^\n]*shape="box"', cells)) == 4


def test_gradients_without_recording_warn_with_the_fix():
    rnn = mg.nn.RNN(2, 3, impl="reference")
    out, _ = rnn(mg.randn(3, 1, 2))
    out.sum().backward(retain_graph=True)
    with pytest.warns(UserWarning, match=r"with mg\.viz\.record\(\):"):
        dot = mg.viz.to_dot(out, params=rnn)
    assert "gradient colouring" not in dot  # the parameters' .grad still show; the ops' gradients were not kept
    with pytest.warns(UserWarning, match="no values"):
        mg.viz.to_dot(out, params=rnn, show_values=True, show_grads=False)
    fresh, _ = rnn(mg.randn(3, 1, 2))  # no backward, no values asked: nothing to warn about
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.viz.to_dot(fresh, params=rnn)


def test_readme_lstm_snippet_draws_gradients():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in readme.split("```python")[1:] if "mg.nn.LSTM" in b).split("```")[0]
    code = block.replace("mg.viz.draw_graph(", "drawing = mg.viz.draw_graph(")
    namespace = {"mg": mg}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exec(code, namespace)
    dot = namespace["drawing"].source
    assert "gradient colouring" in dot and len(re.findall(r'<B>h_\d+(?:, c_\d+)?</B>[^\n]*shape="box"', dot)) == 20


# ------------------------------------------------------------------------------------------------
# mg.viz.mark_state: the step's state is declared, never guessed
# ------------------------------------------------------------------------------------------------


def _loop_with_running_loss(mark: bool):
    """bptt_by_hand's shape of loop: y_t and the running loss are built inside each step's scope."""
    mg.manual_seed(3)
    W_xh, W_hh, W_hy = (mg.randn(*s, requires_grad=True) for s in ((2, 3), (3, 3), (3, 1)))
    xs = mg.randn(4, 1, 2)
    h = mg.zeros(1, 3)
    hs = []
    loss = mg.zeros(())
    with mg.viz.record():
        for t in range(4):
            with mg.scope(f"t{t + 1}"):
                h = (xs[t] @ W_xh + h @ W_hh).tanh()
                h.retain_grad()
                if mark:
                    mg.viz.mark_state(h)
                hs.append(h)
                loss = loss + ((h @ W_hy) ** 2).sum()
        loss.backward()
    return loss, hs, {"W_xh": W_xh, "W_hh": W_hh, "W_hy": W_hy}


def test_marked_loop_is_coloured_by_the_true_dl_dh():
    loss, hs, params = _loop_with_running_loss(mark=True)
    model, _ = __import__("minigrad.viz.graph", fromlist=["build_model"]).build_model(loss, params=params,
                                                                                      view="cells")
    got = [g for _, g in sorted(model.step_grads.items(), key=lambda kv: kv[0][1])]
    want = [float(np.linalg.norm(h.grad.numpy())) for h in hs]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_unmarked_loop_with_a_running_loss_is_coloured_by_the_true_dl_dh():
    """Issue 21's first repro: unmarked, h_t is told from the running loss where a next step shows it
    (h_t reaches both values carried on, the loss only its own next value), and the last steps,
    built exactly like the one before, by the same place in the step."""
    loss, hs, params = _loop_with_running_loss(mark=False)
    from minigrad.viz.graph import build_model

    for view in ("cells", "ops"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model, _ = build_model(loss, params=params, view=view)
        got = {t: g for (_, t), g in model.step_grads.items()}
        assert sorted(got) == [1, 2, 3, 4]
        for t, g in got.items():
            assert g == pytest.approx(float(np.linalg.norm(hs[t - 1].grad.numpy())), rel=1e-5)


def test_two_states_of_a_hand_written_cell_are_not_guessed():
    W = mg.tensor([[0.5, -0.3], [0.2, 0.9]], requires_grad=True)
    h, c = mg.zeros(1, 2), mg.zeros(1, 2)
    with mg.viz.record():
        for t in range(1, 5):
            with mg.scope(f"t{t}"):
                c = 0.5 * c + (h @ W + 1).tanh()
                h = c.tanh() * 0.9
        h.sum().backward()
    with pytest.warns(UserWarning, match=r"mark_state\(h\)"):
        dot = mg.viz.to_dot(h, params={"W": W}, view="cells")
    assert "gradient colouring" not in dot  # nothing coloured rather than a wrong colour


def test_builtin_cell_with_a_head_inside_the_step_marks_its_own_state():
    """Issue 21's second case: an RNNCell + Linear head in each step, the loss on the last step."""
    mg.manual_seed(4)
    cell, head = mg.nn.RNNCell(2, 3, impl="reference"), mg.nn.Linear(3, 1)
    h = mg.zeros(1, 3)
    hs = []
    with mg.viz.record():
        for t in range(5):
            with mg.scope(f"t{t + 1}"):
                h = cell(mg.randn(1, 2), h)
                h.retain_grad()
                hs.append(h)
                y = head(h)
        loss = (y ** 2).sum()
        loss.backward()
    from minigrad.viz.graph import build_model

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, _ = build_model(loss, params=cell, view="ops")
    got = [g for _, g in sorted(model.step_grads.items(), key=lambda kv: kv[0][1])]
    np.testing.assert_allclose(got, [float(np.linalg.norm(h.grad.numpy())) for h in hs], rtol=1e-5)


def test_recurrent_user_cell_marks_h_and_c():
    mg.manual_seed(5)
    layer = mg.nn.Recurrent(mg.nn.LayerNormLSTMCell(2, 3))
    with mg.viz.record():
        out, _ = layer(mg.randn(3, 1, 2))
        out[-1].sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ops = mg.viz.to_dot(out, params=layer, view="ops")
    assert ops.count("= h_") == 3 and ops.count("= c_") == 3 and "gradient colouring" in ops


def test_fused_layer_declares_its_parameter_names():
    """A fused node names its parameters itself: drawings find them even for a module that was
    loaded from a checkpoint (built without its constructor)."""
    import io

    from minigrad.nn.module import live_modules

    mg.manual_seed(6)
    buffer = io.BytesIO()
    mg.save(mg.nn.LSTM(2, 3), buffer)
    buffer.seek(0)
    loaded = mg.load(buffer)
    out, _ = loaded(mg.randn(3, 1, 2))
    node = out.grad_fn
    assert node.param_names == {"weight_ih": "weight_ih_l0", "weight_hh": "weight_hh_l0",
                                "bias_ih": "bias_ih_l0", "bias_hh": "bias_hh_l0"}
    dot = mg.viz.to_dot(out, view="cells")
    assert "<B>weight_hh_l0</B>" in dot and "<B>bias_ih_l0</B>" in dot
    assert not any(m is loaded for m in live_modules())  # so the names came from the node
