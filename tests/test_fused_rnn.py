"""The fused recurrent layer (minigrad/nn/fused_rnn.py): gradients, PyTorch parity, step inspection."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import _allocator
from minigrad.autograd import gradcheck
from minigrad.kernels import lstm as lstm_kernels
from minigrad.nn import fused_rnn
from minigrad.nn.cells import describe
from minigrad.nn.fused_rnn import FusedRNNLayer, fused_rnn_layer

MODES = ["lstm", "gru", "rnn_tanh", "rnn_relu"]


@pytest.fixture(params=["sequence", "loop"])
def path(request, monkeypatch):
    """Run a test through both implementations: the whole-sequence kernel and the per-step loop."""
    strategy = fused_rnn.Strategy.SEQUENCE if request.param == "sequence" else fused_rnn.Strategy.PER_STEP
    monkeypatch.setattr(fused_rnn, "plan", lambda *args, **kwargs: strategy)
    return request.param


def force_parallel_units(monkeypatch) -> None:
    """Run the threaded LSTM kernels on a small layer: blocks of 2 units (5 units: blocks 0-1, 2-3, 4)."""
    monkeypatch.setattr(fused_rnn, "plan", lambda *args, **kwargs: fused_rnn.Strategy.PARALLEL_UNITS)
    monkeypatch.setattr(fused_rnn, "UNIT_BLOCK", 2)


def make_inputs(mode: str, T: int = 3, B: int = 2, I: int = 3, H: int = 2, bias: bool = True,
                dtype=np.float64, seed: int = 0, requires_grad: bool = True) -> list:
    """[x, h0, c0, w_ih, w_hh, b_ih, b_hh] as Tensors (c0 / biases None when not used)."""
    rng = np.random.default_rng(seed)
    G = describe(mode).num_gates * H

    def t(*shape, scale=0.6):
        return mg.tensor(rng.standard_normal(shape) * scale, dtype=dtype, requires_grad=requires_grad)

    return [t(T, B, I, scale=1.0), t(B, H), t(B, H) if mode == "lstm" else None, t(G, I), t(G, H),
            t(G) if bias else None, t(G) if bias else None]


def layer(mode, reverse=False, lengths=None):
    def fn(*tensors):
        out, h, c = fused_rnn_layer(mode, *tensors, reverse=reverse, lengths=lengths)
        return (out, h) if c is None else (out, h, c)
    return fn


# ------------------------------------------------------------------------------------------
# Gradients (float64 finite differences)
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_gradcheck(mode, bias, reverse, path):
    inputs = make_inputs(mode, bias=bias, seed=1)
    assert gradcheck(layer(mode, reverse), inputs)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_gradcheck_lengths(mode, reverse, path):
    """Variable lengths (one sequence empty, one full, one short): padded steps carry the state."""
    inputs = make_inputs(mode, T=4, B=3, seed=2)
    assert gradcheck(layer(mode, reverse, lengths=np.array([2, 4, 0])), inputs)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_gradcheck_parallel_lstm(reverse, bias, monkeypatch):
    """The threaded LSTM path: each step split across threads by blocks of hidden units."""
    calls = []
    kernel = lstm_kernels.lstm_sequence_backward_parallel
    force_parallel_units(monkeypatch)
    monkeypatch.setattr(lstm_kernels, "lstm_sequence_backward_parallel", lambda *a: calls.append(1) or kernel(*a))
    inputs = make_inputs("lstm", T=3, B=3, H=5, bias=bias, seed=5)
    assert gradcheck(layer("lstm", reverse, lengths=np.array([3, 1, 0])), inputs)
    assert calls, "the parallel kernel did not run"


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_gradcheck_row_split_lstm(reverse, bias, monkeypatch):
    """The threaded LSTM path that splits the batch: blocks of rows (3 rows: 2 and 1), no barrier per step."""
    calls = []
    kernel = lstm_kernels.lstm_sequence_backward_rows
    monkeypatch.setattr(fused_rnn, "plan", lambda *args, **kwargs: fused_rnn.Strategy.PARALLEL_ROWS)
    monkeypatch.setattr(fused_rnn, "num_threads", lambda: 2)
    monkeypatch.setattr(lstm_kernels, "lstm_sequence_backward_rows", lambda *a: calls.append(1) or kernel(*a))
    inputs = make_inputs("lstm", T=3, B=3, H=5, bias=bias, seed=6)
    assert gradcheck(layer("lstm", reverse, lengths=np.array([3, 1, 0])), inputs)
    assert calls, "the row-split kernel did not run"


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_gradcheck_only_final_state(mode, path):
    """Only h_n (and c_n) used: backward gets None for the output."""
    inputs = make_inputs(mode, seed=3)

    def fn(*tensors):
        _, h, c = fused_rnn_layer(mode, *tensors)
        return h if c is None else (h * c)

    assert gradcheck(fn, inputs)


def test_gradcheck_non_contiguous_input(path):
    """x given batch-first and transposed to time-major (a non-contiguous view), h0 broadcast."""
    x_bf = mg.tensor(np.random.default_rng(4).standard_normal((2, 3, 3)), dtype=mg.float64, requires_grad=True)
    _, _, c0, w_ih, w_hh, b_ih, b_hh = make_inputs("lstm", seed=4)
    h_row = mg.tensor(np.random.default_rng(5).standard_normal((1, 2)), dtype=mg.float64, requires_grad=True)

    def fn(xb, hr, c, wi, wh, bi, bh):
        out, h, c = fused_rnn_layer("lstm", xb.transpose(0, 1), hr.expand(2, 2), c, wi, wh, bi, bh)
        return out, h, c

    assert gradcheck(fn, [x_bf, h_row, c0, w_ih, w_hh, b_ih, b_hh])


@pytest.mark.parametrize("mode", MODES)
def test_one_step_call_takes_and_gives_rows(mode):
    """x of shape (B, I) is one step (what the cells pass): output (B, H), the same values and
    gradients as x[None] of shape (1, B, I), and gradients of the shapes given."""
    x, *rest = make_inputs(mode, T=1, seed=7)
    assert gradcheck(layer(mode), [x[0].detach().requires_grad_(), *rest])

    def run(x_in):
        out, h, c = fused_rnn_layer(mode, x_in, *rest)
        (out.sum() * 2 + h.sum() + (c.sum() if c is not None else 0)).backward()
        grads = [t.grad.numpy().copy() for t in rest if t is not None]
        for t in rest:
            if t is not None:
                t.grad = None
        return out, grads

    rows = x[0].detach().requires_grad_()
    out2, grads2 = run(rows)
    out3, grads3 = run(x.detach().requires_grad_())
    assert out2.shape == (2, 2) and rows.grad.shape == (2, 3)
    np.testing.assert_allclose(out2.detach().numpy(), out3.detach().numpy()[0])
    for g2, g3 in zip(grads2, grads3):
        np.testing.assert_allclose(g2, g3)


@pytest.mark.parametrize("mode", ["lstm", "rnn_tanh"])
@pytest.mark.parametrize("which", ["output", "h_n", "a view of the output"])
def test_output_changed_in_place_is_refused(mode, which):
    """The output and h_n show the layer's state buffer, which backward reads: changing them in place
    before backward must raise PyTorch's in-place error, not give a wrong gradient."""
    inputs = make_inputs(mode, seed=9)
    out, h, c = fused_rnn_layer(mode, *inputs)
    if which == "a view of the output":  # (outside autograd: minigrad refuses recorded in-place ops on views)
        with mg.no_grad():
            out[1].mul_(2.0)
    else:
        {"output": out, "h_n": h}[which].mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        (out.sum() + h.sum()).backward()


def test_rnn_module_output_changed_in_place_is_refused():
    rnn = mg.nn.RNN(3, 4)
    out, _ = rnn(mg.randn(5, 2, 3))
    out.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_one_step_call_second_order():
    """create_graph=True through a one-step call: the reference steps run on the (B, I) input."""
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = make_inputs("lstm", T=1, seed=8)
    rows = x[0].detach().requires_grad_()
    out, h, c = fused_rnn_layer("lstm", rows, h0, c0, w_ih, w_hh, b_ih, b_hh)
    (gx,) = mg.autograd.grad((out * out).sum() + c.sum(), rows, create_graph=True)
    assert gx.shape == rows.shape
    (ggx,) = mg.autograd.grad(gx.sum(), rows)
    ref_out, _, ref_c = fused_rnn_layer("lstm", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    assert ggx.shape == rows.shape and np.isfinite(ggx.numpy()).all()
    np.testing.assert_allclose(out.detach().numpy(), ref_out.detach().numpy()[0])
    np.testing.assert_allclose(c.detach().numpy(), ref_c.detach().numpy())


# ------------------------------------------------------------------------------------------
# Live PyTorch parity, float64
# ------------------------------------------------------------------------------------------


def _torch_layer(torch, mode, I, H, bias, inputs, bidirectional=False):
    cls = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}.get(mode)
    kw = dict(bias=bias, bidirectional=bidirectional, dtype=torch.float64)
    m = cls(I, H, **kw) if cls else torch.nn.RNN(I, H, nonlinearity=mode[4:], **kw)
    _, _, _, w_ih, w_hh, b_ih, b_hh = inputs
    suffixes = ["_l0", "_l0_reverse"] if bidirectional else ["_l0"]
    with torch.no_grad():
        for s in suffixes:
            getattr(m, "weight_ih" + s).copy_(torch.tensor(w_ih._array))
            getattr(m, "weight_hh" + s).copy_(torch.tensor(w_hh._array))
            if bias:
                getattr(m, "bias_ih" + s).copy_(torch.tensor(b_ih._array))
                getattr(m, "bias_hh" + s).copy_(torch.tensor(b_hh._array))
    return m


def _weights(torch, m, suffix):
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    return [getattr(m, n + suffix) for n in names if hasattr(m, n + suffix)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("case", ["plain", "reverse", "lengths", "reverse_lengths"])
def test_pytorch_parity(torch, mode, bias, case, path):
    T, B, I, H = 5, 3, 4, 6
    inputs = make_inputs(mode, T, B, I, H, bias=bias, seed=7)
    x, h0, c0 = inputs[:3]
    reverse = case.startswith("reverse")
    lengths = np.array([5, 2, 3]) if "lengths" in case else None
    out, h_n, c_n = fused_rnn_layer(mode, *inputs, reverse=reverse, lengths=lengths)
    rng = np.random.default_rng(8)
    w_out, w_h, w_c = rng.standard_normal(out.shape), rng.standard_normal(h_n.shape), rng.standard_normal(h_n.shape)
    loss = (out * mg.tensor(w_out)).sum() + (h_n * mg.tensor(w_h)).sum()
    if c_n is not None:
        loss = loss + (c_n * mg.tensor(w_c)).sum()
    loss.backward()

    # torch: the reverse half of a bidirectional layer is exactly our reverse=True layer
    m = _torch_layer(torch, mode, I, H, bias, inputs, bidirectional=reverse)
    k = 1 if reverse else 0
    tx = torch.tensor(x._array, requires_grad=True)
    th0 = torch.tensor(np.stack([h0._array] * (2 if reverse else 1)), requires_grad=True)
    tc0 = torch.tensor(np.stack([c0._array] * (2 if reverse else 1)), requires_grad=True) if c0 is not None else None
    seq = tx if lengths is None else torch.nn.utils.rnn.pack_padded_sequence(tx, torch.tensor(lengths),
                                                                              enforce_sorted=False)
    res = m(seq, (th0, tc0)) if mode == "lstm" else m(seq, th0)
    t_out = res[0] if lengths is None else torch.nn.utils.rnn.pad_packed_sequence(res[0], total_length=T)[0]
    t_out = t_out[..., k * H:(k + 1) * H]
    t_h, t_c = (res[1][0][k], res[1][1][k]) if mode == "lstm" else (res[1][k], None)
    t_loss = (t_out * torch.tensor(w_out)).sum() + (t_h * torch.tensor(w_h)).sum()
    if t_c is not None:
        t_loss = t_loss + (t_c * torch.tensor(w_c)).sum()
    t_loss.backward()

    tol = dict(rtol=0, atol=1e-8)
    np.testing.assert_allclose(out._array, t_out.detach().numpy(), **tol)
    np.testing.assert_allclose(h_n._array, t_h.detach().numpy(), **tol)
    if c_n is not None:
        np.testing.assert_allclose(c_n._array, t_c.detach().numpy(), **tol)
        np.testing.assert_allclose(c0.grad._array, tc0.grad[k].numpy(), **tol)
    np.testing.assert_allclose(x.grad._array, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(h0.grad._array, th0.grad[k].numpy(), **tol)
    ours = [t for t in inputs[3:] if t is not None]
    for a, b in zip(ours, _weights(torch, m, "_l0_reverse" if reverse else "_l0")):
        np.testing.assert_allclose(a.grad._array, b.grad.numpy(), **tol)


def test_float32_matches_float64(path):
    for mode in MODES:
        x64 = make_inputs(mode, T=6, B=3, I=5, H=4, seed=9)
        x32 = [None if t is None else mg.tensor(t._array, dtype=mg.float32, requires_grad=True) for t in x64]
        outs = [fused_rnn_layer(mode, *xs, lengths=np.array([6, 1, 4])) for xs in (x64, x32)]
        for a, b in zip(outs[0], outs[1]):
            if a is not None:
                assert b.dtype == np.float32
                np.testing.assert_allclose(b._array, a._array, rtol=1e-5, atol=1e-6)
        for xs in (x64, x32):
            fused_rnn_layer(mode, *xs)[0].sum().backward()
        for a, b in zip(x64, x32):
            if a is not None:
                np.testing.assert_allclose(b.grad._array, a.grad._array, rtol=1e-4, atol=1e-5)


def test_no_grad_builds_no_node():
    inputs = make_inputs("lstm")
    with mg.no_grad():
        out, h, c = fused_rnn_layer("lstm", *inputs)
    assert out.grad_fn is None and not out.requires_grad
    ref, _, _ = fused_rnn_layer("lstm", *inputs)
    np.testing.assert_array_equal(out._array, ref._array)


# ------------------------------------------------------------------------------------------
# One node per layer, per-step structure for drawing and BPTT inspection
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_step_inspection(mode, path):
    T, B, I, H = 4, 2, 3, 5
    inputs = make_inputs(mode, T, B, I, H, seed=11)
    with mg.scope(mode):
        out, h_n, c_n = fused_rnn_layer(mode, *inputs, layer_scope="l0")
    node = out.grad_fn
    assert isinstance(node, FusedRNNLayer) and h_n.grad_fn is node
    assert node.name == f"{mode}_layer" and node.mode == mode
    assert node.layer_scope == f"{mode}/l0" and node.scope == f"{mode}/l0"
    assert node.num_steps == T and node.hidden_size == H and node.reverse is False
    assert node.step_scope(2) == f"{mode}/l0/t3"  # step index 2 is t = 3 (time counts t = 1..T)

    expected = {"x_t", "h_prev", "h"} | {"lstm": {"c_prev", "i", "f", "g", "o", "c"},
                                          "gru": {"r", "z", "n", "hn"}}.get(mode, set())
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = (None if t is None else t._array for t in inputs)
    for t in range(T):
        v = node.step_values(t)
        assert set(v) == expected
        np.testing.assert_array_equal(v["x_t"], x[t])
        np.testing.assert_array_equal(v["h"], out._array[t])
        np.testing.assert_array_equal(v["h_prev"], h0 if t == 0 else out._array[t - 1])
        node.step_values(t)["h"][0, 0] += 1.0  # a copy: inspection cannot corrupt backward
        np.testing.assert_array_equal(node.step_values(t)["h"], out._array[t])
        pre_x = v["x_t"] @ w_ih.T + b_ih
        pre_h = v["h_prev"] @ w_hh.T + b_hh
        if mode == "lstm":
            gates = pre_x + pre_h
            sig = lambda a: 1 / (1 + np.exp(-a))  # noqa: E731
            np.testing.assert_allclose(v["i"], sig(gates[:, :H]), atol=1e-12)
            np.testing.assert_allclose(v["g"], np.tanh(gates[:, 2 * H:3 * H]), atol=1e-12)
            np.testing.assert_allclose(v["c"], v["f"] * v["c_prev"] + v["i"] * v["g"], atol=1e-12)
            np.testing.assert_allclose(v["h"], v["o"] * np.tanh(v["c"]), atol=1e-12)
        elif mode == "gru":
            np.testing.assert_allclose(v["hn"], pre_h[:, 2 * H:], atol=1e-12)
            np.testing.assert_allclose(v["n"], np.tanh(pre_x[:, 2 * H:] + v["r"] * v["hn"]), atol=1e-12)
            np.testing.assert_allclose(v["h"], (1 - v["z"]) * v["n"] + v["z"] * v["h_prev"], atol=1e-12)
    assert node.step_grad_h(0) is None  # no backward yet


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
def test_step_grad_h_is_total_gradient(mode, reverse, path):
    """dL/dh_t = grad of output t + everything that flows back from later steps.

    Checked by splitting the sequence at step t: the layer over the remaining steps, started
    from (h_t, c_t), gives dL/dh_t as the gradient of its initial state.
    """
    T, B, I, H = 5, 2, 3, 4
    inputs = make_inputs(mode, T, B, I, H, seed=12)
    rng = np.random.default_rng(13)
    w_out, w_h = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))
    out, h_n, c_n = fused_rnn_layer(mode, *inputs, reverse=reverse)
    loss = (out * mg.tensor(w_out)).sum() + (h_n * mg.tensor(w_h)).sum()
    loss.backward(retain_graph=True)
    node = out.grad_fn
    for t in range(T):
        rest = range(t + 1, T) if not reverse else range(0, t)  # steps still to come after t
        v = node.step_values(t)
        expected = w_out[t].copy()
        if len(rest):
            h_t = mg.tensor(v["h"], requires_grad=True)
            c_t = mg.tensor(v["c"], requires_grad=True) if mode == "lstm" else None
            x_rest = mg.tensor(inputs[0]._array[rest.start:rest.stop])
            o2, h2, _ = fused_rnn_layer(mode, x_rest, h_t, c_t, *inputs[3:], reverse=reverse)
            ((o2 * mg.tensor(w_out[rest.start:rest.stop])).sum() + (h2 * mg.tensor(w_h)).sum()).backward()
            expected += h_t.grad._array
        else:
            expected += w_h
        np.testing.assert_allclose(node.step_grad_h(t), expected, atol=1e-12)


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_lstm_backward_in_place_and_retained_agree(parallel, path, monkeypatch):
    """Without retain_graph the LSTM backward overwrites its saved gates with their gradients; with
    it, it works on a copy. Same gradients either way, and a retained graph keeps its gates."""
    if parallel:
        force_parallel_units(monkeypatch)
    grads = {}
    for retain in (True, False):
        inputs = make_inputs("lstm", T=4, B=3, H=5, seed=21)
        out, h_n, c_n = fused_rnn_layer("lstm", *inputs)
        node = out.grad_fn
        before = [node.step_values(t) for t in range(4)]
        loss = (out * out).sum() + (h_n * c_n).sum()
        loss.backward(retain_graph=retain)
        grads[retain] = [t.grad._array.copy() for t in inputs]
        if retain:
            after = [node.step_values(t) for t in range(4)]
            for b, a in zip(before, after):
                for k in b:
                    np.testing.assert_array_equal(a[k], b[k], err_msg=f"step value {k} changed by backward")
            loss.backward()  # the second backward sees the same gates: every gradient doubles
            for t, g in zip(inputs, grads[True]):
                np.testing.assert_allclose(t.grad._array, 2 * g, rtol=1e-12)
    for g_retained, g_in_place in zip(grads[True], grads[False]):
        np.testing.assert_allclose(g_in_place, g_retained, rtol=1e-12, atol=1e-14)


def test_parallel_lstm_without_h0_gradient(monkeypatch):
    """h0 needing no gradient (the usual zero state) skips the kernel's last product: every
    other gradient is unchanged."""
    force_parallel_units(monkeypatch)
    grads = {}
    for h0_grad in (True, False):
        inputs = make_inputs("lstm", T=4, B=3, H=5, seed=23)
        inputs[1].requires_grad = h0_grad
        out, h_n, c_n = fused_rnn_layer("lstm", *inputs)
        ((out * out).sum() + (h_n * c_n).sum()).backward()
        grads[h0_grad] = [None if t.grad is None else t.grad._array.copy() for t in inputs]
    assert grads[False][1] is None and grads[True][1] is not None
    for k in (0, 2, 3, 4, 5, 6):
        np.testing.assert_allclose(grads[False][k], grads[True][k], rtol=1e-12, atol=1e-14)


def test_lstm_backward_failing_after_the_kernel_cannot_be_repeated(monkeypatch):
    """A backward that fails after the kernels overwrote the gates (say, out of memory in a weight
    gradient) must not let a second backward run on the overwritten gates: a clear error instead."""
    inputs = make_inputs("lstm", seed=22)
    out, _, _ = fused_rnn_layer("lstm", *inputs)

    def failing_matmul(*args, **kwargs):
        raise MemoryError("simulated")

    monkeypatch.setattr(fused_rnn.np, "matmul", failing_matmul)
    monkeypatch.setattr(fused_rnn.np, "dot", failing_matmul)  # products without an `out` (blas_matmul2d)
    with pytest.raises(MemoryError):
        out.backward(mg.ones(*out.shape, dtype=mg.float64))
    monkeypatch.undo()
    with pytest.raises(RuntimeError, match="overwrote the saved gates.*retain_graph=True"):
        out.backward(mg.ones(*out.shape, dtype=mg.float64))


def test_release_frees_saved_values():
    inputs = make_inputs("gru")
    out, _, _ = fused_rnn_layer("gru", *inputs)
    node = out.grad_fn
    out.sum().backward()
    assert node.released and node.step_grad_h(0) is None
    with pytest.raises(RuntimeError, match="retain_graph"):
        node.step_values(0)
    with pytest.raises(RuntimeError, match="retain_graph"):
        out.sum().backward()


def test_lengths_semantics():
    """Padded steps output 0 and carry the state; h_n is each sequence's state after its own last step."""
    inputs = make_inputs("lstm", T=4, B=3, seed=14)
    lengths = np.array([4, 1, 2])
    out, h_n, c_n = fused_rnn_layer("lstm", *inputs, lengths=lengths)
    for b, n in enumerate(lengths):
        solo = [None if t is None else t for t in inputs]
        x = mg.tensor(inputs[0]._array[:n, b:b + 1])
        o1, h1, c1 = fused_rnn_layer("lstm", x, mg.tensor(inputs[1]._array[b:b + 1]),
                                     mg.tensor(inputs[2]._array[b:b + 1]), *solo[3:])
        np.testing.assert_allclose(out._array[:n, b], o1._array[:, 0], atol=1e-14)
        assert (out._array[n:, b] == 0).all()
        np.testing.assert_allclose(h_n._array[b], h1._array[0], atol=1e-14)
        np.testing.assert_allclose(c_n._array[b], c1._array[0], atol=1e-14)


def test_paths_agree(monkeypatch):
    """Sequence kernel and step loop give the same numbers (float64)."""
    for mode in MODES:
        inputs = make_inputs(mode, T=6, B=3, I=2, H=5, seed=15)
        results = []
        for strategy in (fused_rnn.Strategy.PER_STEP, fused_rnn.Strategy.SEQUENCE):
            monkeypatch.setattr(fused_rnn, "plan", lambda *args, strategy=strategy, **kwargs: strategy)
            for t in inputs:
                if t is not None:
                    t.grad = None
            out, h, _ = fused_rnn_layer(mode, *inputs, reverse=True, lengths=np.array([6, 3, 1]))
            (out.sum() + h.sum()).backward()
            results.append([out._array.copy()] + [t.grad._array.copy() for t in inputs if t is not None])
        for a, b in zip(*results):
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------------------------------
# Clear errors
# ------------------------------------------------------------------------------------------


def test_errors():
    x, h0, c0, w_ih, w_hh, b_ih, b_hh = make_inputs("lstm")
    with pytest.raises(ValueError, match="mode"):
        fused_rnn_layer("lstmx", x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(mg.ShapeError, match="time-major"):
        fused_rnn_layer("lstm", x[0, 0], h0, c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(mg.ShapeError, match="weight_ih"):
        fused_rnn_layer("lstm", x, h0, c0, w_hh, w_hh, b_ih, b_hh)
    with pytest.raises(mg.ShapeError, match="h0"):
        fused_rnn_layer("lstm", x, h0[:1], c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match="c0 is required"):
        fused_rnn_layer("lstm", x, h0, None, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(mg.ShapeError, match="weight_hh"):
        fused_rnn_layer("gru", x, h0, None, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(TypeError, match="dtype"):
        fused_rnn_layer("lstm", x.float(), h0, c0, w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(mg.ShapeError, match="lengths"):
        fused_rnn_layer("lstm", x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths=np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="lengths"):
        fused_rnn_layer("lstm", x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths=np.array([1, 9]))


# ------------------------------------------------------------------------------------------
# Reused internal buffers
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_reused_buffers_never_show_in_results(mode, path):
    """After backward the internal buffers go back to a pool; earlier outputs must not change."""
    first = make_inputs(mode, T=4, B=3, seed=16)
    out1, h1, c1 = fused_rnn_layer(mode, *first)
    kept = [t._array.copy() for t in (out1, h1, c1) if t is not None]
    (out1.sum() + h1.sum()).backward()
    grads = [t.grad._array.copy() for t in first if t is not None]
    for seed in (17, 18):  # the same shapes again: served from the pool
        again = make_inputs(mode, T=4, B=3, seed=seed)
        out2, h2, _ = fused_rnn_layer(mode, *again)
        (out2.sum() + h2.sum()).backward()
    assert all(np.array_equal(t._array, k) for t, k in zip([t for t in (out1, h1, c1) if t is not None], kept))
    for t in first:
        if t is not None:
            t.grad = None
    out3, h3, _ = fused_rnn_layer(mode, *first)
    (out3.sum() + h3.sum()).backward()
    np.testing.assert_array_equal(out3._array, kept[0])
    for t, g in zip([t for t in first if t is not None], grads):
        np.testing.assert_array_equal(t.grad._array, g)


def test_layer_buffers_are_reused_once_the_graph_is_freed():
    """The second train step takes the first step's internal buffers again (``empty_aligned`` recycles)
    and computes the same result; while a graph is alive its buffers are never handed out."""
    inputs = make_inputs("lstm", seed=5, T=12, B=16, I=8, H=64)
    out1, _, _ = fused_rnn_layer("lstm", *inputs)
    kept = out1._array.copy()
    out2, _, _ = fused_rnn_layer("lstm", *inputs)  # graph 1 is alive: its buffers are in use
    assert not np.shares_memory(out1._array, out2._array)
    np.testing.assert_array_equal(out2._array, kept)
    # Where the recycled buffers lie (addresses only: holding the buffers would keep them in use).
    recycled = [(buffer.ctypes.data, buffer.nbytes) for entries in _allocator._recycler.sizes.values()
                for buffer, _ in entries]
    del out1  # nothing refers to step 1's buffers any more
    out3, _, _ = fused_rnn_layer("lstm", *inputs)
    np.testing.assert_array_equal(out3._array, kept)
    address = out3._array.__array_interface__["data"][0]
    assert any(start <= address < start + size for start, size in recycled)  # an earlier step's buffer, not new
    assert not np.shares_memory(out3._array, out2._array)  # graph 2 is alive: its buffers stay its own


@pytest.mark.parametrize("mode", ["lstm", "rnn_tanh"])
def test_bias_gradients_are_separate_arrays(mode):
    """b_ih and b_hh get equal gradients (LSTM, RNN) but not one shared array: a hook that edits
    one in place leaves the other alone."""
    inputs = make_inputs(mode, seed=24)
    b_ih, b_hh = inputs[5], inputs[6]

    def double_in_place(grad):
        grad._array *= 2  # a hook that edits the gradient it is given

    b_ih.register_hook(double_in_place)
    out, _, _ = fused_rnn_layer(mode, *inputs)
    out.sum().backward()
    np.testing.assert_allclose(b_ih.grad._array, 2 * b_hh.grad._array, rtol=1e-12)


@pytest.mark.parametrize("hidden, batch", [(32, 16), (50, 64), (64, 16), (100, 20), (127, 33)])
def test_row_split_below_two_unit_blocks_matches_pytorch(hidden, batch):
    """plan() sends float32 LSTMs of 32-127 units with enough rows to PARALLEL_ROWS (on a CPU with
    the wide tile and two threads); whatever it picks here, outputs and gradients match PyTorch."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(hidden)
    x = rng.standard_normal((12, batch, 30)).astype(np.float32)
    ours = mg.nn.LSTM(30, hidden, num_layers=2, bidirectional=True)
    theirs = torch.nn.LSTM(30, hidden, num_layers=2, bidirectional=True)
    with torch.no_grad():
        for p, q in zip(ours.parameters(), theirs.parameters()):
            q.copy_(torch.from_numpy(p.detach().numpy()))
    xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    om, ot = ours(xm)[0], theirs(xt)[0]
    om.square().sum().backward()
    ot.square().sum().backward()
    np.testing.assert_allclose(om.detach().numpy(), ot.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xm.grad.numpy(), xt.grad.numpy(), rtol=1e-3, atol=1e-4)
    for p, q in zip(ours.parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-3, atol=1e-3)
