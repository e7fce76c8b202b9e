"""The fused projected LSTM layer (minigrad/nn/fused_projected_lstm.py): gradients, the reference steps, errors.

PyTorch parity of ``LSTM(proj_size=...)`` on the fused path is in test_recurrent_parity.py (the
``proj_*`` cases, from fixtures and live).
"""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad.autograd import gradcheck
from minigrad.errors import ShapeError
from minigrad.nn.fused_projected_lstm import FusedProjectedLSTMLayer, fused_projected_lstm_layer
from minigrad.nn.recurrent_shared import reference_rnn_layer
from minigrad.nn.utils.rnn import pack_padded_sequence


def make_inputs(T: int = 3, B: int = 2, I: int = 3, H: int = 4, P: int = 2, bias: bool = True, seed: int = 0,
                non_contiguous: bool = False) -> list:
    """[x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr] as float64 Tensors that require grad (biases None without bias).

    ``non_contiguous``: x and W_hr are transposed views, as a user's permuted batch or tied weight gives them.
    """
    rng = np.random.default_rng(seed)

    def t(*shape, scale=0.6):
        return mg.tensor(rng.standard_normal(shape) * scale, dtype=mg.float64, requires_grad=True)

    x = t(I, B, T, scale=1.0).permute(2, 1, 0) if non_contiguous else t(T, B, I, scale=1.0)
    w_hr = t(H, P).T if non_contiguous else t(P, H)
    return [x, t(B, P), t(B, H), t(4 * H, I), t(4 * H, P), t(4 * H) if bias else None, t(4 * H) if bias else None,
            w_hr]


def fused(reverse=False):
    return lambda *ts: fused_projected_lstm_layer(*ts, reverse=reverse)


def reference(reverse=False):
    return lambda *ts: reference_rnn_layer("lstm", *ts[:7], reverse=reverse, weight_hr=ts[7])


def leaves(inputs):
    return [t for t in inputs if t is not None and t.grad_fn is None]


def node_names(root: mg.Tensor) -> set[str]:
    """The class names of every node ``root`` was computed through (an explicit stack, no recursion)."""
    names, stack, seen = set(), [root.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen:
            continue
        seen.add(id(fn))
        names.add(type(fn).__name__)
        stack += [e[0] if type(e) is tuple else e for e in fn.next_functions if not isinstance(e, mg.Tensor)]
    return names


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("non_contiguous", [False, True], ids=["contiguous", "views"])
def test_gradcheck(reverse, bias, non_contiguous):
    inputs = make_inputs(bias=bias, seed=1, non_contiguous=non_contiguous)
    assert gradcheck(fused(reverse), inputs)


@pytest.mark.parametrize("reverse", [False, True], ids=["fwd", "rev"])
@pytest.mark.parametrize("shape", [(1, 1, 2, 3, 1), (5, 3, 4, 6, 2), (7, 2, 1, 5, 4)], ids=str)
def test_equals_the_reference_steps(reverse, shape):
    """Outputs and every gradient as the textbook steps (lstm_step with W_hr), in float64."""
    T, B, I, H, P = shape
    inputs = make_inputs(T, B, I, H, P, seed=3)
    results = []
    for run in (fused(reverse), reference(reverse)):
        for t in leaves(inputs):
            t.grad = None
        out, h_n, c_n = run(*inputs)
        ((out * out).sum() + (3 * h_n).sum() + (c_n * c_n).sum()).backward()
        results.append([v.detach().numpy() for v in (out, h_n, c_n)] + [t.grad.numpy() for t in leaves(inputs)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_module_runs_one_node_per_layer_and_direction(batch_first, bidirectional):
    mg.manual_seed(0)
    m = mg.nn.LSTM(4, 6, num_layers=2, proj_size=3, batch_first=batch_first, bidirectional=bidirectional)
    out, (h, c) = m(mg.randn(5, 7, 4))
    names = node_names(out)
    assert "FusedProjectedLSTMLayer" in names
    assert "Sigmoid" not in names  # no textbook steps on the fused path
    assert out.shape[-1] == 3 * (2 if bidirectional else 1) and h.shape[-1] == 3 and c.shape[-1] == 6


def test_module_matches_the_reference_module_in_float32():
    mg.manual_seed(1)
    f = mg.nn.LSTM(8, 16, num_layers=2, proj_size=5, bidirectional=True)
    r = mg.nn.LSTM(8, 16, num_layers=2, proj_size=5, bidirectional=True, impl="reference")
    r.load_state_dict(f.state_dict())
    x = mg.randn(9, 4, 8)
    grads = []
    for m in (f, r):
        m.zero_grad()
        out, (h, c) = m(x)
        (out.sum() + h.sum() + c.sum()).backward()
        grads.append((out.detach().numpy(), [p.grad.numpy() for p in m.parameters()]))
    np.testing.assert_allclose(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-6)
    for a, b in zip(grads[0][1], grads[1][1]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_packed_batch_takes_the_reference_steps():
    """Sequences of different lengths carry their state past their end: the reference steps do that."""
    mg.manual_seed(2)
    m = mg.nn.LSTM(3, 5, proj_size=2)
    packed = pack_padded_sequence(mg.randn(4, 3, 3), [4, 2, 1])
    out, (h, _) = m(packed)
    assert "FusedProjectedLSTMLayer" not in node_names(h) and "Sigmoid" in node_names(h)  # the textbook steps
    ref = mg.nn.LSTM(3, 5, proj_size=2, impl="reference")
    ref.load_state_dict(m.state_dict())
    np.testing.assert_allclose(h.detach().numpy(), ref(packed)[1][0].detach().numpy(), rtol=1e-6)


def test_second_order_gradients_as_the_reference():
    """create_graph=True: the node recomputes its steps as Tensor ops, so gradients can be differentiated."""
    inputs = make_inputs(T=3, B=2, I=2, H=3, P=2, seed=4)
    second = []
    for run in (fused(), reference()):
        out, h_n, c_n = run(*inputs)
        w_hr = inputs[7]
        (g,) = mg.autograd.grad((out ** 2).sum() + c_n.sum(), [w_hr], create_graph=True)
        (gg,) = mg.autograd.grad((g ** 2).sum(), [inputs[4]])
        second.append((g.detach().numpy(), gg.numpy()))
    for a, b in zip(*second):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_backward_twice_needs_retain_graph():
    inputs = make_inputs(seed=5)
    out, h_n, c_n = fused_projected_lstm_layer(*inputs)
    loss = out.sum() + c_n.sum()
    loss.backward(retain_graph=True)
    first = inputs[7].grad.numpy().copy()
    inputs[7].grad = None
    loss.backward()
    np.testing.assert_allclose(inputs[7].grad.numpy(), first, rtol=1e-12)  # the kept gates were not overwritten
    with pytest.raises(RuntimeError, match="second time"):
        loss.backward()


def test_output_changed_in_place_is_caught():
    inputs = make_inputs(seed=6)
    out, _, _ = fused_projected_lstm_layer(*inputs)
    y = out.sum()
    with mg.no_grad():
        out.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_shapes_that_do_not_fit_name_the_argument():
    inputs = make_inputs(H=4, P=2)
    inputs[1] = mg.zeros(2, 4)  # h0 of size H instead of P
    with pytest.raises(ShapeError, match=r"fused_projected_lstm_layer: h0 must have shape \(2, 2\)"):
        fused_projected_lstm_layer(*inputs)


def test_the_node_is_the_projected_layer():
    inputs = make_inputs()
    out, h_n, c_n = fused_projected_lstm_layer(*inputs)
    assert isinstance(out.grad_fn, FusedProjectedLSTMLayer) and h_n.grad_fn is out.grad_fn is c_n.grad_fn
